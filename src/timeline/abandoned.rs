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
}
