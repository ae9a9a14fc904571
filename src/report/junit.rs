//! The JUnit report: one testsuite per action, one testcase per run of a (server, action), so
//! a CI viewer lists the fleet's runs the way it lists tests. Written with the `junit-report`
//! crate; what it cannot say in the schema it validates against (a reason on `<skipped>`) goes
//! in the testcase's `<system-out>`.

use super::Report;
use crate::engine::model::Outcome;
use crate::timeline::Entry;
use crate::timeline::matrix::{ACTIONS, counts};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use junit_report::{Duration, OffsetDateTime, ReportBuilder, TestCase, TestCaseBuilder};
use junit_report::{TestSuite, TestSuiteBuilder};
use std::collections::HashMap;
use std::io::Write;

pub fn write(report: &Report, out: &mut impl Write) -> Result<()> {
    build(report)
        .write_xml(out)
        .context("writing the JUnit XML")
}

/// The suites of the runs the report covers, in action order; an action that never ran has
/// no suite.
pub fn build(report: &Report) -> junit_report::Report {
    let mut builder = ReportBuilder::new();
    for action in ACTIONS {
        let entries: Vec<&Entry> = (report.timeline.entries().iter())
            .filter(|entry| entry.action == action && counts(entry))
            .collect();
        if entries.is_empty() {
            continue;
        }
        builder.add_testsuite(suite(report, action.as_str(), &entries));
    }
    builder.build()
}

fn suite(report: &Report, name: &str, entries: &[&Entry]) -> TestSuite {
    let mut suite = TestSuiteBuilder::new(name);
    if let Some(first) = entries.iter().filter_map(|entry| entry.at()).min() {
        suite.set_timestamp(timestamp(first));
    }
    for (entry, name) in entries.iter().zip(case_names(entries)) {
        suite.add_testcase(case(report, entry, &name));
    }
    suite.build()
}

/// The server, and in parentheses what tells its runs apart: a health check names the deploy
/// it judged, a dry run says so, and several attempts of the same are numbered in time order,
/// so none is hidden behind another of the same name.
fn case_names(entries: &[&Entry]) -> Vec<String> {
    let key = |entry: &Entry| (entry.server.clone(), entry.check_mode, entry.health_of);
    let mut total: HashMap<_, usize> = HashMap::new();
    for entry in entries {
        *total.entry(key(entry)).or_default() += 1;
    }
    let mut seen: HashMap<_, usize> = HashMap::new();
    entries
        .iter()
        .map(|entry| {
            let mut qualifiers = Vec::new();
            if let Some(deploy) = entry.health_of {
                qualifiers.push(format!("health of deploy #{deploy}"));
            }
            if entry.check_mode {
                qualifiers.push("check mode".to_string());
            }
            let key = key(entry);
            if total[&key] > 1 {
                let attempt = seen.entry(key).or_default();
                *attempt += 1;
                qualifiers.push(format!("attempt {attempt}"));
            }
            match qualifiers.is_empty() {
                true => entry.server.clone(),
                false => format!("{} ({})", entry.server, qualifiers.join(", ")),
            }
        })
        .collect()
}

fn case(report: &Report, entry: &Entry, name: &str) -> TestCase {
    let name = &text(name);
    let time = Duration::milliseconds(entry.duration(report.made_at).as_millis() as i64);
    let mut notes = Vec::new();
    let mut case = match &entry.outcome {
        // Superseded: the attempt after it decides, as `fleetdeck run`'s exit code does.
        Some(outcome) if entry.retried => {
            notes.push("retried: another attempt followed".to_string());
            notes.push(format!("this attempt: {}", line(&message(outcome))));
            TestCaseBuilder::skipped(name)
        }
        None => {
            notes.push("still running at report time".to_string());
            TestCaseBuilder::skipped(name)
        }
        Some(Outcome::Succeeded) => TestCaseBuilder::success(name, time),
        Some(Outcome::Skipped { reason }) => {
            notes.push(format!("skipped: {reason}"));
            TestCaseBuilder::skipped(name)
        }
        Some(outcome @ Outcome::Cancelled { .. }) => {
            notes.push(match outcome.task() {
                Some(task) => format!("cancelled during task {task}"),
                None => "cancelled".to_string(),
            });
            TestCaseBuilder::skipped(name)
        }
        Some(outcome @ (Outcome::Unreachable { .. } | Outcome::Error { .. })) => {
            let message = message(outcome);
            let mut case = TestCaseBuilder::error(name, time, outcome.label(), &line(&message));
            case.set_trace(&text(&message));
            case
        }
        Some(
            outcome @ (Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Interrupted),
        ) => {
            let message = message(outcome);
            let mut case = TestCaseBuilder::failure(name, time, outcome.label(), &line(&message));
            case.set_trace(&text(&message));
            case
        }
    };
    case.set_classname(&text(&format!("{}.{}", report.env, entry.action)));
    if let Some(log) = &entry.log {
        notes.push(format!("log: {}", log.display()));
    }
    if let Some(recap) = &entry.recap {
        notes.push(format!("recap: {recap}"));
    }
    if let Some(healthy) = entry.healthy {
        notes.push(format!(
            "health check: {}",
            if healthy { "healthy" } else { "unhealthy" }
        ));
    }
    if !notes.is_empty() {
        case.set_system_out(&text(&notes.join("\n")));
    }
    let mut case = case.build();
    // The crate's skipped cases last no time; one cancelled mid-run or still running did.
    case.time = time;
    case
}

/// "task X: message", the task when known.
fn message(outcome: &Outcome) -> String {
    let what = match (outcome.message(), outcome) {
        (Some(message), _) => message.to_string(),
        (None, Outcome::Failed { rc: Some(rc), .. }) => format!("failed with exit code {rc}"),
        (None, _) => outcome.label().to_string(),
    };
    match outcome.task() {
        Some(task) => format!("task {task}: {what}"),
        None => what,
    }
}

/// Text XML 1.0 can carry: control characters (which no escape makes legal) are written as
/// visible escapes, and a CDATA end (`]]>`, which the crate writes raw into CDATA) is broken.
/// `<`, `&` and quotes are the crate's to escape.
fn text(raw: &str) -> String {
    let mut clean = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\t' | '\n' | '\r' => clean.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => clean.extend(c.escape_unicode()),
            c => clean.push(c),
        }
    }
    clean.replace("]]>", "]] >")
}

/// For an attribute: one line (a parser would fold the line breaks into spaces anyway).
fn line(raw: &str) -> String {
    text(raw).replace(['\n', '\r', '\t'], " ")
}

fn timestamp(at: DateTime<Utc>) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(at.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
