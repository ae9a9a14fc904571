//! The server × action matrix as a table: a row per server (the inventory's order, then
//! servers only the journal names), a column per action, each cell the newest attempts (glyph
//! and duration, newest first). Clicking a heading sorts by it when scripts run; each cell's
//! `data-key` is what it sorts by (the newest attempt's duration in ms).

use super::{Report, clock_time, duration_words, outcome_glyph, outcome_key, outcome_word};
use crate::timeline::Entry;
use crate::timeline::matrix::{ACTIONS, Matrix};
use maud::{Markup, html};

pub fn matrix(report: &Report, attempts: usize) -> Markup {
    let matrix = Matrix::build(&report.timeline, &report.servers, attempts);
    let entries = report.timeline.entries();
    let now = report.made_at;
    html! {
        @if matrix.rows.is_empty() {
            p.dim { "No servers." }
        } @else {
            p.dim {
                "The last " (attempts) " attempts of each, newest first. "
                span.js-only { "Click a heading to sort." }
            }
            table.matrix {
                thead {
                    tr {
                        th data-sort="text" { "server" }
                        @for action in ACTIONS {
                            th data-sort="number" { (action.as_str()) }
                        }
                    }
                }
                tbody {
                    @for row in &matrix.rows {
                        tr {
                            th data-key=(row.server) {
                                (row.server)
                                @if row.unlisted && !report.servers.is_empty() {
                                    " " span.dim title="not in the inventory now" { "(gone)" }
                                }
                            }
                            @for cell in &row.cells {
                                @let newest = cell.first().map(|index| &entries[*index]);
                                td data-key=[newest.map(|e| e.duration(now).as_millis())] {
                                    @for (i, index) in cell.iter().enumerate() {
                                        (attempt(&entries[*index], i > 0, now))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn attempt(entry: &Entry, older: bool, now: chrono::DateTime<chrono::Utc>) -> Markup {
    let class = if older {
        format!("a {} older", outcome_key(entry))
    } else {
        format!("a {}", outcome_key(entry))
    };
    let when = entry.at().map(clock_time).unwrap_or_default();
    html! {
        span class=(class) title=(format_args!("{when} · {}", outcome_word(entry))) {
            (outcome_glyph(entry))
            @if entry.ran.is_some() {
                " " (duration_words(entry.duration(now)))
            }
        }
    }
}
