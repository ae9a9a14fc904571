//! The HTML report: one self-contained page (inline CSS, inline SVG, a few lines of optional
//! inline script, nothing fetched) to hand to a colleague or keep with a CI run. It shows a
//! header with the counts, the timeline of worker lanes, the server × action matrix and each
//! failure with its log's last lines.
//!
//! Every bar of the timeline carries `data-*` attributes (lane, server, action, outcome, start
//! and end in RFC 3339 to the millisecond; no end while it runs) so that scripts can read the page as data.

mod failures;
mod matrix_table;
mod time_scale;
mod timeline_svg;

use super::Report;
use crate::engine::model::{Outcome, RUNNING_SYMBOL};
use crate::timeline::matrix::counts;
use crate::timeline::{Entry, Window};
use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::io::Write;
use std::time::Duration;

/// How many attempts of each (server, action) the matrix shows, newest first.
const MATRIX_ATTEMPTS: usize = 3;

const STYLE: &str = include_str!("html/page.css");
/// Sorts the matrix when a heading is clicked; without it the page reads the same.
const SORT_SCRIPT: &str = include_str!("html/sort.js");

/// Writes the whole page to `out`.
pub fn write(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    // The logs are read first: drawing the page reads nothing but data.
    let failures = failures::collect(&report.timeline);
    let page = page(report, &failures);
    out.write_all(page.into_string().as_bytes())
        .context("writing the HTML report")
}

fn page(report: &Report, failures: &[failures::Failure<'_>]) -> Markup {
    let title = format!("fleetdeck report · {}", report.env);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(report))
                section #timeline {
                    h2 { "Timeline" }
                    (timeline_svg::timeline(&report.timeline, report.made_at))
                }
                section #matrix {
                    h2 { "Servers × actions" }
                    (matrix_table::matrix(report, MATRIX_ATTEMPTS))
                }
                (failures::section(failures, report.made_at))
                script { (PreEscaped(SORT_SCRIPT)) }
            }
        }
    }
}

/// The environment, what the report covers, when it was made, and the counts.
fn header(report: &Report) -> Markup {
    let timeline = &report.timeline;
    let counted: Vec<&Entry> = timeline.entries().iter().filter(|e| counts(e)).collect();
    let ran = counted.iter().filter(|e| e.ran.is_some()).count();
    let mut per_outcome: Vec<(&'static str, &'static str, usize)> = Vec::new();
    for entry in &counted {
        // A retried attempt is not a failure: the attempt after it decides.
        let (key, word) = match entry.retried {
            true => ("retried", "retried"),
            false => (outcome_key(entry), outcome_word(entry)),
        };
        match per_outcome.iter_mut().find(|(k, _, _)| *k == key) {
            Some(count) => count.2 += 1,
            None => per_outcome.push((key, word, 1)),
        }
    }
    per_outcome.sort_by_key(|(key, _, _)| OUTCOME_ORDER.iter().position(|k| k == key));
    let span = timeline.span(report.made_at);
    html! {
        header {
            h1 { "fleetdeck · " (report.env) }
            p.meta {
                (window_words(report.window)) " · made " (clock_time(report.made_at)) " UTC "
                (report.made_at.format("%Y-%m-%d"))
            }
            ul.counts {
                li { b { (ran) } " runs" }
                @for (key, word, count) in &per_outcome {
                    li class=(key) { span.swatch {} b { (count) } " " (word) }
                }
                @if let Some((start, end)) = span {
                    li { "wall time " b { (duration_words(to_std(end - start))) } }
                    li { (clock_time(start)) " → " (clock_time(end)) }
                }
            }
            @if !timeline.workers().is_empty() {
                p.workers {
                    "Workers: "
                    @for (i, change) in timeline.workers().iter().enumerate() {
                        @if i > 0 { " → " }
                        b { (change.workers) }
                        " "
                        span.dim {
                            @if change.session { "(start " } @else { "(resize " }
                            (clock_time(change.at)) ")"
                        }
                    }
                }
            }
        }
    }
}

fn window_words(window: Window) -> String {
    match window {
        Window::All => "the whole journal".to_string(),
        Window::LastSession => "the last session".to_string(),
        Window::Since(at) => format!("since {} UTC", at.format("%Y-%m-%d %H:%M:%S")),
    }
}

/// The outcomes in the order the header and legend list them: the good, then the bad.
const OUTCOME_ORDER: [&str; 10] = [
    "succeeded",
    "running",
    "failed",
    "unreachable",
    "timed_out",
    "error",
    "interrupted",
    "cancelled",
    "skipped",
    "retried",
];

/// The outcome as the journal names it (`running` while it runs): the bar's CSS class and its
/// `data-outcome`, so a script can compare the page with the journal.
pub(crate) fn outcome_key(entry: &Entry) -> &'static str {
    match &entry.outcome {
        None => "running",
        Some(Outcome::Succeeded) => "succeeded",
        Some(Outcome::Failed { .. }) => "failed",
        Some(Outcome::Unreachable { .. }) => "unreachable",
        Some(Outcome::TimedOut { .. }) => "timed_out",
        Some(Outcome::Cancelled { .. }) => "cancelled",
        Some(Outcome::Error { .. }) => "error",
        Some(Outcome::Skipped { .. }) => "skipped",
        Some(Outcome::Interrupted) => "interrupted",
    }
}

/// The outcome in the words people read ("ok", "timed out").
fn outcome_word(entry: &Entry) -> &'static str {
    entry.outcome.as_ref().map_or("running", Outcome::label)
}

/// The dashboard's glyphs, so the page and the terminal read alike.
fn outcome_glyph(entry: &Entry) -> &'static str {
    match &entry.outcome {
        None => RUNNING_SYMBOL,
        Some(outcome) => outcome.symbol(entry.healthy),
    }
}

/// RFC 3339 to the millisecond (the journal's nanoseconds would cost 10,000 bars 240 kB).
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn clock_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

fn to_std(delta: chrono::TimeDelta) -> Duration {
    delta.to_std().unwrap_or_default()
}

/// "0.4s", "7s", "1m05s", "2h03m".
fn duration_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => format!("{:.1}s", duration.as_secs_f64()),
        1..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests;
