use super::*;
use crate::engine::model::Action;
use crate::timeline::Timeline;
use chrono::TimeZone;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
}

fn failed(task: &str, message: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some(task.to_string()),
        message: message.to_string(),
    }
}

/// Three workers, grown to four, then shrunk to two; `web-<b>` has a hostile name.
fn resized_timeline(log: Option<std::path::PathBuf>) -> Timeline {
    let mut timeline = Timeline::default();
    timeline.session(t(0), 3);
    for (id, server) in [
        (1, "web-01"),
        (2, "<b>web</b>"),
        (3, "web-03"),
        (4, "web-04"),
    ] {
        timeline.enqueued(id, server, Action::Deploy, false, None);
    }
    timeline.started(1, 1, t(1));
    timeline.started(2, 2, t(1));
    timeline.finished(
        1,
        "web-01",
        Action::Deploy,
        &Outcome::Succeeded,
        t(9),
        None,
        None,
    );
    timeline.resized(t(10), 4);
    timeline.started(3, 4, t(11));
    let outcome = failed("Restart <app>", "exit 1 & more");
    timeline.finished(2, "<b>web</b>", Action::Deploy, &outcome, t(12), log, None);
    timeline.resized(t(20), 2);
    timeline.finished(
        3,
        "web-03",
        Action::Deploy,
        &Outcome::Succeeded,
        t(25),
        None,
        None,
    );
    timeline.started(4, 1, t(26));
    timeline
}

