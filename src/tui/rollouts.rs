//! Rollouts as the dashboard sees them: which ones the strip under the header shows, which one
//! `C` and `A` act on, and the questions they ask first: functions of the dashboard's state.
//! Pure: no terminal, no clock, no I/O.

use super::app::{App, Pane};
use super::dialogs::{Confirm, Dialog};
use super::intents::plural;
use super::mode::{Effect, Mode};
use crate::engine::Command;
use crate::engine::model::{Item, Purpose};
use crate::engine::rollout::{Member, MemberState, Phase, Rollout};
use crate::engine::{EngineEvent, Snapshot};
use chrono::{DateTime, TimeDelta, Utc};

/// How long a finished rollout stays on the strip: long enough to read its verdict, short
/// enough that the strip goes once nothing is left to watch.
pub const ENDED_SHOWN: TimeDelta = TimeDelta::seconds(60);

/// The live rollout `server` is a member of (the newest, should there be two), with its
/// part in it.
pub fn rollout_of<'a>(app: &'a App, server: &str) -> Option<(&'a Rollout, &'a Member)> {
    app.snapshot
        .rollouts
        .iter()
        .rev()
        .filter(|r| r.phase.is_live())
        .find_map(|r| Some((r.as_ref(), r.member(server)?)))
}

/// Its remaining work waits on items held from an earlier session: nothing moves until the
/// operator runs (P) or discards (X) them.
pub fn rollout_held(app: &App, rollout: &Rollout) -> bool {
    rollout.phase.is_live() && rollout_held_items(app, rollout).next().is_some()
}

/// The rollout's queued items that are held: its members' deploys, and the health checks
/// that judge them (after a restart, a member awaiting health waits on its held check alone,
/// so looking at deploys only would miss it). Each member's server holds a few items at
/// most: this looks at those, not at the whole queue.
pub fn rollout_held_items<'a>(
    app: &'a App,
    rollout: &'a Rollout,
) -> impl Iterator<Item = &'a Item> {
    rollout
        .members
        .iter()
        .filter(|m| !m.state.is_final())
        .flat_map(move |m| {
            app.snapshot.queue.of_server(&m.server).filter(move |item| {
                item.held
                    && (item.id == m.item
                        || item.purpose == Purpose::HealthCheck { deploy: m.item })
            })
        })
}

/// What the strip shows: stopped rollouts first (they wait for the operator), then the
/// other live ones, then the one that ended last, for `ENDED_SHOWN`.
pub fn shown_rollouts(app: &App, now: DateTime<Utc>) -> Vec<&Rollout> {
    let rollouts = || app.snapshot.rollouts.iter().map(|r| r.as_ref());
    let mut shown: Vec<&Rollout> = rollouts()
        .filter(|r| matches!(r.phase, Phase::Stopped { .. }))
        .chain(rollouts().filter(|r| matches!(r.phase, Phase::Canary | Phase::Window)))
        .collect();
    if let Some((id, at)) = app.rollout_ended
        && now - at < ENDED_SHOWN
        && let Some(ended) = app.snapshot.rollout(id).filter(|r| !r.phase.is_live())
    {
        shown.push(ended);
    }
    shown
}

/// Notes a rollout that ended between the last snapshot and `next` (both this session's:
/// the engine keeps every rollout it began), so the strip can show its verdict a while.
pub(super) fn note_ended_rollouts(app: &mut App, next: &EngineEvent) {
    let EngineEvent::Snapshot(next) = next else {
        return;
    };
    let before: &Snapshot = &app.snapshot;
    let ended = next
        .rollouts
        .iter()
        .filter(|r| !r.phase.is_live())
        .filter(|r| before.rollout(r.id).is_none_or(|was| was.phase.is_live()))
        .map(|r| r.id)
        .max();
    if let Some(id) = ended {
        app.rollout_ended = Some((id, next.at));
    }
}

/// The rollout `C` or `A` means: the cursor server's (the queue's cursor item's server in
/// the queue pane) when it is one `fits`, else the newest that does.
fn chosen_rollout(app: &App, fits: impl Fn(&Rollout) -> bool) -> Option<&Rollout> {
    let server = match app.focus {
        Pane::Queue => app
            .snapshot
            .queue
            .nth(app.cursor(Pane::Queue))
            .map(|item| item.server.clone()),
        _ => app.cursor_server(),
    };
    server
        .and_then(|server| {
            app.snapshot
                .rollouts
                .iter()
                .rev()
                .find(|r| fits(r) && r.member(&server).is_some())
        })
        .or_else(|| app.snapshot.rollouts.iter().rev().find(|r| fits(r)))
        .map(|r| r.as_ref())
}

