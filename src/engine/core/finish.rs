//! What a finished run sets in motion: the journal line, the seed's log words, health checks,
//! retries of unreachable hosts, skipping what waited on a failure, and the failure-rate brake.

use super::{Core, ENGINE_TARGET, Effect, MIN_FINISHED_FOR_FAIL_RATE, backoff, log, worker_target};
use crate::engine::journal::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Purpose, Recap};
use crate::engine::{EngineEvent, FinishedRun, RanOn, RunReport};
use chrono::{DateTime, Utc};
use log::Level;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) fn finished_record(
    item: &Item,
    outcome: &Outcome,
    recap: Option<Recap>,
    duration: Option<Duration>,
    log: Option<PathBuf>,
    retried: bool,
    now: DateTime<Utc>,
) -> Record {
    Record::Finished {
        at: now,
        id: item.id,
        server: item.server.clone(),
        action: item.action,
        outcome: outcome.clone(),
        recap,
        duration_ms: duration.map(|d| d.as_millis() as u64),
        log,
        retried,
    }
}

impl Core {
    pub(super) fn finish(
        &mut self,
        id: ItemId,
        report: RunReport,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(run) = self.runs.remove(&id) else {
            return;
        };
        self.pool.release(run.slot);
        self.nodes.release(run.node);
        let moved = match &run.node_lost {
            Some((reason, before_start)) => {
                self.lose_node(run.node, reason, fx);
                if !*before_start {
                    self.settle(&run, now, fx);
                }
                self.may_move_off_node(id, *before_start)
            }
            None => false,
        };
        let node_lost = run.node_lost.map(|(reason, _)| reason);
        let item = run.item;
        let outcome = report.outcome;
        let worker = worker_target(run.slot);
        let slot = run.slot;
        let retried = moved || self.will_retry(&item, &outcome);
        if outcome.is_success() {
            log(
                fx,
                &worker,
                Level::Info,
                format!("Worker {slot} completed: {}", item.describe()),
            );
        } else {
            let detail = match (&outcome, &node_lost) {
                // Cut by its node, not by fleetdeck: say which and how.
                (Outcome::Interrupted, Some(reason)) => format!(" (interrupted: {reason})"),
                _ => failure_detail(&outcome),
            };
            let verb = match outcome {
                Outcome::Cancelled { .. } => "cancelled",
                _ => "failed",
            };
            log(
                fx,
                &worker,
                Level::Error,
                format!("Worker {slot} {verb}: {}{detail}", item.describe()),
            );
        }
        fx.push(Effect::Journal(finished_record(
            &item,
            &outcome,
            report.recap,
            Some(report.duration),
            report.log_path.clone(),
            retried,
            now,
        )));
        fx.push(Effect::Emit(EngineEvent::Finished(FinishedRun {
            item: item.clone(),
            ran: Some(RanOn {
                slot,
                started_at: run.started_at,
            }),
            outcome: outcome.clone(),
            recap: report.recap,
            duration: report.duration,
            log_path: report.log_path,
            retried,
        })));
        if slot > self.pool.capacity() {
            log(fx, &worker, Level::Info, format!("Worker {slot} stopped"));
        }

        // An attempt that will be retried is not a verdict: it counts neither as finished nor
        // as failed for max_fail_percentage, and "retry" leaves it to the automatic one.
        if !retried {
            self.finished += 1;
            if outcome.is_failure() {
                self.failed += 1;
            }
            if !self.in_rollout(&item) {
                self.braked.0 += 1;
                self.braked.1 += u32::from(outcome.is_failure());
            }
        }
        // What "retry" requeues follows the server's latest run, as the screen shows it.
        let key = (item.server.clone(), item.action);
        if outcome.is_success() {
            self.succeeded.insert(id);
        }
        if !retried {
            if outcome.went_wrong() {
                self.retryable.insert(key, item.clone());
            } else {
                self.retryable.remove(&key);
            }
        }

        if moved {
            self.move_off_node(&item, now, fx);
        } else {
            self.follow_up(&item, &outcome, now, fx);
        }
        if !retried {
            self.rollout_item_ended(&item, &outcome, true, now, fx);
        }
        self.rollouts_dirty = true;
        self.check_fail_rate(now, fx);
    }

    /// Whether `follow_up` will queue another attempt of `item` after `outcome`.
    fn will_retry(&self, item: &Item, outcome: &Outcome) -> bool {
        match (&item.purpose, outcome) {
            (_, Outcome::Succeeded | Outcome::Cancelled { .. } | Outcome::Interrupted) => false,
            (Purpose::HealthCheck { .. }, _) => item.attempt < self.policy.health_check_retries,
            (Purpose::Requested, Outcome::Unreachable { .. }) => {
                self.policy.auto_retry_enabled && item.attempt <= self.policy.max_retries
            }
            (Purpose::Requested, _) => false,
        }
    }

