//! What `fleetdeck status` prints: each server's latest outcome per action, the runs cut by a
//! crash or running now (by name, with their logs), the logs of what is failing, and the same
//! facts as JSON. One `Report` feeds the table, the lists, the JSON and `--exit-code`, so they
//! cannot disagree.

use super::rollouts::{self, RolloutFacts};
use super::{FleetStatus, LastRun, Starts, age, derive, starts};
use crate::engine::Policy;
use crate::engine::core::Core;
use crate::engine::journal::{self, Record, Replay};
use crate::engine::model::{Action, ItemId, Outcome};
use crate::project::Environment;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt::Write;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A run named in a list: one cut by a crash, or one running now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedRun {
    pub server: String,
    pub action: Action,
    pub id: ItemId,
    pub check_mode: bool,
    /// When it started, as journaled.
    pub started: Option<DateTime<Utc>>,
    /// The execution node it ran on, when config.yml names nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub log: Option<PathBuf>,
}

/// A failing latest run, for the JSON list scripts read.
#[derive(Serialize)]
struct Failing<'a> {
    server: &'a str,
    action: Action,
    #[serde(flatten)]
    last: &'a LastRun,
}

/// Held items listed in the text; `--json` lists all.
const HELD_LISTED: usize = 20;

pub struct Report {
    pub environment: String,
    /// The table's rows: the inventory's servers, then any only the journal knows.
    pub servers: Vec<String>,
    /// How many of `servers` come from the inventory (`None`: it could not be read, so
    /// nothing is said about who is in it).
    pub in_inventory: Option<usize>,
    /// Each (server, action)'s latest run, runs cut by a crash included.
    pub status: FleetStatus,
    /// Started and not finished while another fleetdeck holds the environment.
    pub running: Vec<NamedRun>,
    /// The pid of the fleetdeck holding the environment now.
    pub holder: Option<u32>,
    /// Queued and never started: "deploy on web-01 (#12)", in enqueue order.
    pub queued: Vec<String>,
    /// Rollouts still under way or stopped, with the deploys they hold.
    pub rollouts: Vec<RolloutFacts>,
    /// When and on which node each run started, by id: the journal's `started` records.
    starts: Starts,
}

