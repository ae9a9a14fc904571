//! `fleetdeck status`: each server's last outcome per action, derived from the journal. The
//! derivation lives here (the dashboard shows the same); what the command prints, in `report`.

pub mod report;
pub mod rollouts;

pub use report::print;

use crate::engine::journal::{Latest, Record, Replay};
use crate::engine::model::{Action, ItemId, Outcome};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LastRun {
    pub id: ItemId,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// For a deploy: what its health check said, if one ran.
    pub healthy: Option<bool>,
    /// A dry run (`--check`): nothing was changed.
    pub check_mode: bool,
    /// The run's log on disk, when it got as far as starting one.
    pub log: Option<PathBuf>,
    /// The execution node it ran on, when config.yml names nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl LastRun {
    pub fn from_latest(latest: &Latest) -> LastRun {
        LastRun {
            id: latest.item.id,
            at: latest.at,
            outcome: latest.outcome.clone(),
            healthy: latest.healthy,
            check_mode: latest.item.check_mode,
            log: latest.log.clone(),
            node: latest.node.clone(),
        }
    }

    /// What `--exit-code` and the header's "failing" count: the server is not fine now.
    pub fn is_failing(&self) -> bool {
        self.outcome.went_wrong() || self.healthy == Some(false)
    }
}

/// server → action → its last run.
pub type FleetStatus = BTreeMap<String, BTreeMap<Action, LastRun>>;

/// Each (server, action)'s latest run, as the journal says: the one truth the dashboard, `i`,
/// `Enter`, `r` and `fleetdeck status` all show.
pub fn derive(replay: &Replay) -> FleetStatus {
    let mut status = FleetStatus::new();
    for ((server, action), latest) in &replay.latest {
        status
            .entry(server.clone())
            .or_default()
            .insert(*action, LastRun::from_latest(latest));
    }
    status
}

/// How long the last successful real run of each (server, action) took: the dashboard's ETA.
pub fn last_durations(replay: &Replay) -> HashMap<(String, Action), Duration> {
    replay
        .durations
        .iter()
        .map(|(key, ms)| (key.clone(), Duration::from_millis(*ms)))
        .collect()
}

/// What the journal's `started` records say of each run: when its child started, and on which
/// execution node when config.yml names nodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Starts {
    pub at: HashMap<ItemId, DateTime<Utc>>,
    pub node: HashMap<ItemId, String>,
}

impl Starts {
    /// A later start of the same run (moved off a node it could not reach) replaces the earlier.
    pub fn record(&mut self, id: ItemId, at: DateTime<Utc>, node: Option<String>) {
        self.at.insert(id, at);
        match node {
            Some(node) => self.node.insert(id, node),
            None => self.node.remove(&id),
        };
    }
}

/// When and where each run started. The replay keeps that for runs in flight only, so the
/// `started` records are read once more: a run cut by a crash reads the same before and after
/// the next start journals it interrupted. Unreadable lines are the replay's to report.
fn starts(path: &Path) -> Result<Starts> {
    let mut starts = Starts::default();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(starts),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    for line in BufReader::new(file).split(b'\n') {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if let Ok(Record::Started { at, id, node, .. }) = serde_json::from_slice::<Record>(&line) {
            starts.record(id, at, node);
        }
    }
    Ok(starts)
}

