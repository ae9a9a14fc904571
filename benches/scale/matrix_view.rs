//! (11) The dashboard's matrix view on 10,000 servers × 3 actions, 3 attempts each (90,000
//! runs): one frame at 200×60, a refresh (the first build, then a live one after 64 more
//! runs), a sort change and a filter key. Printed, never asserted.

use chrono::{DateTime, TimeDelta, Utc};
use fleetdeck::engine::model::{Action, Outcome};
use fleetdeck::timeline::Timeline;
use fleetdeck::tui::app::ServerRow;
use fleetdeck::tui::matrix_view::{MatrixKey, MatrixView};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

const SERVERS: usize = 10_000;
const ATTEMPTS: usize = 3;
const ACTIONS: [Action; 3] = [Action::Provision, Action::Deploy, Action::Check];

/// A deterministic mix: mostly ok, some failed, unreachable, timed out.
fn outcome(n: u64) -> Outcome {
    match n % 37 {
        0 => Outcome::Failed {
            rc: Some(2),
            task: Some("Restart app".into()),
            message: "exit 1".into(),
        },
        1 => Outcome::Unreachable {
            message: "ssh".into(),
        },
        2 => Outcome::TimedOut { during_task: None },
        _ => Outcome::Succeeded,
    }
}

/// Feeds `count` runs from `next_id` on, round-robin over the servers and actions, each
/// starting a second after the last and lasting 5 to 95 s.
fn feed(timeline: &mut Timeline, start: DateTime<Utc>, next_id: &mut u64, count: usize) {
    for _ in 0..count {
        let id = *next_id;
        *next_id += 1;
        let n = (id - 1) as usize;
        let server = format!("srv-{:05}", n % SERVERS);
        let action = ACTIONS[n / SERVERS % ACTIONS.len()];
        let at = start + TimeDelta::seconds(id as i64);
        timeline.enqueued(id, &server, action, false, None);
        timeline.started(id, (id % 64) as u32, at);
        let end = at + TimeDelta::seconds(5 + (id * 7919 % 91) as i64);
        let log = Some(format!("logs/run-{id}.log").into());
        timeline.finished(id, &server, action, &outcome(id), end, log, None);
    }
}

fn millis(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)].as_secs_f64() * 1e3;
    (at(50), at(99))
}

fn timed(runs: usize, mut once: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            once();
            started.elapsed()
        })
        .collect();
    millis(&mut times)
}

pub fn run() {
    let start = Utc::now() - TimeDelta::days(2);
    let mut timeline = Timeline::default();
    let mut next_id = 1;
    feed(
        &mut timeline,
        start,
        &mut next_id,
        SERVERS * ACTIONS.len() * ATTEMPTS,
    );
    let servers: Vec<ServerRow> = (0..SERVERS)
        .map(|n| ServerRow {
            name: format!("srv-{n:05}"),
            groups: vec![format!("group{:02}", n % 20)],
        })
        .collect();
    let now = Utc::now();
    println!(
        "(11) the matrix view, {SERVERS} servers × 3 actions × {ATTEMPTS} attempts ({} runs), ms median / p99:",
        timeline.entries().len()
    );

    let (build, build_p99) = timed(20, || {
        let mut view = MatrixView::new();
        view.refresh(&timeline, &servers, now);
        std::hint::black_box(view);
    });
    println!("    first refresh (builds the matrix): {build:.2} / {build_p99:.2}");

    let mut view = MatrixView::new();
    view.refresh(&timeline, &servers, now);
    view.set_page(56);
    let mut times: Vec<Duration> = (0..100)
        .map(|_| {
            feed(&mut timeline, start, &mut next_id, 64);
            let started = Instant::now();
            view.refresh(&timeline, &servers, now);
            started.elapsed()
        })
        .collect();
    let (live, live_p99) = millis(&mut times);
    println!("    live refresh after 64 more runs (sorted by name): {live:.2} / {live_p99:.2}");
    view.handle(MatrixKey::Right, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    view.handle(MatrixKey::Sort, &timeline);
    let mut times: Vec<Duration> = (0..100)
        .map(|_| {
            feed(&mut timeline, start, &mut next_id, 64);
            let started = Instant::now();
            view.refresh(&timeline, &servers, now);
            started.elapsed()
        })
        .collect();
    let (live, live_p99) = millis(&mut times);
    println!("    live refresh after 64 more runs (sorted by outcome): {live:.2} / {live_p99:.2}");

    let (sort, sort_p99) = timed(60, || {
        view.handle(MatrixKey::Sort, &timeline);
    });
    println!("    a sort change (s, cycling name → duration → outcome): {sort:.2} / {sort_p99:.2}");
    view.handle(MatrixKey::FilterStart, &timeline);
    let (filter, filter_p99) = timed(60, || {
        view.handle(MatrixKey::Filter('0'), &timeline);
        view.handle(MatrixKey::FilterBackspace, &timeline);
    });
    println!(
        "    a filter key (type '0' then Backspace, each a pass over the rows): {:.2} / {:.2}",
        filter / 2.0,
        filter_p99 / 2.0
    );
    view.handle(MatrixKey::Close, &timeline);

    // A frame with the cursor half way down, sorted by outcome.
    while view.sort != fleetdeck::tui::matrix_view::Sort::Outcome {
        view.handle(MatrixKey::Sort, &timeline);
    }
    for _ in 0..90 {
        view.handle(MatrixKey::PageDown, &timeline);
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let (frame, frame_p99) = timed(300, || {
        terminal
            .draw(|frame| {
                fleetdeck::tui::ui::matrix::draw(frame, frame.area(), &view, &timeline, now)
            })
            .unwrap();
    });
    println!("    one frame at 200×60: {frame:.3} / {frame_p99:.3}  (goal ≤ 2 ms)");
}