impl Report {
    /// `inventory`: its servers, `None` when it could not be read; `starts`: when and where
    /// each run started (the journal's `started` records); `holder`: the fleetdeck holding the
    /// environment now, if any; `policy`: config.yml's rules, which the next start restores
    /// held work with.
    pub fn new(
        environment: &str,
        inventory: Option<Vec<String>>,
        mut replay: Replay,
        starts: Starts,
        holder: Option<u32>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Report {
        let started = &starts.at;
        let unfinished = replay.interrupted();
        // With nobody holding the environment, runs in flight were cut: the rollouts are shown
        // as the next start will find them.
        let mut live = match holder {
            Some(_) => replay.live_rollouts(),
            None => replay.rollouts_after_stop(),
        };
        let mut running = Vec::new();
        if holder.is_some() {
            // Another fleetdeck owns the journal: what it started and has not finished, it is
            // running now.
            running = unfinished
                .iter()
                .map(|item| NamedRun {
                    server: item.server.clone(),
                    action: item.action,
                    id: item.id,
                    check_mode: item.check_mode,
                    started: started.get(&item.id).copied(),
                    node: starts.node.get(&item.id).cloned(),
                    log: replay.log_of(item.id).cloned(),
                })
                .collect();
        } else {
            // Nobody runs them: a crash cut them. Fold in the record the next start will write,
            // so status says now what the journal will say then (dated when they started: when
            // they stopped is not known).
            for item in &unfinished {
                let record = Record::Finished {
                    at: started.get(&item.id).copied().unwrap_or(item.enqueued_at),
                    id: item.id,
                    server: item.server.clone(),
                    action: item.action,
                    outcome: Outcome::Interrupted,
                    recap: None,
                    duration_ms: None,
                    log: replay.log_of(item.id).cloned(),
                    retried: false,
                };
                replay.apply(&record);
            }
            // Then what the next start decides about the held work (links whose predecessor
            // was cut are skipped, twins merged), so nothing is listed as held that it drops.
            // Without the inventory, which servers are gone is not known: nothing is foreseen.
            // Dated like the cut runs (by their latest start), not by this look at the journal.
            if let Some(servers) = &inventory {
                let cut = unfinished.iter().map(|item| item.id).collect();
                let when = (unfinished.iter())
                    .filter_map(|item| started.get(&item.id))
                    .max()
                    .map_or(now, |at| *at);
                Core::new(policy.clone(), servers.iter().cloned()).restore_from(
                    &mut replay,
                    cut,
                    when,
                );
                // Its rollout steps (members cut, dropped, skipped) are in the replay now.
                live = replay.live_rollouts();
            }
        }
        let status = derive(&replay);
        let in_inventory = inventory.as_ref().map(Vec::len);
        let mut servers = inventory.unwrap_or_default();
        let known = status.keys().chain(running.iter().map(|run| &run.server));
        for server in known {
            if !servers.contains(server) {
                servers.push(server.clone());
            }
        }
        Report {
            environment: environment.to_string(),
            servers,
            in_inventory,
            status,
            running,
            holder,
            queued: replay
                .pending()
                .iter()
                .map(|item| {
                    let of = rollouts::member_of(&live, item.id);
                    format!("{} on {} (#{}){of}", item.action, item.server, item.id)
                })
                .collect(),
            rollouts: live.iter().map(RolloutFacts::of).collect(),
            starts,
        }
    }

    fn latest(&self) -> impl Iterator<Item = (&str, Action, &LastRun)> {
        self.status.iter().flat_map(|(server, actions)| {
            actions
                .iter()
                .map(move |(action, last)| (server.as_str(), *action, last))
        })
    }

    /// Every (server, action) whose latest run was interrupted, journaled as such or not yet.
    pub fn interrupted(&self) -> Vec<NamedRun> {
        self.latest()
            .filter(|(_, _, last)| last.outcome == Outcome::Interrupted)
            .map(|(server, action, last)| NamedRun {
                server: server.to_string(),
                action,
                id: last.id,
                check_mode: last.check_mode,
                started: self.starts.at.get(&last.id).copied(),
                node: self.starts.node.get(&last.id).cloned(),
                log: last.log.clone(),
            })
            .collect()
    }

    /// When a latest run happened, for people: an interrupted run is journaled as such only at
    /// the next start, so it is dated by when it started, before and after that start alike.
    fn when(&self, last: &LastRun) -> DateTime<Utc> {
        match (&last.outcome, self.starts.at.get(&last.id)) {
            (Outcome::Interrupted, Some(started)) => *started,
            _ => last.at,
        }
    }

    /// What `--exit-code` answers: some server's latest outcome is not fine.
    pub fn any_failing(&self) -> bool {
        self.latest().any(|(_, _, last)| last.is_failing())
    }

    fn running_cell(&self, server: &str, action: Action) -> Option<String> {
        let pid = self.holder?;
        self.running
            .iter()
            .any(|run| run.server == server && run.action == action)
            .then(|| format!("running now (fleetdeck pid {pid})"))
    }

    pub fn table(&self, now: DateTime<Utc>) -> String {
        let mut rows = vec![["SERVER", "PROVISION", "DEPLOY", "CHECK"].map(String::from)];
        for (row, server) in self.servers.iter().enumerate() {
            let cells = Action::ALL.map(|action| {
                self.running_cell(server, action)
                    .or_else(|| {
                        let last = self.status.get(server)?.get(&action)?;
                        Some(cell(last, self.when(last), now))
                    })
                    .unwrap_or_else(|| "-".into())
            });
            let [provision, deploy, check] = cells;
            // The journal remembers servers the inventory no longer has: said, not hidden.
            let name = match self.in_inventory {
                Some(listed) if row >= listed => format!("{server} (not in the inventory)"),
                _ => server.clone(),
            };
            rows.push([name, provision, deploy, check]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let mut line = String::new();
            for (c, text) in row.iter().enumerate() {
                let _ = write!(line, "{text:<width$}  ", width = widths[c]);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The table, then what needs the operator: runs cut by a crash, failures with their logs,
    /// runs in flight, items waiting. Entries are indented so no line but a row starts with a
    /// server's name.
    pub fn text(&self, now: DateTime<Utc>) -> String {
        let mut out = self.table(now);
        let interrupted = self.interrupted();
        if !interrupted.is_empty() {
            // A run on an execution node is also cut when its connection breaks, while
            // fleetdeck goes on.
            out.push_str(if interrupted.iter().any(|run| run.node.is_some()) {
                "\nInterrupted when fleetdeck stopped or the connection to their node broke \
                 (they do not re-run by themselves):\n"
            } else {
                "\nInterrupted when fleetdeck stopped (they do not re-run by themselves):\n"
            });
            for run in &interrupted {
                out.push_str(&run_entry(run, now));
            }
        }
        // Interrupted runs are failing too, but are listed above already.
        let failing: Vec<_> = self
            .latest()
            .filter(|(_, _, last)| last.is_failing() && last.outcome != Outcome::Interrupted)
            .collect();
        if !failing.is_empty() {
            out.push_str("\nFailing:\n");
            for (server, action, last) in failing {
                let mut what = last.outcome.to_string();
                if last.healthy == Some(false) {
                    what.push_str(", unhealthy");
                }
                let _ = writeln!(
                    out,
                    "  {server} {action} #{}{}: {what}, {} ago",
                    last.id,
                    check_mark(last.check_mode),
                    age(last.at, now)
                );
                out.push_str(&log_line(last.log.as_deref()));
            }
        }
        if let (Some(pid), false) = (self.holder, self.running.is_empty()) {
            let _ = writeln!(out, "\nRunning now in fleetdeck pid {pid}:");
            for run in &self.running {
                out.push_str(&run_entry(run, now));
            }
        }
        out.push_str(&rollouts::live_text(
            &self.rollouts,
            &self.environment,
            self.holder,
        ));
        if !self.queued.is_empty() {
            let count = self.queued.len();
            let _ = match self.holder {
                Some(pid) => writeln!(out, "\n{count} item(s) queued in fleetdeck pid {pid}."),
                None => writeln!(
                    out,
                    "\n{count} item(s) queued from an earlier session, held: \
                     `fleetdeck run -e {env} --resume` runs them{rolled}, `--discard-held` drops them:",
                    env = self.environment,
                    // A stopped rollout's deploys stay stopped under a bare --resume.
                    rolled = if self.rollouts.is_empty() {
                        ""
                    } else {
                        " (a rollout's: `--resume-rollout`)"
                    }
                ),
            };
            if self.holder.is_none() {
                for item in self.queued.iter().take(HELD_LISTED) {
                    let _ = writeln!(out, "  {item}");
                }
                if count > HELD_LISTED {
                    let _ = writeln!(out, "  … +{} more (--json lists all)", count - HELD_LISTED);
                }
            }
        }
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let failing: Vec<Failing> = self
            .latest()
            .filter(|(_, _, last)| last.is_failing())
            .map(|(server, action, last)| Failing {
                server,
                action,
                last,
            })
            .collect();
        serde_json::json!({
            "environment": self.environment,
            "servers": self.status,
            "queued": self.queued.len(),
            "held": if self.holder.is_none() { self.queued.clone() } else { Vec::new() },
            "interrupted": self.interrupted(),
            "failing": failing,
            "running": self.running,
            "in_use_by_pid": self.holder,
            "rollouts": self.rollouts,
        })
    }
}

fn check_mark(check_mode: bool) -> &'static str {
    if check_mode { " (check mode)" } else { "" }
}

/// One table cell: "ok (check mode), healthy 3m ago", `at` being when it happened.
pub fn cell(last: &LastRun, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let mut word = last.outcome.label().to_string();
    word.push_str(check_mark(last.check_mode));
    match last.healthy {
        Some(true) => word.push_str(", healthy"),
        Some(false) => word.push_str(", unhealthy"),
        None => {}
    }
    format!("{word} {} ago", age(at, now))
}

/// "  web-03 provision #12 on exec-a, started 2m ago (2026-01-02 03:04:05 UTC)" and its log
/// line; the node only when config.yml named nodes.
fn run_entry(run: &NamedRun, now: DateTime<Utc>) -> String {
    let mut line = format!(
        "  {} {} #{}{}",
        run.server,
        run.action,
        run.id,
        check_mark(run.check_mode)
    );
    if let Some(node) = &run.node {
        let _ = write!(line, " on {node}");
    }
    if let Some(started) = run.started {
        let _ = write!(
            line,
            ", started {} ago ({})",
            age(started, now),
            started.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    line.push('\n');
    line.push_str(&log_line(run.log.as_deref()));
    line
}

fn log_line(log: Option<&Path>) -> String {
    match log {
        Some(log) => format!("    log: {}\n", log.display()),
        None => "    no log recorded: it ended before its log was journaled\n".into(),
    }
}

/// Prints the status of `env`; returns whether any server's latest outcome is failing.
pub fn print(env: &Environment, json: bool) -> Result<bool> {
    let path = env.journal_path();
    // The holder first, then the journal: a run it shows started is then the holder's, or was
    // cut by a crash.
    let holder = journal::holder(&path);
    let replay = journal::replay(&path)?;
    let starts = starts(&path)?;
    // Servers of the inventory, so never-run ones show too; the journal's alone if it fails.
    let servers: Option<Vec<String>> = match env.load_inventory() {
        Ok(inventory) => Some(inventory.hosts.keys().cloned().collect()),
        Err(err) => {
            eprintln!("fleetdeck: {err:#}");
            None
        }
    };
    let now = Utc::now();
    let report = Report::new(
        &env.name,
        servers,
        replay,
        starts,
        holder,
        &env.policy(),
        now,
    );
    let text = if json {
        serde_json::to_string_pretty(&report.json())? + "\n"
    } else {
        report.text(now)
    };
    // `status | head` is a fine way to read it: a reader that stops early is no error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("writing the status")?
        }
        _ => {}
    }
    Ok(report.any_failing())
}

#[cfg(test)]
mod tests;
