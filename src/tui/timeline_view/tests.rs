use super::*;
use crate::engine::model::{Action, Outcome};
use chrono::TimeZone;

/// Fixed times: `t(0)` is 2027-01-15 08:00:00 UTC.
pub(crate) fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

pub(crate) fn failed(task: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some(task.into()),
        message: "exit status 2".into(),
    }
}

/// Builds timelines the way the journal or the engine would feed them.
#[derive(Default)]
pub(crate) struct Runs {
    pub timeline: Timeline,
    next_id: ItemId,
}

impl Runs {
    pub fn session(mut self, at: i64, workers: u32) -> Runs {
        self.timeline.session(t(at), workers);
        self
    }

    pub fn resize(mut self, at: i64, workers: u32) -> Runs {
        self.timeline.resized(t(at), workers);
        self
    }

    /// A run of `server`'s `action` on `lane` from `start`; `end` with `outcome`, or still running.
    pub fn run(
        mut self,
        server: &str,
        action: Action,
        lane: u32,
        start: i64,
        end: Option<(i64, Outcome)>,
    ) -> Runs {
        self.next_id += 1;
        let id = self.next_id;
        self.timeline.enqueued(id, server, action, false, None);
        self.timeline.started(id, lane, t(start));
        if let Some((end, outcome)) = end {
            let log = PathBuf::from(format!("logs/{server}-{action}-{id}.log"));
            self.timeline
                .finished(id, server, action, &outcome, t(end), Some(log), None);
        }
        self
    }
}

/// Two workers: w1 ran web-01 (0–40 s, ok) then web-03 (50–90 s, failed); w2 ran web-02
/// (5–60 s, ok) and db-01's check runs since 100 s. Now is 120 s.
pub(crate) fn two_lanes() -> Timeline {
    Runs::default()
        .session(0, 2)
        .run(
            "web-01",
            Action::Deploy,
            1,
            0,
            Some((40, Outcome::Succeeded)),
        )
        .run(
            "web-02",
            Action::Deploy,
            2,
            5,
            Some((60, Outcome::Succeeded)),
        )
        .run(
            "web-03",
            Action::Deploy,
            1,
            50,
            Some((90, failed("restart app"))),
        )
        .run("db-01", Action::Check, 2, 100, None)
        .timeline
}

const NOW: i64 = 120;
const WIDTH: u16 = 100;

fn view() -> TimelineView {
    TimelineView::new(FixedOffset::east_opt(0).unwrap())
}

fn press(view: &mut TimelineView, timeline: &Timeline, keys: &[TimelineKey]) -> TimelineOutcome {
    let mut outcome = TimelineOutcome::Stay;
    for key in keys {
        outcome = view.handle(*key, timeline, t(NOW), WIDTH);
    }
    outcome
}

fn under_cursor(view: &TimelineView, timeline: &Timeline) -> Option<String> {
    view.cursor_entry(timeline, t(NOW))
        .map(|entry| entry.server.clone())
}

#[test]
fn it_opens_on_now_at_ten_seconds_a_column() {
    let view = view();
    let window = view.window(t(NOW), bar_columns(WIDTH));
    assert!(view.following());
    assert_eq!(view.seconds_per_column(), 10);
    assert_eq!(window.column(t(NOW)), i64::from(window.columns) - 1);
    assert_eq!(window.columns, WIDTH - 2 - LABEL_WIDTH);
}

#[test]
fn it_opens_zoomed_to_the_current_session() {
    let offset = FixedOffset::east_opt(0).unwrap();
    // 90 s into a session: 1 s a column shows it all on a wide screen, 2 s on a narrow one.
    let short = Runs::default().session(NOW - 90, 2).timeline;
    assert_eq!(
        TimelineView::fitted(offset, &short, t(NOW), 200).seconds_per_column(),
        1
    );
    assert_eq!(
        TimelineView::fitted(offset, &short, t(NOW), 80).seconds_per_column(),
        2
    );
    // An hour in: a minute a column.
    let long = Runs::default().session(NOW - 3600, 2).timeline;
    assert_eq!(
        TimelineView::fitted(offset, &long, t(NOW), 100).seconds_per_column(),
        60
    );
    // Nothing recorded yet: the default.
    let empty = Timeline::default();
    assert_eq!(
        TimelineView::fitted(offset, &empty, t(NOW), 100).seconds_per_column(),
        10
    );
}

#[test]
fn the_first_arrow_picks_the_newest_bar_on_screen() {
    let timeline = two_lanes();
    let mut view = view();
    press(&mut view, &timeline, &[TimelineKey::Left]);
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("db-01"));
}

#[test]
fn left_and_right_walk_the_bars_of_one_lane() {
    let timeline = two_lanes();
    let mut view = view();
    press(&mut view, &timeline, &[TimelineKey::Home]);
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-01"));
    press(&mut view, &timeline, &[TimelineKey::Right]);
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-03"));
    // The lane's last bar: the cursor stays.
    press(&mut view, &timeline, &[TimelineKey::Right]);
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-03"));
    press(
        &mut view,
        &timeline,
        &[TimelineKey::Left, TimelineKey::Left],
    );
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-01"));
}

