use super::*;
use crate::engine::model::{Action, ItemId};
use crate::timeline::{Timeline, Window};
use chrono::TimeZone;
use junit_report::TestResult;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

/// A timeline fed the way the engine feeds the live dashboard.
#[derive(Default)]
struct Runs(Timeline);

impl Runs {
    fn queue(&mut self, id: ItemId, server: &str, action: Action) -> &mut Self {
        self.0.enqueued(id, server, action, false, None);
        self
    }

    fn ran(&mut self, id: ItemId, from: i64, to: i64, outcome: Outcome) -> &mut Self {
        let entry = self.0.get(id).cloned();
        self.0.started(id, 1, t(from));
        let entry = entry.or_else(|| self.0.get(id).cloned()).unwrap();
        self.0
            .finished(id, &entry.server, entry.action, &outcome, t(to), None, None);
        self
    }

    fn report(&self, made_at: i64) -> Report {
        Report {
            env: "staging".into(),
            window: Window::All,
            timeline: self.0.clone(),
            made_at: t(made_at),
            servers: Vec::new(),
        }
    }
}

fn failed(task: Option<&str>, message: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: task.map(str::to_string),
        message: message.into(),
    }
}

/// (suite, case name, result word, message, system-out) for each case, in order.
fn cases(report: &Report) -> Vec<(String, String, &'static str, String, String)> {
    let built = build(report);
    let mut cases = Vec::new();
    for suite in built.testsuites() {
        for case in &suite.testcases {
            let (word, message) = match &case.result {
                TestResult::Success => ("ok", String::new()),
                TestResult::Skipped | TestResult::SkippedWithCause { .. } => {
                    ("skipped", String::new())
                }
                TestResult::Failure { type_, message, .. } => {
                    ("failure", format!("{type_}: {message}"))
                }
                TestResult::Error { type_, message, .. } => {
                    ("error", format!("{type_}: {message}"))
                }
            };
            let out = case.system_out.clone().unwrap_or_default();
            cases.push((suite.name.clone(), case.name.clone(), word, message, out));
        }
    }
    cases
}

#[test]
fn each_outcome_is_the_junit_result_a_ci_viewer_shows() {
    let mut runs = Runs::default();
    runs.queue(1, "web-01", Action::Provision)
        .ran(1, 0, 30, Outcome::Succeeded);
    runs.queue(2, "db-02", Action::Deploy).ran(
        2,
        31,
        45,
        failed(Some("Restart app"), "service did not start"),
    );
    runs.queue(3, "web-02", Action::Deploy).ran(
        3,
        31,
        33,
        Outcome::Unreachable {
            message: "ssh: connection refused".into(),
        },
    );
    runs.queue(4, "web-03", Action::Deploy).ran(
        4,
        31,
        40,
        Outcome::Cancelled { during_task: None },
    );
    runs.queue(5, "web-04", Action::Deploy).ran(
        5,
        31,
        91,
        Outcome::TimedOut {
            during_task: Some("Wait for port".into()),
        },
    );
    // A chain link after the failed deploy: skipped, never ran.
    runs.queue(6, "db-02", Action::Check);
    runs.0.finished(
        6,
        "db-02",
        Action::Check,
        &Outcome::Skipped {
            reason: "deploy failed".into(),
        },
        t(45),
        None,
        None,
    );
    // Cancelled while queued: it says nothing about its server.
    runs.queue(7, "web-05", Action::Check);
    runs.0.finished(
        7,
        "web-05",
        Action::Check,
        &Outcome::Cancelled { during_task: None },
        t(46),
        None,
        None,
    );
    // Still running when the report is made.
    runs.queue(8, "web-01", Action::Check);
    runs.0.started(8, 2, t(50));
    // Could not start; cut short by a crash of fleetdeck.
    runs.queue(9, "web-06", Action::Deploy).ran(
        9,
        51,
        51,
        Outcome::Error {
            message: "ansible-playbook not found".into(),
        },
    );
    runs.queue(10, "web-07", Action::Provision)
        .ran(10, 52, 55, Outcome::Interrupted);

    let report = runs.report(60);
    let got = cases(&report);
    let want = [
        ("provision", "web-01", "ok", "", ""),
        (
            "provision",
            "web-07",
            "failure",
            "interrupted: fleetdeck, its warm runner or its node stopped while it ran",
            "",
        ),
        (
            "deploy",
            "db-02",
            "failure",
            "failed: task Restart app: service did not start",
            "",
        ),
        (
            "deploy",
            "web-02",
            "error",
            "unreachable: ssh: connection refused",
            "",
        ),
        ("deploy", "web-03", "skipped", "", "cancelled"),
        (
            "deploy",
            "web-04",
            "failure",
            "timed out: task Wait for port: timed out",
            "",
        ),
        (
            "deploy",
            "web-06",
            "error",
            "error: ansible-playbook not found",
            "",
        ),
        ("check", "db-02", "skipped", "", "skipped: deploy failed"),
        (
            "check",
            "web-01",
            "skipped",
            "",
            "still running at report time",
        ),
    ];
    let got: Vec<_> = (got.iter())
        .map(|(s, n, w, m, o)| (s.as_str(), n.as_str(), *w, m.as_str(), o.as_str()))
        .collect();
    assert_eq!(got, want);

    let built = build(&report);
    let deploy = &built.testsuites()[1];
    assert_eq!(deploy.timestamp.unix_timestamp(), t(31).timestamp());
    let seconds: Vec<f64> = (deploy.testcases.iter())
        .map(|case| case.time.as_seconds_f64())
        .collect();
    // The cancelled run ran 9 s: a skipped case keeps the time it took.
    assert_eq!(seconds, [14.0, 2.0, 9.0, 60.0, 0.0]);
    let check = &built.testsuites()[2];
    assert_eq!(
        check.testcases[1].time.as_seconds_f64(),
        10.0,
        "running until made_at"
    );
    assert!(
        (deploy.testcases.iter()).all(|case| case.classname.as_deref() == Some("staging.deploy"))
    );
}