fn page_of(timeline: Timeline, now: DateTime<Utc>) -> String {
    let report = Report {
        env: "demo".to_string(),
        window: Window::All,
        timeline,
        made_at: now,
        servers: vec!["web-01".to_string()],
    };
    let mut out = Vec::new();
    write(&report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_lane_is_shaded_where_its_worker_did_not_exist() {
    let timeline = resized_timeline(None);
    let scale = time_scale::Scale::fitted(t(1), t(30), Vec::new());
    let absent = |lane| timeline_svg::absent(timeline.workers(), lane, &scale);
    assert_eq!(absent(1), []);
    assert_eq!(
        absent(3),
        [(t(20), t(30))],
        "slot 3 drained at the shrink to 2"
    );
    assert_eq!(
        absent(4),
        [(t(1), t(10)), (t(20), t(30))],
        "slot 4 came with the growth to 4 and went with the shrink"
    );
}

#[test]
fn names_tasks_and_messages_are_escaped_and_nothing_is_fetched() {
    let page = page_of(resized_timeline(None), t(30));
    assert!(!page.contains("<b>web</b>"), "a server name became markup");
    assert!(page.contains("&lt;b&gt;web&lt;/b&gt;"));
    assert!(page.contains("Restart &lt;app&gt;"));
    assert!(page.contains("exit 1 &amp; more"));
    for external in ["http://", "https://", "<link", "@import", "src="] {
        assert!(!page.contains(external), "the page names {external}");
    }
}

#[test]
fn a_running_bar_ends_at_the_reports_time_and_has_no_end_attribute() {
    let page = page_of(resized_timeline(None), t(30));
    let running = page
        .split("<rect ")
        .find(|rect| rect.contains("data-server=\"web-04\""))
        .expect("web-04's bar");
    assert!(running.contains("data-outcome=\"running\""));
    assert!(!running.contains("data-end"));
    assert!(running.contains("web-04 · deploy · "), "{running}");
    assert!(running.contains("for 4s · running"), "{running}");
}

#[test]
fn a_failure_shows_the_last_lines_of_its_log_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("web_deploy.log");
    let lines: Vec<String> = (1..=30)
        .map(|n| format!("\u{1b}[0;31mline {n}\u{1b}[0m"))
        .collect();
    std::fs::write(&log, lines.join("\n") + "\n\n").unwrap();
    let page = page_of(resized_timeline(Some(log)), t(30));
    assert!(page.contains("line 11\nline 12"), "the last 20 lines");
    assert!(page.contains("line 30\n</pre>"));
    assert!(!page.contains("line 10\n"), "only the last 20 lines");
    assert!(!page.contains('\u{1b}'));
}

#[test]
fn a_missing_log_says_so() {
    let gone = std::path::PathBuf::from("/nonexistent/fleetdeck/web_deploy.log");
    let page = page_of(resized_timeline(Some(gone)), t(30));
    assert!(page.contains("The log could not be read: "), "{page}");
}

#[test]
fn durations_read_short() {
    assert_eq!(duration_words(Duration::from_millis(400)), "0.4s");
    assert_eq!(duration_words(Duration::from_secs(7)), "7s");
    assert_eq!(duration_words(Duration::from_secs(65)), "1m05s");
    assert_eq!(duration_words(Duration::from_secs(7380)), "2h03m");
}

#[test]
fn past_two_hundred_failures_the_rest_are_one_row_each_without_log_tails() {
    let mut timeline = Timeline::default();
    timeline.session(t(0), 1);
    for id in 1..=205 {
        let server = format!("srv-{id:03}");
        timeline.enqueued(id, &server, Action::Check, false, None);
        timeline.started(id, 1, t(id as i64));
        let log = Some(std::path::PathBuf::from(format!(
            "/nonexistent/{server}.log"
        )));
        let outcome = failed("Probe", "refused");
        timeline.finished(
            id,
            &server,
            Action::Check,
            &outcome,
            t(id as i64),
            log,
            None,
        );
    }
    let page = page_of(timeline, t(300));
    assert!(page.contains("Failures <span class=\"dim\">(205)</span>"));
    assert_eq!(page.matches("<article").count(), 200);
    assert_eq!(page.matches("The log could not be read").count(), 200);
    assert!(page.contains("5 more, without their logs' tails"));
    assert!(page.contains("<td>srv-205</td>"));
    assert!(page.contains("/nonexistent/srv-205.log"));
}

#[test]
fn a_long_idle_stretch_between_sessions_is_cut_to_a_narrow_break() {
    use time_scale::{BREAK_WIDTH, Scale};
    use timeline_svg::{GUTTER, PLOT_WIDTH};
    let scale = Scale::fitted(t(0), t(1000), vec![(t(0), t(10)), (t(990), t(1000))]);
    assert_eq!(scale.breaks.len(), 1);
    assert_eq!((scale.breaks[0].from, scale.breaks[0].to), (t(10), t(990)));
    let px_per_second = (PLOT_WIDTH - BREAK_WIDTH) / 20.0;
    assert_eq!(scale.x(t(0)), GUTTER);
    assert_eq!(scale.x(t(10)), GUTTER + 10.0 * px_per_second);
    assert_eq!(scale.x(t(500)), scale.x(t(10)) + BREAK_WIDTH / 2.0);
    assert_eq!(scale.x(t(990)), scale.x(t(10)) + BREAK_WIDTH);
    assert_eq!(scale.x(t(1000)), GUTTER + PLOT_WIDTH);
    let short = Scale::fitted(t(0), t(100), vec![(t(0), t(40)), (t(60), t(100))]);
    assert!(short.breaks.is_empty(), "20 s idle is drawn to scale");
}

#[test]
fn a_retried_attempt_is_drawn_but_neither_listed_nor_counted_as_a_failure() {
    let mut timeline = Timeline::default();
    timeline.session(t(0), 1);
    let unreachable = Outcome::Unreachable {
        message: "ssh: connection refused".into(),
    };
    // The first attempt, superseded by its retry (a new item) that succeeded.
    for (id, outcome, from, to, retried) in [
        (1, unreachable, 1, 3, true),
        (2, Outcome::Succeeded, 5, 20, false),
    ] {
        timeline.enqueued(id, "web-01", Action::Deploy, false, None);
        timeline.apply(&crate::engine::journal::Record::Started {
            at: t(from),
            id,
            slot: 1,
            node: None,
        });
        timeline.apply(&crate::engine::journal::Record::Finished {
            at: t(to),
            id,
            server: "web-01".into(),
            action: Action::Deploy,
            outcome,
            recap: None,
            duration_ms: None,
            log: None,
            retried,
        });
    }
    let page = page_of(timeline, t(30));
    assert!(
        page.contains("Failures <span class=\"dim\">(0)</span>"),
        "{page}"
    );
    assert!(page.contains("Nothing went wrong in this window."));
    let counts = &page[page.find("<ul class=\"counts\">").unwrap()..];
    let counts = &counts[..counts.find("</ul>").unwrap()];
    assert!(
        !counts.contains("unreachable"),
        "not counted as unreachable: {counts}"
    );
    assert!(counts.contains("<b>1</b> retried"), "{counts}");
    assert!(counts.contains("<b>1</b> ok"), "{counts}");
    // Its bar is drawn as it went.
    assert_eq!(page.matches("data-outcome=\"unreachable\"").count(), 1);
}