/// "12s", "5m", "3h", "2d".
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::Record;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, second).unwrap()
    }

    /// Folds records into a replay the way the journal does.
    struct History(Replay);

    impl History {
        fn new() -> History {
            History(Replay::empty())
        }

        fn queue(&mut self, id: ItemId, server: &str, action: Action, check_mode: bool) {
            let item = crate::engine::model::Item {
                id,
                server: server.into(),
                action,
                priority: 0,
                tags: Vec::new(),
                check_mode,
                attempt: 1,
                enqueued_at: at(0),
                after: None,
                purpose: Default::default(),
                not_before: None,
                held: false,
            };
            self.0.apply(&Record::Enqueued { at: at(0), item });
        }

        /// A run that started (and wrote a log) then ended with `outcome`.
        fn ran(&mut self, id: ItemId, server: &str, action: Action, outcome: Outcome) {
            self.ran_as(id, server, action, outcome, false)
        }

        fn ran_as(
            &mut self,
            id: ItemId,
            server: &str,
            action: Action,
            outcome: Outcome,
            check_mode: bool,
        ) {
            self.queue(id, server, action, check_mode);
            self.0.apply(&Record::Started {
                at: at(id as u32),
                id,
                slot: 1,
                node: None,
            });
            self.0.apply(&Record::LogOpened {
                at: at(id as u32),
                id,
                log: format!("logs/{id}.log").into(),
            });
            self.end(id, server, action, outcome, Some(1000 * id));
        }

        fn end(
            &mut self,
            id: ItemId,
            server: &str,
            action: Action,
            outcome: Outcome,
            duration_ms: Option<u64>,
        ) {
            self.0.apply(&Record::Finished {
                at: at(id as u32),
                id,
                server: server.into(),
                action,
                outcome,
                recap: None,
                duration_ms,
                log: None,
                retried: false,
            });
        }
    }

    fn failed() -> Outcome {
        Outcome::Failed {
            rc: Some(2),
            task: None,
            message: String::new(),
        }
    }

    #[test]
    fn last_run_per_server_and_action_with_health_and_durations() {
        let mut history = History::new();
        history.ran(1, "web-01", Action::Deploy, Outcome::Succeeded);
        history.ran(2, "web-01", Action::Deploy, failed());
        history.ran(3, "web-01", Action::Check, Outcome::Succeeded);
        // A queue entry cancelled before it ran does not hide what the server last did.
        history.queue(4, "web-01", Action::Check, false);
        history.end(
            4,
            "web-01",
            Action::Check,
            Outcome::Cancelled { during_task: None },
            None,
        );
        history.ran(5, "db-01", Action::Deploy, Outcome::Succeeded);
        history.0.apply(&Record::Health {
            at: at(6),
            deploy: 5,
            server: "db-01".into(),
            healthy: false,
        });
        let replay = history.0;
        let status = derive(&replay);
        assert_eq!(status["web-01"][&Action::Deploy].outcome.label(), "failed");
        assert_eq!(
            status["web-01"][&Action::Deploy].log,
            Some("logs/2.log".into()),
            "the log is known from the moment the run started"
        );
        assert_eq!(status["web-01"][&Action::Check].id, 3);
        assert_eq!(status["db-01"][&Action::Deploy].healthy, Some(false));
        assert!(status["db-01"][&Action::Deploy].is_failing());
        let durations = last_durations(&replay);
        assert_eq!(
            durations[&("web-01".to_string(), Action::Deploy)],
            Duration::from_secs(1),
            "the last success"
        );
        assert_eq!(
            durations[&("db-01".to_string(), Action::Deploy)],
            Duration::from_secs(5)
        );
        assert_eq!(durations.len(), 3);
    }

    #[test]
    fn interrupted_and_check_mode_runs_are_what_they_were() {
        let mut history = History::new();
        history.ran(1, "web-03", Action::Provision, Outcome::Succeeded);
        history.ran(2, "web-03", Action::Provision, Outcome::Interrupted);
        history.ran_as(3, "web-04", Action::Provision, Outcome::Succeeded, true);
        let replay = history.0;
        let status = derive(&replay);
        let web03 = &status["web-03"][&Action::Provision];
        assert_eq!(
            web03.outcome,
            Outcome::Interrupted,
            "not the earlier success"
        );
        assert!(web03.is_failing());
        assert_eq!(web03.log, Some("logs/2.log".into()));
        // A chain link skipped afterwards hides neither a run cut short nor an earlier success.
        let mut history = History(Replay::empty());
        history.ran(1, "web-03", Action::Provision, Outcome::Interrupted);
        history.ran(2, "web-03", Action::Deploy, Outcome::Succeeded);
        for (id, action) in [(3, Action::Provision), (4, Action::Deploy)] {
            history.queue(id, "web-03", action, false);
            let reason = "upstream interrupted".to_string();
            history.end(id, "web-03", action, Outcome::Skipped { reason }, None);
        }
        // Where nothing ran before, the skip is what there is to say.
        history.queue(5, "web-03", Action::Check, false);
        let reason = "upstream failed".to_string();
        history.end(
            5,
            "web-03",
            Action::Check,
            Outcome::Skipped { reason },
            None,
        );
        let runs = &derive(&history.0)["web-03"];
        assert_eq!(runs[&Action::Provision].outcome, Outcome::Interrupted);
        assert_eq!(runs[&Action::Deploy].outcome, Outcome::Succeeded);
        assert_eq!(runs[&Action::Check].outcome.label(), "skipped");
        // An interrupted run is dated by its start, not by the restart that marked it.
        let mut history = History(Replay::empty());
        history.queue(9, "web-05", Action::Deploy, false);
        history.0.apply(&Record::Started {
            at: at(9),
            id: 9,
            slot: 1,
            node: None,
        });
        history.0.apply(&Record::Finished {
            at: at(50),
            id: 9,
            server: "web-05".into(),
            action: Action::Deploy,
            outcome: Outcome::Interrupted,
            recap: None,
            duration_ms: None,
            log: None,
            retried: false,
        });
        assert_eq!(derive(&history.0)["web-05"][&Action::Deploy].at, at(9));
        let web04 = &status["web-04"][&Action::Provision];
        assert!(web04.check_mode);
        assert!(
            !last_durations(&replay).contains_key(&("web-04".to_string(), Action::Provision)),
            "a dry run is no ETA for a real one"
        );
    }

    #[test]
    fn ages_read_like_an_operator_says_them() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let cases = [
            (12, "12s"),
            (300, "5m"),
            (3 * 3600, "3h"),
            (2 * 86400, "2d"),
            (-5, "0s"),
        ];
        for (secs, expected) in cases {
            assert_eq!(age(now - chrono::Duration::seconds(secs), now), expected);
        }
    }
}
