//! A rollout's own rules as tables: where each step leads, what stops it, what is left.

use super::*;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap()
}

/// Servers s1..sN, deploy items 101.., canary and window as given.
fn rollout(n: usize, canary: u32, window: u32, max_fail: Option<f64>) -> Rollout {
    let members = (1..=n)
        .map(|i| (format!("s{i}"), 100 + i as ItemId))
        .collect();
    let rules = Rules {
        canary,
        window,
        max_fail_percentage: max_fail,
        health_gate: true,
    };
    Rollout::new(7, Action::Deploy, t0(), members, rules)
}

fn admit(s: &str) -> Step {
    Step::Admit { server: s.into() }
}
fn deployed(s: &str) -> Step {
    Step::Deployed { server: s.into() }
}
fn healthy(s: &str) -> Step {
    Step::Healthy { server: s.into() }
}
fn failed(s: &str) -> Step {
    Step::Failed {
        server: s.into(),
        reason: "deploy failed (rc 2)".into(),
    }
}
fn dropped(s: &str) -> Step {
    Step::Dropped {
        server: s.into(),
        reason: "cancelled before it ran".into(),
    }
}

struct Case {
    name: &'static str,
    rollout: Rollout,
    steps: Vec<Step>,
    phase: Phase,
    room: usize,
}

#[test]
fn steps_lead_where_an_operator_expects() {
    let stopped = |reason: &str| Phase::Stopped {
        reason: reason.into(),
    };
    let cases = vec![
        Case {
            name: "a new rollout lets only its canary in",
            rollout: rollout(5, 1, 2, None),
            steps: vec![],
            phase: Phase::Canary,
            room: 1,
        },
        Case {
            name: "the canary in flight leaves no room",
            rollout: rollout(5, 1, 2, None),
            steps: vec![admit("s1")],
            phase: Phase::Canary,
            room: 0,
        },
        Case {
            name: "a deployed canary still waits for its health check",
            rollout: rollout(5, 1, 2, None),
            steps: vec![admit("s1"), deployed("s1")],
            phase: Phase::Canary,
            room: 0,
        },
        Case {
            name: "a healthy canary opens the window",
            rollout: rollout(5, 1, 2, None),
            steps: vec![admit("s1"), deployed("s1"), healthy("s1")],
            phase: Phase::Window,
            room: 2,
        },
        Case {
            name: "two canaries: both must be healthy",
            rollout: rollout(5, 2, 2, None),
            steps: vec![admit("s1"), admit("s2"), healthy("s1")],
            phase: Phase::Canary,
            room: 0,
        },
        Case {
            name: "more canaries than the window still go a window at a time",
            rollout: rollout(6, 3, 2, None),
            steps: vec![admit("s1"), admit("s2")],
            phase: Phase::Canary,
            room: 0,
        },
        Case {
            name: "the third canary goes when one of the first two is healthy",
            rollout: rollout(6, 3, 2, None),
            steps: vec![admit("s1"), admit("s2"), healthy("s1")],
            phase: Phase::Canary,
            room: 1,
        },
        Case {
            name: "no canary: the window is open from the start",
            rollout: rollout(5, 0, 3, None),
            steps: vec![],
            phase: Phase::Window,
            room: 3,
        },
        Case {
            name: "a member waiting for its health check holds its place",
            rollout: rollout(5, 0, 2, None),
            steps: vec![admit("s1"), admit("s2"), deployed("s1")],
            phase: Phase::Window,
            room: 0,
        },
        Case {
            name: "each healthy member frees one place at once",
            rollout: rollout(5, 0, 2, None),
            steps: vec![admit("s1"), admit("s2"), healthy("s1")],
            phase: Phase::Window,
            room: 1,
        },
        Case {
            name: "a failed canary stops the rollout, whatever max_fail_percentage",
            rollout: rollout(5, 1, 2, Some(50.0)),
            steps: vec![admit("s1"), failed("s1")],
            phase: stopped("canary s1 deploy failed (rc 2)"),
            room: 0,
        },
        Case {
            name: "without max_fail_percentage one failure stops it",
            rollout: rollout(5, 0, 2, None),
            steps: vec![admit("s1"), admit("s2"), failed("s2")],
            phase: stopped("s2 deploy failed (rc 2)"),
            room: 0,
        },
        Case {
            name: "a failure within max_fail_percentage goes on",
            rollout: rollout(5, 0, 2, Some(20.0)),
            steps: vec![admit("s1"), admit("s2"), failed("s2")],
            phase: Phase::Window,
            room: 1,
        },
        Case {
            name: "the failure that passes max_fail_percentage stops it",
            rollout: rollout(5, 0, 2, Some(20.0)),
            steps: vec![admit("s1"), admit("s2"), failed("s2"), failed("s1")],
            phase: stopped(
                "s1 deploy failed (rc 2) (2 of 5 failed, 40% > max_fail_percentage 20%)",
            ),
            room: 0,
        },
        Case {
            name: "resume opens the window again",
            rollout: rollout(5, 0, 2, None),
            steps: vec![admit("s1"), failed("s1"), Step::Resumed],
            phase: Phase::Window,
            room: 2,
        },
        Case {
            name: "resume after a failed canary goes on to the window",
            rollout: rollout(5, 1, 2, None),
            steps: vec![admit("s1"), failed("s1"), Step::Resumed],
            phase: Phase::Window,
            room: 2,
        },
        Case {
            name: "a dropped member does not count as failed",
            rollout: rollout(3, 0, 1, None),
            steps: vec![dropped("s3")],
            phase: Phase::Window,
            room: 1,
        },
        Case {
            name: "every member decided: done, failures and all",
            rollout: rollout(3, 0, 3, Some(50.0)),
            steps: vec![
                admit("s1"),
                admit("s2"),
                admit("s3"),
                healthy("s1"),
                failed("s2"),
                healthy("s3"),
            ],
            phase: Phase::Done,
            room: 0,
        },
        Case {
            name: "a stopped rollout whose last member ends is done",
            rollout: rollout(2, 0, 2, None),
            steps: vec![admit("s1"), admit("s2"), failed("s1"), healthy("s2")],
            phase: Phase::Done,
            room: 0,
        },
        Case {
            name: "abort lets nothing more in",
            rollout: rollout(4, 0, 2, None),
            steps: vec![admit("s1"), Step::Aborted],
            phase: Phase::Aborted,
            room: 0,
        },
        Case {
            name: "a late word never undoes a verdict",
            rollout: rollout(3, 0, 1, None),
            steps: vec![admit("s1"), healthy("s1"), deployed("s1")],
            phase: Phase::Window,
            room: 1,
        },
        Case {
            name: "a member let in before a crash waits its turn again",
            rollout: rollout(3, 1, 1, None),
            steps: vec![
                admit("s1"),
                Step::Requeued {
                    server: "s1".into(),
                },
            ],
            phase: Phase::Canary,
            room: 1,
        },
    ];
    for case in cases {
        let mut rollout = case.rollout;
        for step in &case.steps {
            rollout.apply(step);
        }
        assert_eq!(rollout.phase, case.phase, "{}", case.name);
        assert_eq!(rollout.room(), case.room, "{}: room", case.name);
    }
}

