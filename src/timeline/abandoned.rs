//! Runs a dead fleetdeck left open: nobody holds the environment, yet the journal has runs that
//! started and never ended. No restart has marked them yet; they were cut when the journal
//! stops, as `status` says.

use super::Timeline;
use crate::engine::model::Outcome;

impl Timeline {
    /// Call only when no fleetdeck holds the environment: its runs still open are interrupted,
    /// ending at the journal's last record.
    pub fn close_abandoned(&mut self) {
        let Some(last) = self.last_seen else {
            return;
        };
        for index in 0..self.entries.len() {
            let entry = &mut self.entries[index];
            if let (None, Some(ran)) = (&entry.outcome, entry.ran) {
                entry.end = Some(entry.end.unwrap_or(last).max(ran.start));
                entry.outcome = Some(Outcome::Interrupted);
                // Zoomed out, an interrupted run outranks the successes sharing its cell.
                self.note_outcome(index);
            }
        }
    }
}

impl Timeline {
    /// The journal hears of a run only when it starts, opens its log and ends: a run cut by a
    /// crash would seem to end at its start. Its log was written until it really stopped, so
    /// it ends at the log's last write (never past the next start of fleetdeck). Reads the
    /// logs of the interrupted runs only.
    pub fn end_cut_runs_at_their_logs(&mut self) {
        let sessions: Vec<_> = (self.workers.iter())
            .filter(|w| w.session)
            .map(|w| w.at)
            .collect();
        for entry in &mut self.entries {
            let (Some(Outcome::Interrupted), Some(ran), Some(log)) =
                (&entry.outcome, entry.ran, &entry.log)
            else {
                continue;
            };
            let Some(written) = std::fs::metadata(log)
                .and_then(|meta| meta.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from)
            else {
                continue;
            };
            let next_start = sessions.iter().find(|at| **at > ran.start);
            let written = next_start.map_or(written, |at| written.min(*at));
            if entry.end.is_none_or(|end| written > end) {
                entry.end = Some(written.max(ran.start));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::Record;
    use crate::engine::model::{Action, Item};
    use chrono::{DateTime, TimeZone, Utc};

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_run_left_open_by_a_dead_fleetdeck_is_interrupted_where_the_journal_stops() {
        let mut timeline = Timeline::default();
        for record in [
            Record::Session {
                at: t(0),
                pid: 1,
                workers: 1,
            },
            Record::Enqueued {
                at: t(0),
                item: Item::requested(1, "db-01", Action::Deploy, t(0)),
            },
            Record::Started {
                at: t(5),
                id: 1,
                slot: 1,
                node: None,
            },
            Record::LogOpened {
                at: t(6),
                id: 1,
                log: "db-01.log".into(),
            },
        ] {
            timeline.apply(&record);
        }
        assert!(timeline.get(1).unwrap().is_running());
        timeline.close_abandoned();
        let entry = timeline.get(1).unwrap();
        assert_eq!(entry.outcome, Some(Outcome::Interrupted));
        assert_eq!(entry.end, Some(t(6)));
        assert_eq!(timeline.lane_runs(1).last_went_wrong(0..1), Some(0));
    }

    #[test]
    fn a_cut_run_ends_at_its_logs_last_write_before_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("web-03.log");
        std::fs::write(&log, "TASK [Install base packages]\n").unwrap();
        let written = DateTime::<Utc>::from(std::fs::metadata(&log).unwrap().modified().unwrap());
        let at = |seconds: i64| written + chrono::TimeDelta::seconds(seconds);
        let mut timeline = Timeline::default();
        for record in [
            Record::Session {
                at: at(-10),
                pid: 1,
                workers: 1,
            },
            Record::Enqueued {
                at: at(-10),
                item: Item::requested(1, "web-03", Action::Provision, at(-10)),
            },
            Record::Started {
                at: at(-5),
                id: 1,
                slot: 1,
                node: None,
            },
            Record::LogOpened {
                at: at(-5),
                id: 1,
                log: log.clone(),
            },
            Record::Finished {
                at: at(30),
                id: 1,
                server: "web-03".into(),
                action: Action::Provision,
                outcome: Outcome::Interrupted,
                recap: None,
                duration_ms: None,
                log: None,
                retried: false,
            },
            Record::Session {
                at: at(30),
                pid: 2,
                workers: 1,
            },
        ] {
            timeline.apply(&record);
        }
        // The journal last heard of it when it opened its log.
        assert_eq!(timeline.get(1).unwrap().end, Some(at(-5)));
        timeline.end_cut_runs_at_their_logs();
        assert_eq!(timeline.get(1).unwrap().end, Some(written));
        assert_eq!(timeline.get(1).unwrap().duration(at(100)).as_secs(), 5);
    }
}