/// `C`: asks before letting a stopped rollout go on.
pub(super) fn continue_rollout(app: &mut App) -> Vec<Effect> {
    let stopped = |r: &Rollout| matches!(r.phase, Phase::Stopped { .. });
    let Some(rollout) = chosen_rollout(app, stopped) else {
        app.notice = Some("no rollout is stopped: nothing to continue".into());
        return Vec::new();
    };
    let waiting: Vec<String> = rollout.waiting().map(|m| m.server.clone()).collect();
    let name = rollout.name();
    let mut question = format!(
        "Continue rollout {name} ({})? {} deploy{} wait{}.",
        rollout.step_text(),
        waiting.len(),
        plural(waiting.len()),
        if waiting.len() == 1 { "s" } else { "" }
    );
    let mut notice = format!(
        "rollout {name} continues: at most {} at a time",
        rollout.rules.window
    );
    // Continuing opens the window, but held work runs only once P releases it: saying
    // "continues" alone would leave the operator waiting for something that cannot come.
    let held: Vec<&Item> = rollout_held_items(app, rollout).collect();
    if !held.is_empty() {
        let (are, them) = if held.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        let its = format!(
            "its {} {are} held from an earlier session: P releases {them}",
            rollout_items_text(held.iter().copied())
        );
        question.push_str(&format!(" Nothing runs yet: {its}."));
        notice.push_str(&format!(" once released; {its}"));
    }
    app.mode = Mode::Dialog(Dialog::Confirm(Confirm {
        question,
        label: "servers waiting",
        items: waiting,
        then: vec![Command::ResumeRollout(Some(rollout.id))],
        notice,
    }));
    Vec::new()
}

/// `A`: asks before cancelling what a live rollout has not started.
pub(super) fn abort_rollout(app: &mut App) -> Vec<Effect> {
    let Some(rollout) = chosen_rollout(app, |r| r.phase.is_live()) else {
        app.notice = Some("no rollout under way: nothing to abort".into());
        return Vec::new();
    };
    // As the engine does it: what is still queued is cancelled (with its chain), the rest
    // of what is under way finishes.
    let (queued, running): (Vec<&Member>, Vec<&Member>) = rollout
        .members
        .iter()
        .filter(|m| !m.state.is_final())
        .partition(|m| app.snapshot.queue.get(m.item).is_some());
    let cancelled: Vec<String> = queued.iter().map(|m| m.server.clone()).collect();
    let checks = running
        .iter()
        .filter(|m| m.state == MemberState::AwaitingHealth)
        .count();
    let name = rollout.name();
    let mut question = format!(
        "Abort rollout {name} ({})? {} queued deploy{} {} cancelled; {} running finish{}",
        rollout.step_text(),
        cancelled.len(),
        plural(cancelled.len()),
        if cancelled.len() == 1 { "is" } else { "are" },
        running.len() - checks,
        if running.len() - checks == 1 {
            "es"
        } else {
            ""
        }
    );
    if checks > 0 {
        question.push_str(&format!(
            ", {checks} health check{} still run{}",
            plural(checks),
            if checks == 1 { "s" } else { "" }
        ));
    }
    question.push('.');
    let notice = format!(
        "rollout {name} aborted: {} deploy{} cancelled",
        cancelled.len(),
        plural(cancelled.len())
    );
    app.mode = Mode::Dialog(Dialog::Confirm(Confirm {
        question,
        label: "servers cancelled",
        items: cancelled,
        then: vec![Command::AbortRollout(Some(rollout.id))],
        notice,
    }));
    Vec::new()
}

/// "3 deploys", "1 deploy and 2 health checks": what `items` of a rollout are.
pub fn rollout_items_text<'a>(items: impl IntoIterator<Item = &'a Item>) -> String {
    let (mut deploys, mut checks) = (0, 0);
    for item in items {
        match item.purpose {
            Purpose::HealthCheck { .. } => checks += 1,
            Purpose::Requested => deploys += 1,
        }
    }
    let deploys_text = format!("{deploys} deploy{}", plural(deploys));
    let checks_text = format!("{checks} health check{}", plural(checks));
    match (deploys, checks) {
        (_, 0) => deploys_text,
        (0, _) => checks_text,
        _ => format!("{deploys_text} and {checks_text}"),
    }
}
