//! `fleetdeck status`: each server's last outcome per action, derived from the journal.

use crate::engine::journal::{self, Record, Replay};
use crate::engine::model::{Action, ItemId, Outcome};
use crate::project::Environment;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LastRun {
    pub id: ItemId,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    /// For a deploy: what its health check said, if one ran.
    pub healthy: Option<bool>,
}

/// server → action → its last run.
pub type FleetStatus = BTreeMap<String, BTreeMap<Action, LastRun>>;

pub fn derive(replay: &Replay) -> FleetStatus {
    let mut status = FleetStatus::new();
    let mut health: BTreeMap<ItemId, bool> = BTreeMap::new();
    for record in &replay.finished {
        if let Record::Health {
            deploy, healthy, ..
        } = record
        {
            health.insert(*deploy, *healthy);
        }
    }
    for record in &replay.finished {
        if let Record::Finished {
            at,
            id,
            server,
            action,
            outcome,
            ..
        } = record
        {
            // A cancelled queue entry never ran: it does not replace what the server last did.
            if matches!(outcome, Outcome::Cancelled { .. }) && record_never_ran(record) {
                continue;
            }
            let healthy = health.get(id).copied();
            status.entry(server.clone()).or_default().insert(
                *action,
                LastRun {
                    id: *id,
                    at: *at,
                    outcome: outcome.clone(),
                    healthy,
                },
            );
        }
    }
    status
}

/// How long the last successful run of each (server, action) took: the dashboard's ETA.
pub fn last_durations(replay: &Replay) -> HashMap<(String, Action), Duration> {
    let mut durations = HashMap::new();
    for record in &replay.finished {
        if let Record::Finished {
            server,
            action,
            outcome: Outcome::Succeeded,
            duration_ms: Some(ms),
            ..
        } = record
        {
            durations.insert((server.clone(), *action), Duration::from_millis(*ms));
        }
    }
    durations
}

fn record_never_ran(record: &Record) -> bool {
    matches!(
        record,
        Record::Finished {
            log: None,
            duration_ms: None,
            ..
        }
    )
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

pub fn cell(last: &LastRun, now: DateTime<Utc>) -> String {
    let mut word = last.outcome.label().to_string();
    match last.healthy {
        Some(true) => word.push_str(", healthy"),
        Some(false) => word.push_str(", unhealthy"),
        None => {}
    }
    format!("{word} {} ago", age(last.at, now))
}

pub fn render_table(servers: &[String], status: &FleetStatus, now: DateTime<Utc>) -> String {
    let mut rows = vec![vec![
        "SERVER".to_string(),
        "PROVISION".into(),
        "DEPLOY".into(),
        "CHECK".into(),
    ]];
    for server in servers {
        let mut row = vec![server.clone()];
        for action in Action::ALL {
            let text = status
                .get(server)
                .and_then(|s| s.get(&action))
                .map(|last| cell(last, now));
            row.push(text.unwrap_or_else(|| "-".into()));
        }
        rows.push(row);
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

pub fn print(env: &Environment, json: bool) -> Result<()> {
    let replay = journal::replay(&env.journal_path())?;
    let status = derive(&replay);
    // Servers of the inventory, so never-run ones show too; the journal's alone if it fails.
    let mut servers: Vec<String> = match env.load_inventory() {
        Ok(inventory) => inventory.hosts.keys().cloned().collect(),
        Err(err) => {
            eprintln!("fleetdeck: {err:#}");
            Vec::new()
        }
    };
    for server in status.keys() {
        if !servers.contains(server) {
            servers.push(server.clone());
        }
    }
    if json {
        let value = serde_json::json!({
            "environment": env.name,
            "servers": status,
            "queued": replay.pending.len(),
            "interrupted": replay.interrupted.iter().map(|i| i.id).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    print!("{}", render_table(&servers, &status, Utc::now()));
    if !replay.pending.is_empty() {
        println!(
            "\n{} item(s) queued from an earlier session (paused).",
            replay.pending.len()
        );
    }
    if !replay.interrupted.is_empty() {
        println!(
            "{} run(s) were interrupted when fleetdeck stopped; they will not re-run by themselves.",
            replay.interrupted.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn finished(id: ItemId, server: &str, action: Action, outcome: Outcome, ran: bool) -> Record {
        Record::Finished {
            at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, id as u32).unwrap(),
            id,
            server: server.into(),
            action,
            outcome,
            recap: None,
            duration_ms: ran.then_some(1000 * id),
            log: ran.then(|| format!("logs/{id}.log").into()),
        }
    }

    #[test]
    fn last_run_per_server_and_action_with_health_and_durations() {
        let replay = Replay {
            finished: vec![
                finished(1, "web-01", Action::Deploy, Outcome::Succeeded, true),
                finished(
                    2,
                    "web-01",
                    Action::Deploy,
                    Outcome::Failed {
                        rc: Some(2),
                        task: None,
                        message: String::new(),
                    },
                    true,
                ),
                finished(3, "web-01", Action::Check, Outcome::Succeeded, true),
                // A queue entry cancelled before it ran does not hide what the server last did.
                finished(
                    4,
                    "web-01",
                    Action::Check,
                    Outcome::Cancelled { during_task: None },
                    false,
                ),
                finished(5, "db-01", Action::Deploy, Outcome::Succeeded, true),
                Record::Health {
                    at: Utc::now(),
                    deploy: 5,
                    server: "db-01".into(),
                    healthy: false,
                },
            ],
            ..Replay::default()
        };
        let status = derive(&replay);
        assert_eq!(status["web-01"][&Action::Deploy].outcome.label(), "failed");
        assert_eq!(status["web-01"][&Action::Check].id, 3);
        assert_eq!(status["db-01"][&Action::Deploy].healthy, Some(false));
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
