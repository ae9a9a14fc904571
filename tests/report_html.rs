//! The HTML report read the way a person's browser or a script would read it: a real run of
//! the demo (db-02's deploy fails by design) on three workers, then `fleetdeck report --html`,
//! the page parsed with an HTML parser and held against the journal, read independently here
//! with serde_json: one lane per worker slot, one bar per start on its slot's lane with the
//! journal's server, action, outcome, start and end, bars in time order, the matrix and the
//! failure with its task and log, and nothing the page would fetch.

mod common;

use chrono::{DateTime, SubsecRound, Utc};
use common::Sandbox;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// One run as the journal tells it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Bar {
    lane: u32,
    start: DateTime<Utc>,
    server: String,
    action: String,
    outcome: String,
    end: Option<DateTime<Utc>>,
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .to_utc()
}

/// The journal's time as the page gives it: to the millisecond.
fn journal_time(record: &Value) -> DateTime<Utc> {
    time(record["at"].as_str().unwrap()).trunc_subsecs(3)
}

/// Every Started record becomes a bar, ended by the next Finished record of its id.
fn bars_in_journal(journal: &str) -> Vec<Bar> {
    let records: Vec<Value> = journal
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut names: HashMap<u64, (String, String)> = HashMap::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut bars = Vec::new();
    for record in &records {
        match record["kind"].as_str().unwrap() {
            "enqueued" => {
                let item = &record["item"];
                let name = (
                    item["server"].as_str().unwrap().to_string(),
                    item["action"].as_str().unwrap().to_string(),
                );
                names.insert(item["id"].as_u64().unwrap(), name);
            }
            "started" => {
                let id = record["id"].as_u64().unwrap();
                let (server, action) = names[&id].clone();
                open.insert(id, bars.len());
                bars.push(Bar {
                    lane: record["slot"].as_u64().unwrap() as u32,
                    start: journal_time(record),
                    server,
                    action,
                    outcome: "running".to_string(),
                    end: None,
                });
            }
            "finished" => {
                if let Some(index) = open.remove(&record["id"].as_u64().unwrap()) {
                    bars[index].outcome = record["outcome"].as_str().unwrap().to_string();
                    bars[index].end = Some(journal_time(record));
                }
            }
            _ => {}
        }
    }
    bars.sort();
    bars
}

fn select<'a>(page: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    page.select(&Selector::parse(css).unwrap()).collect()
}

fn attr<'a>(element: &ElementRef<'a>, name: &str) -> &'a str {
    element
        .value()
        .attr(name)
        .unwrap_or_else(|| panic!("no {name} on {:?}", element.value()))
}

fn number(element: &ElementRef<'_>, name: &str) -> f64 {
    attr(element, name).parse().unwrap()
}

fn text(element: &ElementRef<'_>) -> String {
    element.text().collect()
}

