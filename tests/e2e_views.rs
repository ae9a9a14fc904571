//! The timeline (`T`) and the matrix (`M`) end to end: the real binary in tmux on the demo
//! fleet with the real ansible-core, both opened while the chain runs, read the way an operator
//! reads them and checked against the journal.

mod common;
#[path = "e2e/terminal.rs"]
mod terminal;

use common::Sandbox;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use terminal::*;

const SERVERS: [&str; 9] = [
    "db-01", "db-02", "lb-01", "web-01", "web-02", "web-03", "web-04", "web-05", "web-06",
];

/// The timeline's lane rows: "w1", "w2", … with the text of each.
fn lanes(screen: &str) -> Vec<(String, String)> {
    screen
        .lines()
        .filter_map(|line| {
            let inner = line.strip_prefix('│')?;
            let label: String = inner.chars().take_while(|c| !c.is_whitespace()).collect();
            let label = label.trim_end_matches('▸').to_string();
            let numbered = label.strip_prefix('w')?;
            (!numbered.is_empty() && numbered.chars().all(|c| c.is_ascii_digit()))
                .then(|| (label.clone(), inner.to_string()))
        })
        .collect()
}

/// Servers named in the lane rows.
fn servers_on_lanes(screen: &str) -> BTreeSet<&'static str> {
    let rows = lanes(screen);
    SERVERS
        .iter()
        .copied()
        .filter(|server| rows.iter().any(|(_, text)| text.contains(server)))
        .collect()
}

/// The matrix row of `server`: the cells under each action heading, by column position.
fn matrix_cells(screen: &str, server: &str) -> Option<BTreeMap<&'static str, String>> {
    let heading: Vec<char> = screen
        .lines()
        .find(|line| line.contains("SERVER") && line.contains("DEPLOY"))?
        .chars()
        .collect();
    let row: Vec<char> = screen
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(server))?
        .chars()
        .collect();
    let start = |word: &str| {
        let first = word.chars().next()?;
        (0..heading.len()).find(|&i| {
            heading[i] == first
                && heading[i..]
                    .iter()
                    .take(word.len())
                    .copied()
                    .eq(word.chars())
        })
    };
    let (p, d, c) = (start("PROVISION")?, start("DEPLOY")?, start("CHECK")?);
    let cut = |from: usize, to: usize| -> String {
        row[from.min(row.len())..to.min(row.len())]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    };
    Some(BTreeMap::from([
        ("provision", cut(p, d)),
        ("deploy", cut(d, c)),
        ("check", cut(c, row.len().saturating_sub(1))),
    ]))
}

/// The journal's latest outcome per (server, action), of the runs that ran or were skipped.
fn journal_outcomes(sandbox: &Sandbox) -> BTreeMap<(String, String), String> {
    let mut latest = BTreeMap::new();
    for record in journal_records(sandbox) {
        if record["kind"] != "finished" || record["outcome"] == "cancelled" {
            continue;
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        latest.insert(
            (text(&record["server"]), text(&record["action"])),
            text(&record["outcome"]),
        );
    }
    latest
}

fn glyph(outcome: &str) -> &'static str {
    match outcome {
        "succeeded" => "✓",
        "failed" => "✗",
        "skipped" => "⊘",
        other => panic!("the demo chain does not end {other}"),
    }
}

