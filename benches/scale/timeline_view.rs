//! (10) The dashboard's timeline of 10,000 servers × 3 actions (30,000 runs) on 64 lanes: one
//! frame at 200×60, at the default zoom (following now) and zoomed out until the whole history
//! is on screen (every bar drawn).

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use fleetdeck::engine::model::{Action, Outcome};
use fleetdeck::timeline::Timeline;
use fleetdeck::tui::timeline_view::{TimelineKey, TimelineView};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

const SERVERS: u64 = 10_000;
const LANES: u32 = 64;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const FRAMES: usize = 300;

pub fn run() {
    let (timeline, now) = history();
    let runs = timeline.entries().len();
    let offset = FixedOffset::east_opt(0).unwrap();
    let mut following = TimelineView::new(offset);
    following.handle(TimelineKey::End, &timeline, now, WIDTH);
    let mut whole = TimelineView::new(offset);
    for _ in 0..8 {
        whole.handle(TimelineKey::ZoomOut, &timeline, now, WIDTH);
    }
    whole.handle(TimelineKey::End, &timeline, now, WIDTH);
    let (median, p99) = frame_times(&following, &timeline, now);
    println!(
        "(10) timeline frame, {runs} runs on {LANES} lanes, {WIDTH}×{HEIGHT}, 10 s/col following now: median {:.3} ms, p99 {:.3} ms (goal ≤ 2 ms)",
        ms(median),
        ms(p99)
    );
    let (median, p99) = frame_times(&whole, &timeline, now);
    println!(
        "     zoomed out to {} s/col, the whole history on screen: median {:.3} ms, p99 {:.3} ms",
        whole.seconds_per_column(),
        ms(median),
        ms(p99)
    );
    // What the screen costs with no bar at all: the floor under both figures.
    let (median, _) = frame_times(&following, &Timeline::default(), now);
    println!(
        "     an empty timeline's frame, for scale: median {:.3} ms",
        ms(median)
    );
}

/// Every server provisioned, deployed and checked, each run on the first worker free, runs of
/// 3–40 s; the last 64 still run at `now`.
fn history() -> (Timeline, DateTime<Utc>) {
    let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let mut timeline = Timeline::default();
    timeline.session(start, LANES);
    let mut free: BinaryHeap<Reverse<(DateTime<Utc>, u32)>> =
        (1..=LANES).map(|lane| Reverse((start, lane))).collect();
    let mut ends = Vec::new();
    let mut last_of_lane = std::collections::HashMap::new();
    for (n, action) in (0..SERVERS)
        .flat_map(|s| Action::ALL.map(|a| (s, a)))
        .enumerate()
    {
        let (server, id) = (format!("srv-{:05}", action.0), n as u64 + 1);
        let Reverse((at, lane)) = free.pop().unwrap();
        // A fixed scramble, so every bench run draws the same picture.
        let seconds = 3 + (n as i64 * 7_919) % 38;
        let end = at + TimeDelta::seconds(seconds);
        timeline.enqueued(id, &server, action.1, false, None);
        timeline.started(id, lane, at);
        ends.push((id, server, action.1, end, n));
        last_of_lane.insert(lane, (id, at));
        free.push(Reverse((end, lane)));
    }
    // Each lane's last run still runs; every other one ended before its lane's last began.
    let running: std::collections::HashSet<u64> =
        last_of_lane.values().map(|(id, _)| *id).collect();
    let now = last_of_lane.values().map(|(_, at)| *at).max().unwrap() + TimeDelta::seconds(1);
    for (id, server, action, end, n) in ends.into_iter().filter(|run| !running.contains(&run.0)) {
        let outcome = match n % 50 {
            0 => Outcome::Failed {
                rc: Some(2),
                task: Some("restart app".into()),
                message: "exit status 2".into(),
            },
            1 => Outcome::Unreachable {
                message: "no route to host".into(),
            },
            _ => Outcome::Succeeded,
        };
        timeline.finished(id, &server, action, &outcome, end, None, None);
    }
    (timeline, now)
}

fn frame_times(
    view: &TimelineView,
    timeline: &Timeline,
    now: DateTime<Utc>,
) -> (Duration, Duration) {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    let mut times: Vec<Duration> = (0..FRAMES)
        .map(|_| {
            let started = Instant::now();
            terminal
                .draw(|frame| {
                    fleetdeck::tui::ui::timeline::draw(frame, frame.area(), view, timeline, now)
                })
                .unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