    fn follow_up(
        &mut self,
        item: &Item,
        outcome: &Outcome,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        if let Purpose::HealthCheck { deploy } = item.purpose {
            self.judge_health(item, deploy, outcome, now, fx);
            return;
        }
        match outcome {
            Outcome::Succeeded => {
                let chain_checks = self
                    .queue
                    .dependents_of(item.id)
                    .any(|pending| pending.action == Action::Check);
                if item.action == Action::Deploy
                    && self.policy.health_check_enabled
                    && !item.check_mode
                    && !chain_checks
                {
                    let mut check = self.new_item(&item.server, Action::Check, now);
                    check.priority = item.priority;
                    check.tags = self.policy.default_tags(Action::Check);
                    check.purpose = Purpose::HealthCheck { deploy: item.id };
                    self.push(check, now, fx);
                }
            }
            Outcome::Unreachable { .. }
                if self.policy.auto_retry_enabled && item.attempt <= self.policy.max_retries =>
            {
                self.requeue(item, now, fx);
            }
            Outcome::Cancelled { .. } => {
                self.skip_dependents(item.id, super::rollouts::UPSTREAM_CANCELLED, now, fx)
            }
            _ => self.skip_dependents(item.id, "upstream failed", now, fx),
        }
    }

    fn judge_health(
        &mut self,
        check: &Item,
        deploy: ItemId,
        outcome: &Outcome,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let server = check.server.clone();
        match outcome {
            Outcome::Succeeded => {
                fx.push(Effect::Journal(Record::Health {
                    at: now,
                    deploy,
                    server: server.clone(),
                    healthy: true,
                }));
                fx.push(Effect::Emit(EngineEvent::Health {
                    deploy,
                    server: server.clone(),
                    healthy: true,
                }));
                log(
                    fx,
                    ENGINE_TARGET,
                    Level::Info,
                    format!("Health check passed for server {server}"),
                );
            }
            // Stopped, or cut by what ran it (fleetdeck, the warm runner, its node): no verdict
            // on the deploy, and never run again by itself.
            Outcome::Cancelled { .. } | Outcome::Interrupted => {}
            _ if check.attempt < self.policy.health_check_retries => {
                let msg = format!(
                    "Health check {} of {} failed for server {server}; retrying",
                    check.attempt, self.policy.health_check_retries
                );
                log(fx, ENGINE_TARGET, Level::Warn, msg);
                self.requeue(check, now, fx);
            }
            _ => {
                fx.push(Effect::Journal(Record::Health {
                    at: now,
                    deploy,
                    server: server.clone(),
                    healthy: false,
                }));
                fx.push(Effect::Emit(EngineEvent::Health {
                    deploy,
                    server: server.clone(),
                    healthy: false,
                }));
                log(
                    fx,
                    ENGINE_TARGET,
                    Level::Error,
                    format!("deploy for server {server} is unhealthy: {outcome}"),
                );
            }
        }
    }

    /// Tries `item` again after a backoff; whatever waited for it now waits for the new try.
    fn requeue(&mut self, item: &Item, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let delay = backoff(item.attempt);
        let mut again = self.new_item(&item.server, item.action, now);
        again.priority = item.priority;
        again.tags = item.tags.clone();
        again.check_mode = item.check_mode;
        again.purpose = item.purpose.clone();
        again.attempt = item.attempt + 1;
        again.not_before = Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
        let msg = format!(
            "Requeued {} (attempt {}) in {}",
            item.describe(),
            again.attempt,
            humantime::format_duration(delay)
        );
        log(fx, ENGINE_TARGET, Level::Info, msg);
        let new_id = self.push(again, now, fx);
        self.retarget(item.id, new_id, now, fx);
    }

    /// Whatever waited for `old` (chain links, its rollout) now waits for `new`, its next try.
    pub(super) fn retarget(
        &mut self,
        old: ItemId,
        new: ItemId,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        self.rollout_retarget(old, new, now, fx);
        if self.queue.repoint_dependents(old, new) {
            fx.push(Effect::Journal(Record::Repointed { at: now, old, new }));
        }
    }

    fn check_fail_rate(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let Some(limit) = self.policy.max_fail_percentage else {
            return;
        };
        let (finished, failed) = self.braked;
        if finished < MIN_FINISHED_FOR_FAIL_RATE {
            return;
        }
        let rate = f64::from(failed) * 100.0 / f64::from(finished);
        if rate > limit {
            let reason = format!(
                "{} of {} finished runs failed ({rate:.0}% > max_fail_percentage {limit}%)",
                failed, finished
            );
            self.pause(reason, now, fx);
        }
    }
}

pub(super) fn failure_detail(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { rc, task, .. } => {
            let mut parts = Vec::new();
            if let Some(rc) = rc {
                parts.push(format!("rc {rc}"));
            }
            if let Some(task) = task {
                parts.push(format!("task \"{task}\""));
            }
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            }
        }
        other => format!(" ({other})"),
    }
}