#[test]
fn apply_says_which_phase_it_left() {
    let mut rollout = rollout(3, 1, 1, None);
    assert_eq!(rollout.apply(&admit("s1")), None);
    assert_eq!(rollout.apply(&healthy("s1")), Some(Phase::Canary));
    assert_eq!(rollout.apply(&admit("s2")), None);
}

#[test]
fn window_as_a_share_rounds_up_and_is_never_zero() {
    for (window, members, expected) in [
        (WindowSize::Servers(2), 9, 2),
        (WindowSize::Servers(0), 9, 1),
        (WindowSize::Percent(25.0), 9, 3),
        (WindowSize::Percent(25.0), 8, 2),
        (WindowSize::Percent(1.0), 9, 1),
        (WindowSize::Percent(100.0), 9, 9),
    ] {
        assert_eq!(window.resolve(members), expected, "{window} of {members}");
    }
}

#[test]
fn texts_say_where_it_is() {
    let mut r = rollout(4, 1, 2, None);
    r.apply(&admit("s1"));
    assert_eq!(r.name(), "deploy #7");
    assert_eq!(r.step_text(), "canary s1");
    r.apply(&healthy("s1"));
    r.apply(&admit("s2"));
    assert_eq!(r.step_text(), "window 1/2");
    r.apply(&failed("s2"));
    assert_eq!(r.step_text(), "stopped: s2 deploy failed (rc 2)");
    assert_eq!(r.progress_text(), "1/4 healthy · 1 failed · 2 waiting");
}

#[test]
fn a_rollout_survives_the_journal() {
    let mut r = rollout(3, 1, 2, Some(10.0));
    r.apply(&admit("s1"));
    r.apply(&failed("s1"));
    let text = serde_json::to_string(&r).unwrap();
    let mut back: Rollout = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    // Read back without its counts and index, it goes on exactly as the one in memory.
    for step in [Step::Resumed, admit("s2"), healthy("s2"), admit("s3")] {
        assert_eq!(back.apply(&step), r.apply(&step), "{step:?}");
        assert_eq!(
            (back.tally(), back.room()),
            (r.tally(), r.room()),
            "{step:?}"
        );
        assert_eq!(back.member("s3"), r.member("s3"));
    }
    assert_eq!(back, r);
}