#[test]
fn attempts_health_checks_and_dry_runs_each_have_a_case_of_their_own() {
    let mut runs = Runs::default();
    runs.queue(1, "web-01", Action::Deploy)
        .ran(1, 0, 5, failed(None, "boom"));
    runs.queue(2, "web-01", Action::Deploy)
        .ran(2, 10, 20, Outcome::Succeeded);
    runs.0.enqueued(3, "web-01", Action::Check, false, Some(2));
    runs.ran(3, 20, 22, Outcome::Succeeded);
    runs.0.enqueued(4, "web-01", Action::Check, true, None);
    runs.ran(4, 30, 32, Outcome::Succeeded);
    runs.queue(5, "web-02", Action::Deploy)
        .ran(5, 0, 5, Outcome::Succeeded);
    let names: Vec<String> = (cases(&runs.report(40)).into_iter())
        .map(|(suite, name, ..)| format!("{suite}: {name}"))
        .collect();
    assert_eq!(
        names,
        [
            "deploy: web-01 (attempt 1)",
            "deploy: web-01 (attempt 2)",
            "deploy: web-02",
            "check: web-01 (health of deploy #2)",
            "check: web-01 (check mode)",
        ]
    );
}

#[test]
fn odd_characters_in_tasks_and_messages_stay_well_formed_xml() {
    let mut runs = Runs::default();
    runs.queue(1, "db-02", Action::Deploy).ran(
        1,
        0,
        5,
        failed(
            Some("Restart <app> & \"reload\" 'now'"),
            "line one\nbell \u{7} escape \u{1b}[31m end ]]> done",
        ),
    );
    let mut xml = Vec::new();
    write(&runs.report(10), &mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    // No character XML 1.0 forbids, escaped or not.
    assert!(
        !xml.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        "{xml}"
    );
    assert!(
        xml.contains(
            "message=\"task Restart &lt;app&gt; &amp; &quot;reload&quot; &apos;now&apos;: \
             line one bell \\u{7} escape \\u{1b}[31m end ]] &gt; done\""
        ),
        "{xml}"
    );
    // The body keeps the message's lines; a CDATA section ends only where the writer ends it.
    assert!(xml.contains("line one\nbell \\u{7}"), "{xml}");
    assert_eq!(
        xml.matches("]]>").count(),
        xml.matches("<![CDATA[").count(),
        "{xml}"
    );
}

/// An unreachable host retried and then reached, and a health check that failed once and
/// passed on its retry, as the journal holds them: each retry a new item.
fn retried_then_fine() -> Report {
    use crate::engine::journal::Record;
    use crate::engine::model::{Item, Purpose};
    let mut timeline = Timeline::default();
    let record = |id: ItemId, server: &str, action, outcome, from: i64, to: i64, retried| {
        let mut item = Item::requested(id, server, action, t(0));
        if action == Action::Check {
            item.purpose = Purpose::HealthCheck { deploy: 2 };
        }
        [
            Record::Enqueued { at: t(0), item },
            Record::Started {
                at: t(from),
                id,
                slot: 1,
                node: None,
            },
            Record::Finished {
                at: t(to),
                id,
                server: server.into(),
                action,
                outcome,
                recap: None,
                duration_ms: Some((to - from) as u64 * 1_000),
                log: None,
                retried,
            },
        ]
    };
    let unreachable = Outcome::Unreachable {
        message: "ssh: connection refused".into(),
    };
    let runs = [
        record(1, "web-01", Action::Deploy, unreachable, 0, 3, true),
        record(
            2,
            "web-01",
            Action::Deploy,
            Outcome::Succeeded,
            5,
            20,
            false,
        ),
        record(
            3,
            "web-01",
            Action::Check,
            failed(None, "503"),
            21,
            22,
            true,
        ),
        record(
            4,
            "web-01",
            Action::Check,
            Outcome::Succeeded,
            25,
            26,
            false,
        ),
    ];
    runs.iter().flatten().for_each(|r| timeline.apply(r));
    Runs(timeline).report(30)
}

#[test]
fn a_retried_attempt_is_a_skipped_case_not_a_failure() {
    let got: Vec<_> = cases(&retried_then_fine())
        .into_iter()
        .map(|(_, name, word, message, out)| (name, word, message, out))
        .collect();
    let superseded =
        |what: &str| format!("retried: another attempt followed\nthis attempt: {what}");
    assert_eq!(
        got,
        [
            (
                "web-01 (attempt 1)".to_string(),
                "skipped",
                String::new(),
                superseded("ssh: connection refused")
            ),
            (
                "web-01 (attempt 2)".to_string(),
                "ok",
                String::new(),
                String::new()
            ),
            (
                "web-01 (health of deploy #2, attempt 1)".to_string(),
                "skipped",
                String::new(),
                superseded("503")
            ),
            (
                "web-01 (health of deploy #2, attempt 2)".to_string(),
                "ok",
                String::new(),
                String::new()
            ),
        ]
    );
    // It took its time all the same.
    let built = build(&retried_then_fine());
    let first = &built.testsuites()[0].testcases[0];
    assert_eq!(first.time, Duration::seconds(3));
}