#[test]
fn the_html_report_draws_each_run_of_the_journal_on_its_workers_lane() {
    let sandbox = Sandbox::demo();
    let run = sandbox
        .fleetdeck()
        .args(["run", "-e", "demo", "-w", "3", "chain"])
        .args(["db-01", "db-02", "web-01", "web-02"])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(2),
        "db-02's deploy fails by design: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = sandbox.root.join("report.html");
    let report = sandbox
        .fleetdeck()
        .args(["report", "-e", "demo", "--session", "last", "--html"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let source = std::fs::read_to_string(&out).unwrap();
    let page = Html::parse_document(&source);
    let expected = bars_in_journal(&sandbox.journal("demo"));
    assert!(expected.len() >= 10, "the run ran: {expected:?}");

    // One lane per worker slot, labelled as the dashboard numbers them.
    let lanes = select(&page, "svg.timeline g.lane");
    let lane_numbers: Vec<u32> = lanes
        .iter()
        .map(|lane| attr(lane, "data-lane").parse().unwrap())
        .collect();
    let slots_used: BTreeSet<u32> = expected.iter().map(|bar| bar.lane).collect();
    assert_eq!(lane_numbers, [1, 2, 3]);
    assert_eq!(slots_used, BTreeSet::from([1, 2, 3]), "three workers ran");
    for lane in &lanes {
        let label = select_in(lane, "text.name");
        assert_eq!(label, format!("worker {}", attr(lane, "data-lane")));
    }

    // One bar per start, on its lane, saying what the journal says.
    let mut drawn: Vec<Bar> = Vec::new();
    for lane in &lanes {
        for rect in lane.select(&Selector::parse("rect[data-server]").unwrap()) {
            assert_eq!(attr(&rect, "data-lane"), attr(lane, "data-lane"));
            drawn.push(Bar {
                lane: attr(&rect, "data-lane").parse().unwrap(),
                start: time(attr(&rect, "data-start")),
                server: attr(&rect, "data-server").to_string(),
                action: attr(&rect, "data-action").to_string(),
                outcome: attr(&rect, "data-outcome").to_string(),
                end: rect.value().attr("data-end").map(time),
            });
        }
    }
    assert_eq!(
        select(&page, "rect[data-server]").len(),
        drawn.len(),
        "every bar is on a lane"
    );
    drawn.sort();
    assert_eq!(drawn, expected);
    let failed: Vec<&Bar> = drawn.iter().filter(|b| b.outcome == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].server.as_str(), failed[0].action.as_str()),
        ("db-02", "deploy")
    );

    // Along a lane, later runs lie further right and bars do not overlap.
    for lane in &lanes {
        let mut rects: Vec<(DateTime<Utc>, f64, f64)> = lane
            .select(&Selector::parse("rect[data-server]").unwrap())
            .map(|r| {
                (
                    time(attr(&r, "data-start")),
                    number(&r, "x"),
                    number(&r, "width"),
                )
            })
            .collect();
        rects.sort_by_key(|r| r.0);
        for pair in rects.windows(2) {
            assert!(pair[0].1 + pair[0].2 <= pair[1].1 + 0.11, "{pair:?}");
        }
    }

    // The matrix: db-02's deploy failed and its check never ran.
    let db02 = select(&page, "table.matrix tbody tr")
        .into_iter()
        .find(|row| select_in(row, "th") == "db-02")
        .expect("a row for db-02");
    let cells: Vec<String> = db02
        .select(&Selector::parse("td").unwrap())
        .map(|td| text(&td))
        .collect();
    assert!(cells[0].starts_with('✓'), "{cells:?}");
    assert!(cells[1].starts_with('✗'), "{cells:?}");
    assert_eq!(cells[2], "⊘", "{cells:?}");

    // The failure: its task, its message and the end of its real log.
    let failures = select(&page, "#failures article");
    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert!(select_in(failure, "h3").contains("db-02 · deploy · failed"));
    assert_eq!(select_in(failure, "dd.task"), "Verify release checksum");
    assert!(select_in(failure, "dd.message").contains("checksum mismatch"));
    assert!(select_in(failure, "pre.log").contains("fatal: [db-02]: FAILED!"));

    // Nothing to fetch: no links, no external scripts, fonts or images.
    assert!(select(&page, "link").is_empty());
    assert!(select(&page, "[src]").is_empty());
    for element in select(&page, "[href]") {
        assert!(
            attr(&element, "href").starts_with('#'),
            "{:?}",
            element.value()
        );
    }
    for needle in ["@import", "url(http", "src=\"http", "href=\"http"] {
        assert!(!source.contains(needle), "the page names {needle}");
    }
}

/// The text of the first element under `element` that `css` selects.
fn select_in(element: &ElementRef<'_>, css: &str) -> String {
    element
        .select(&Selector::parse(css).unwrap())
        .next()
        .map(|found| text(&found))
        .unwrap_or_else(|| panic!("no {css} in {}", element.html()))
}