#[test]
fn up_and_down_land_on_the_nearest_bar_in_time() {
    let timeline = two_lanes();
    let mut view = view();
    // web-03 (50–90 s) overlaps web-02 (5–60 s), not db-01 (from 100 s).
    press(
        &mut view,
        &timeline,
        &[TimelineKey::Home, TimelineKey::Right, TimelineKey::Down],
    );
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-02"));
    assert_eq!(view.cursor.unwrap().lane, 2);
    press(&mut view, &timeline, &[TimelineKey::Right, TimelineKey::Up]);
    // From db-01 (100 s on): web-03 ended at 90 s, nearer than web-01 (ended at 40 s).
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-03"));
    // No lane above the first: the cursor stays.
    press(&mut view, &timeline, &[TimelineKey::Up]);
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("web-03"));
}

#[test]
fn zoom_walks_the_ladder_and_stops_at_its_ends() {
    let timeline = two_lanes();
    let mut view = view();
    press(&mut view, &timeline, &[TimelineKey::ZoomIn]);
    assert_eq!(view.seconds_per_column(), 5);
    press(&mut view, &timeline, &[TimelineKey::ZoomIn; 5]);
    assert_eq!(view.seconds_per_column(), 1);
    press(&mut view, &timeline, &[TimelineKey::ZoomOut; 20]);
    assert_eq!(view.seconds_per_column(), 3600);
    assert!(
        view.following(),
        "zooming while following keeps now in sight"
    );
}

#[test]
fn a_bar_off_screen_is_scrolled_into_sight_and_end_follows_now_again() {
    // 100 s ago at 1 s a column: web-01's start is off the left edge of a 93-column window.
    let timeline = two_lanes();
    let mut view = view();
    press(&mut view, &timeline, &[TimelineKey::ZoomIn; 3]);
    assert_eq!(view.seconds_per_column(), 1);
    press(&mut view, &timeline, &[TimelineKey::Home]);
    let window = view.window(t(NOW), bar_columns(WIDTH));
    assert!(!view.following());
    assert_eq!(
        window.column(t(0)),
        1,
        "one column of context before the bar"
    );
    // Walking right to a bar past the right edge scrolls forward again.
    press(
        &mut view,
        &timeline,
        &[TimelineKey::Down, TimelineKey::Right],
    );
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("db-01"));
    let window = view.window(t(NOW), bar_columns(WIDTH));
    assert!((0..i64::from(window.columns)).contains(&window.column(t(100))));
    press(&mut view, &timeline, &[TimelineKey::Home, TimelineKey::End]);
    assert!(view.following());
    assert_eq!(under_cursor(&view, &timeline).as_deref(), Some("db-01"));
}

#[test]
fn paging_back_stops_following_and_paging_forward_reaches_now_again() {
    let timeline = two_lanes();
    let mut view = view();
    let columns = bar_columns(WIDTH);
    let before = view.window(t(NOW), columns);
    press(&mut view, &timeline, &[TimelineKey::Earlier]);
    assert!(!view.following());
    let after = view.window(t(NOW), columns);
    assert_eq!(before.left - after.left, TimeDelta::seconds(10 * 46));
    press(&mut view, &timeline, &[TimelineKey::Later]);
    assert!(view.following());
}

#[test]
fn enter_opens_the_bars_log_or_says_there_is_none_yet() {
    let timeline = two_lanes();
    let mut view = view();
    let opened = press(
        &mut view,
        &timeline,
        &[TimelineKey::Home, TimelineKey::Right, TimelineKey::Open],
    );
    assert_eq!(
        opened,
        TimelineOutcome::OpenLog {
            title: "web-03 · deploy".into(),
            path: PathBuf::from("logs/web-03-deploy-3.log"),
        }
    );
    let running = press(&mut view, &timeline, &[TimelineKey::End, TimelineKey::Open]);
    assert_eq!(
        running,
        TimelineOutcome::Notice("no log for db-01 check yet".into())
    );
    assert_eq!(
        press(&mut view, &timeline, &[TimelineKey::Close]),
        TimelineOutcome::Close
    );
}

#[test]
fn enter_with_no_bar_chosen_says_how_to_choose_one() {
    let timeline = two_lanes();
    let outcome = press(&mut view(), &timeline, &[TimelineKey::Open]);
    assert!(
        matches!(outcome, TimelineOutcome::Notice(text) if text.contains("no run under the cursor"))
    );
}

#[test]
fn the_cursor_stays_on_its_bar_as_runs_are_added() {
    let mut runs = Runs::default().session(0, 1).run(
        "web-01",
        Action::Deploy,
        1,
        0,
        Some((10, Outcome::Succeeded)),
    );
    let mut view = view();
    press(&mut view, &runs.timeline, &[TimelineKey::Home]);
    runs = runs
        .run(
            "web-02",
            Action::Deploy,
            1,
            10,
            Some((20, Outcome::Succeeded)),
        )
        .run("web-03", Action::Deploy, 1, 20, None);
    assert_eq!(
        under_cursor(&view, &runs.timeline).as_deref(),
        Some("web-01")
    );
}

#[test]
fn lanes_are_the_worker_slots_up_to_the_most_there_were() {
    let timeline = Runs::default()
        .session(0, 2)
        .resize(10, 4)
        .resize(30, 2)
        .run(
            "web-01",
            Action::Deploy,
            1,
            0,
            Some((5, Outcome::Succeeded)),
        )
        .timeline;
    assert_eq!(timeline.shown_lanes(), 1..5);
    assert_eq!(Timeline::default().shown_lanes(), 1..1);
}