#[test]
fn the_timeline_and_the_matrix_open_mid_run_and_say_what_the_journal_says() {
    let sandbox = Sandbox::demo();
    let term = Terminal::open(&sandbox, "views", 150, 40);
    wait_for_dashboard(&term);
    term.keys(&["a"]);
    term.wait_for_screen("all nine selected", SCREEN, |s| s.contains("9 selected"));
    term.keys(&["f"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("chain 9 servers?")
    });
    term.keys(&["y"]);
    term.wait_for_screen("three runs at once", ANSIBLE, |s| {
        count(s, "running") == Some(3)
    });

    // The timeline, mid-run: a lane per worker, the running runs named on them (1 s a column,
    // so a provision of a few seconds has room for its server's name).
    term.keys(&["T"]);
    term.wait_for_screen("the timeline", SCREEN, |s| s.contains("Timeline · "));
    term.keys(&["+", "+", "+"]);
    let timeline = term.wait_for_screen("lanes with named bars at 1 s a column", ANSIBLE, |s| {
        s.contains("Timeline · 1 s/col") && !servers_on_lanes(s).is_empty()
    });
    let labels: Vec<String> = lanes(&timeline)
        .into_iter()
        .map(|(label, _)| label)
        .collect();
    assert_eq!(labels, ["w1", "w2", "w3"], "{timeline}");
    let started: BTreeSet<String> = journal_records(&sandbox)
        .iter()
        .filter(|r| r["kind"] == "enqueued")
        .map(|r| r["item"]["server"].as_str().unwrap().to_string())
        .collect();
    for server in servers_on_lanes(&timeline) {
        assert!(started.contains(server), "{server} drawn but never queued");
    }
    let ran: BTreeSet<u64> = journal_records(&sandbox)
        .iter()
        .filter(|r| r["kind"] == "started")
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(!ran.is_empty());

    // The cursor on the newest bar names it; Enter opens that run's log; Esc comes back here.
    term.keys(&["Left"]);
    let detail_of = |screen: &str| -> Option<String> {
        screen
            .lines()
            .map(|line| line.trim_matches(|c: char| c == '│' || c.is_whitespace()))
            .find(|line| line.ends_with("· Enter log"))
            .map(String::from)
    };
    let chosen = term.wait_for_screen("a bar chosen", SCREEN, |s| detail_of(s).is_some());
    let detail = detail_of(&chosen).unwrap();
    let server = SERVERS
        .iter()
        .find(|server| detail.contains(*server))
        .unwrap_or_else(|| panic!("the detail names no server: {detail}"));
    term.keys(&["Enter"]);
    let viewer = term.wait_for_screen("the bar's log", SCREEN, |s| {
        !s.contains("Timeline ·") && s.contains(server)
    });
    assert!(
        viewer.contains("PLAY") || viewer.contains("TASK"),
        "{viewer}"
    );
    term.keys(&["Escape"]);
    term.wait_for_screen("back on the timeline", SCREEN, |s| s.contains("Timeline ·"));
    term.keys(&["Escape"]);
    term.wait_for_screen("the panes again", SCREEN, |s| {
        s.contains("Servers 9/9") && !s.contains("Timeline ·")
    });

    // The matrix, mid-run, stays open to the end and follows the runs.
    term.keys(&["M"]);
    term.wait_for_screen("the matrix", SCREEN, |s| s.contains("Matrix · sort: name"));
    let end = term.wait_for_screen("the chain done, seen in the matrix", SEQUENTIAL_TAIL, |s| {
        header(s).contains("queued 0 · running 0")
            && matrix_cells(s, "db-02").is_some_and(|cells| cells["deploy"].starts_with('✗'))
            && SERVERS.iter().all(|server| {
                matrix_cells(s, server).is_some_and(|cells| !cells["check"].starts_with('▶'))
            })
    });
    let outcomes = journal_outcomes(&sandbox);
    for server in SERVERS {
        let cells = matrix_cells(&end, server).unwrap();
        for action in ["provision", "deploy", "check"] {
            let want = outcomes
                .get(&(server.to_string(), action.to_string()))
                .map_or("·", |outcome| glyph(outcome));
            assert!(
                cells[action].starts_with(want),
                "{server} {action}: the journal says {want}, the matrix {:?}\n{end}",
                cells[action]
            );
        }
    }
    // `/db` keeps the db servers.
    term.keys(&["/"]);
    term.type_text("db");
    term.keys(&["Enter"]);
    let filtered = term.wait_for_screen("the db servers only", SCREEN, |s| s.contains("· 2/9"));
    assert!(matrix_cells(&filtered, "db-01").is_some(), "{filtered}");
    assert!(matrix_cells(&filtered, "web-01").is_none(), "{filtered}");
    // One Esc at a time: two in one write read as Alt-Esc.
    term.keys(&["Escape"]);
    term.wait_for_screen("the filter cleared", SCREEN, |s| s.contains("· 9/9"));
    term.keys(&["Escape"]);
    term.wait_for_screen("the panes again", SCREEN, |s| {
        s.contains("Servers 9/9") && !s.contains("Matrix ·")
    });
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0);
}
