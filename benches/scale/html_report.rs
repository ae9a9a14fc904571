//! (12) The HTML report of 10,000 runs on 64 lanes: 3,334 servers × provision, deploy, check,
//! back to back on each worker, a resize down to 48 workers and back, one run in seven gone
//! wrong with a real 40-line log to read the tail of. Prints the time to write the page (the
//! logs read included) and its size; the goal is ≤ 1 s and ≤ 5 MB. Printed, never asserted.

use chrono::{DateTime, TimeDelta, Utc};
use fleetdeck::engine::model::{Action, Outcome};
use fleetdeck::report::Report;
use fleetdeck::timeline::{Timeline, Window};
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: u64 = 10_000;
const LANES: u64 = 64;
const SERVERS: u64 = 3_334;
const ACTIONS: [Action; 3] = [Action::Provision, Action::Deploy, Action::Check];
const LOG_LINES: usize = 40;

/// A deterministic mix: mostly ok, one in seven failed, unreachable or timed out.
fn outcome(n: u64) -> Outcome {
    match n % 36 {
        0 | 12 | 24 => Outcome::Failed {
            rc: Some(2),
            task: Some("Restart app".into()),
            message: format!("restart of app on srv-{:04} exited 1", n % SERVERS),
        },
        1 => Outcome::Unreachable {
            message: "ssh: connect to host: connection timed out".into(),
        },
        2 => Outcome::TimedOut {
            during_task: Some("Wait for port 8080".into()),
        },
        _ => Outcome::Succeeded,
    }
}

fn timeline(start: DateTime<Utc>, logs: &Path) -> Timeline {
    let mut timeline = Timeline::default();
    timeline.session(start, LANES as u32);
    // Each lane's next free time: runs follow one another on a worker.
    let mut free = vec![start; LANES as usize + 1];
    for id in 1..=RUNS {
        let server = format!("srv-{:04}", (id - 1) % SERVERS);
        let action = ACTIONS[((id - 1) / SERVERS) as usize % ACTIONS.len()];
        let lane = 1 + (id - 1) % LANES;
        let at = free[lane as usize] + TimeDelta::milliseconds(150);
        let end = at + TimeDelta::seconds(5 + (id * 7919 % 91) as i64);
        free[lane as usize] = end;
        let outcome = outcome(id);
        let log = outcome.went_wrong().then(|| {
            let path = logs.join(format!("{server}_{}_{id}.log", action.as_str()));
            let body: String = (1..=LOG_LINES)
                .map(|n| format!("TASK [step {n}] ok: [{server}] => {{\"changed\": false}}\n"))
                .collect();
            std::fs::write(&path, body).unwrap();
            path
        });
        timeline.enqueued(id, &server, action, false, None);
        timeline.started(id, lane as u32, at);
        timeline.finished(id, &server, action, &outcome, end, log, None);
    }
    timeline.resized(start + TimeDelta::minutes(40), 48);
    timeline.resized(start + TimeDelta::minutes(90), LANES as u32);
    timeline
}

pub fn run() {
    let logs = tempfile::tempdir().unwrap();
    let start = Utc::now() - TimeDelta::hours(6);
    let report = Report {
        env: "scale".to_string(),
        window: Window::All,
        timeline: timeline(start, logs.path()),
        made_at: Utc::now(),
        servers: (0..SERVERS).map(|n| format!("srv-{n:04}")).collect(),
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut page = Vec::new();
    for _ in 0..5 {
        page = Vec::with_capacity(8 << 20);
        let began = Instant::now();
        fleetdeck::report::html::write(&report, &mut page).unwrap();
        times.push(began.elapsed());
    }
    times.sort();
    let failures = report
        .timeline
        .entries()
        .iter()
        .filter(|e| e.outcome.as_ref().is_some_and(Outcome::went_wrong))
        .count();
    println!(
        "(12) HTML report of {RUNS} runs on {LANES} lanes ({SERVERS} servers, {failures} failures \
         with {LOG_LINES}-line logs): median {:.0} ms, worst {:.0} ms (goal ≤ 1 s); \
         {:.2} MB (goal ≤ 5 MB)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        page.len() as f64 / 1e6,
    );
    println!(
        "     by section: {}",
        sections(&String::from_utf8_lossy(&page))
    );
}

/// How many MB each part of the page takes: where to look when it grows.
fn sections(page: &str) -> String {
    let marks = [
        "<section id=\"timeline\"",
        "<section id=\"matrix\"",
        "<section id=\"failures\"",
    ];
    let at: Vec<usize> = marks
        .iter()
        .map(|mark| page.find(mark).unwrap_or(page.len()))
        .collect();
    let mb = |from: usize, to: usize| to.saturating_sub(from) as f64 / 1e6;
    format!(
        "header {:.2} MB, timeline {:.2} MB, matrix {:.2} MB, failures {:.2} MB",
        mb(0, at[0]),
        mb(at[0], at[1]),
        mb(at[1], at[2]),
        mb(at[2], page.len()),
    )
}
