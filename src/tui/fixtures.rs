//! What the dashboard's tests share: a fixed clock and the demo fleet.

use crate::inventory::Inventory;
use chrono::{DateTime, TimeDelta, Utc};

/// Time is an input: every test reads this clock, so snapshots and ages are stable.
pub fn now() -> DateTime<Utc> {
    "2026-01-02T03:04:05Z".parse().unwrap()
}

pub fn ago(secs: i64) -> DateTime<Utc> {
    now() - TimeDelta::seconds(secs)
}

/// The demo fleet (web-01..06, db-01, db-02, lb-01), plus any extra groups.
pub fn demo_inventory(extra: &[(&str, &[&str])]) -> Inventory {
    let demo: [(&str, &[&str]); 3] = [
        (
            "web",
            &["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"],
        ),
        ("db", &["db-01", "db-02"]),
        ("lb", &["lb-01"]),
    ];
    let mut inventory = Inventory::default();
    for (group, hosts) in demo.iter().chain(extra) {
        for host in *hosts {
            inventory
                .hosts
                .entry(host.to_string())
                .or_default()
                .insert(group.to_string());
        }
        inventory.groups.insert(
            group.to_string(),
            hosts.iter().map(|h| h.to_string()).collect(),
        );
    }
    inventory
}
