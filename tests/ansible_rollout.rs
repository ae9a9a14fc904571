//! Rollouts for real: ansible-core on a copy of the demo, judged the way an operator would
//! judge them afterwards, from the journal's records and the log lines, never from timing.
//! One runner (the default, warm) is enough here: the runners are compared elsewhere and the
//! rollout logic sits above them.

mod common;

use chrono::{DateTime, Utc};
use common::Sandbox;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

const ENV: &str = "demo";
/// The demo's pool (max_parallel_workers in its config.yml): one more than the window, so the window (not the pool) is what
/// keeps a third deploy out.
const WORKERS: usize = 3;
const WINDOW: usize = 2;
/// The order the rolling deploy names its servers in, which is the order they go: db-02 (which
/// fails its deploy on purpose) late enough that the window has slid a few times, early
/// enough that some servers are still waiting when it stops the rollout.
const ROLLING_ORDER: [&str; 9] = [
    "web-01", "web-02", "web-03", "web-04", "db-02", "db-01", "web-05", "web-06", "lb-01",
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `fleetdeck <args>`; a `run` gets `--json`, so its log lines are on stderr and stdout holds
/// only the summary.
fn fleetdeck(sandbox: &Sandbox, args: &[&str]) -> Output {
    let mut command = sandbox.fleetdeck();
    command.args(args);
    if args.first() == Some(&"run") {
        command.arg("--json");
    }
    command.output().unwrap()
}

/// Appends `extra` to the test environment's config.yml, as an operator would edit it.
fn add_config(sandbox: &Sandbox, extra: &str) {
    let path = sandbox.root.join("inventory").join(ENV).join("config.yml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push('\n');
    config.push_str(extra);
    std::fs::write(path, config).unwrap();
}

/// One run of an item, as the journal tells it: where it started and ended in the record
/// order (the engine's own order; records of one event share a timestamp) and when.
#[derive(Clone, Debug)]
struct Run {
    server: String,
    action: String,
    started: usize,
    finished: Option<usize>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
}

/// The journal of the test environment, split into fleetdeck sessions (each starts with a
/// `session` record).
struct Journal {
    records: Vec<Value>,
    /// Item id → (server, action), from every `enqueued` record: a later session runs items an
    /// earlier one queued.
    items: BTreeMap<u64, (String, String)>,
}

fn at(record: &Value) -> DateTime<Utc> {
    record["at"].as_str().unwrap().parse().unwrap()
}

impl Journal {
    fn read(sandbox: &Sandbox) -> Journal {
        let records: Vec<Value> = sandbox
            .journal(ENV)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let items = records
            .iter()
            .filter(|r| r["kind"] == "enqueued")
            .map(|r| {
                let item = &r["item"];
                (
                    item["id"].as_u64().unwrap(),
                    (
                        item["server"].as_str().unwrap().to_string(),
                        item["action"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        Journal { records, items }
    }

    /// The records of the `n`th fleetdeck session (0-based), as (index, record).
    fn session(&self, n: usize) -> Vec<(usize, &Value)> {
        let mut seen = 0;
        let mut out = Vec::new();
        for (i, record) in self.records.iter().enumerate() {
            if record["kind"] == "session" {
                seen += 1;
            }
            if seen == n + 1 {
                out.push((i, record));
            }
        }
        assert!(!out.is_empty(), "no session {n} in the journal");
        out
    }

    /// Every run that started among `records`, with its end when it is there too.
    fn runs(&self, records: &[(usize, &Value)]) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        let mut open: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, record) in records {
            let id = record["id"].as_u64();
            match record["kind"].as_str().unwrap() {
                "started" => {
                    let (server, action) = self.items[&id.unwrap()].clone();
                    open.insert(id.unwrap(), runs.len());
                    runs.push(Run {
                        server,
                        action,
                        started: *i,
                        finished: None,
                        started_at: at(record),
                        finished_at: None,
                        outcome: None,
                    });
                }
                "finished" => {
                    if let Some(n) = open.remove(&id.unwrap()) {
                        runs[n].finished = Some(*i);
                        runs[n].finished_at = Some(at(record));
                        runs[n].outcome = record["outcome"].as_str().map(str::to_string);
                    }
                }
                _ => {}
            }
        }
        runs
    }

    /// The rollout that began among `records`, and its members in order.
    fn rollout_began(records: &[(usize, &Value)]) -> (u64, Vec<String>) {
        let began = records
            .iter()
            .find(|(_, r)| r["kind"] == "rollout_began")
            .expect("a rollout began")
            .1;
        let rollout = &began["rollout"];
        let members = rollout["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["server"].as_str().unwrap().to_string())
            .collect();
        (rollout["id"].as_u64().unwrap(), members)
    }
}

/// A rollout step as journaled: (record index, step, server).
fn steps(records: &[(usize, &Value)], rollout: u64) -> Vec<(usize, String, String)> {
    records
        .iter()
        .filter(|(_, r)| r["kind"] == "rollout_step" && r["rollout"] == rollout)
        .map(|(i, r)| {
            (
                *i,
                r["step"].as_str().unwrap().to_string(),
                r["server"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The most runs going at once among `runs` (a run is going from its start record to its end
/// record).
fn most_at_once(runs: &[Run]) -> usize {
    let mut edges: Vec<(usize, i32)> = Vec::new();
    for run in runs {
        edges.push((run.started, 1));
        if let Some(end) = run.finished {
            edges.push((end, -1));
        }
    }
    // At one index only one record sits, so ties cannot mislead.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    most as usize
}

/// The servers a rollout holds unavailable (let in, not yet healthy or failed) after each of
/// its steps, replayed from the journal: the window as the rollout itself counted it.
fn unavailable_after_each(steps: &[(usize, String, String)]) -> Vec<(usize, BTreeSet<String>)> {
    let mut unavailable = BTreeSet::new();
    let mut out = Vec::new();
    for (i, step, server) in steps {
        match step.as_str() {
            "admit" => {
                unavailable.insert(server.clone());
            }
            "healthy" | "failed" | "dropped" | "requeued" => {
                unavailable.remove(server);
            }
            _ => {}
        }
        out.push((*i, unavailable.clone()));
    }
    out
}

/// Per-server lanes of a session's deploys (█) and health checks (▒) from the journal's start
/// and finish times, half a second a column: the figure in the README is printed by this.
fn timeline(journal: &Journal, session: usize, servers: &[&str], notes: &[(&str, &str)]) -> String {
    const COLUMNS_PER_SECOND: f64 = 2.0;
    let records = journal.session(session);
    let t0 = at(records[0].1);
    let column = |t: DateTime<Utc>| {
        ((t - t0).num_milliseconds() as f64 / 1000.0 * COLUMNS_PER_SECOND).round() as usize
    };
    let runs = journal.runs(&records);
    let end = runs
        .iter()
        .filter_map(|r| r.finished_at)
        .map(column)
        .max()
        .unwrap_or(0);
    let width = end + 2;
    let mut out = String::from("time →  ");
    let mut axis = String::new();
    for second in (0..).step_by(10) {
        let at = (second as f64 * COLUMNS_PER_SECOND) as usize;
        if at > width {
            break;
        }
        while axis.chars().count() < at {
            axis.push(' ');
        }
        axis.push_str(&format!("{second}s"));
    }
    out.push_str(&axis);
    out.push('\n');
    for server in servers {
        let mut lane = vec![' '; width];
        for run in runs.iter().filter(|r| r.server == *server) {
            let fill = match run.action.as_str() {
                "deploy" => '█',
                "check" => '▒',
                _ => continue,
            };
            let from = column(run.started_at);
            let to = run.finished_at.map(column).unwrap_or(width).max(from + 1);
            for cell in lane.iter_mut().take(to).skip(from) {
                *cell = fill;
            }
            if run.action == "deploy" && run.outcome.as_deref() == Some("failed") {
                lane[to - 1] = '✗';
            }
        }
        let note = notes
            .iter()
            .find(|(s, _)| s == server)
            .map(|(_, n)| *n)
            .unwrap_or_default();
        let lane: String = lane.into_iter().collect();
        out.push_str(format!("{server:<7} {lane}  {note}").trim_end());
        out.push('\n');
    }
    out
}

/// The number in "…; N deploy(s) held until it is resumed or aborted".
fn held_in(line: &str) -> usize {
    let before = line
        .split(" deploy(s) held")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap();
    before.parse().unwrap()
}

#[test]
fn a_rolling_deploy_keeps_its_canary_and_window_stops_at_db02_and_resumes_where_it_stopped() {
    let sandbox = Sandbox::demo();
    add_config(
        &sandbox,
        &format!("deployment_strategy: rolling\nrolling_max_unavailable: {WINDOW}\n"),
    );
    // The servers as provision.yml leaves them, laid out by hand: deploy.yml needs only
    // `etc/` and `releases/`, and nine real provisions would cost a third of this file's
    // budget (ansible_demo.rs runs them). Nothing else is in the pool during the deploy, so
    // what keeps deploys out can only be the rollout.
    for server in ROLLING_ORDER {
        for dir in ["etc", "releases"] {
            std::fs::create_dir_all(sandbox.demo_root.join(server).join(dir)).unwrap();
        }
    }

    let mut args = vec!["run", "-e", ENV, "deploy"];
    args.extend(ROLLING_ORDER);
    let out = fleetdeck(&sandbox, &args);
    let log = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "db-02 fails its deploy: exit 2; log:\n{log}"
    );
    let journal = Journal::read(&sandbox);
    let first = journal.session(0);
    let (rollout, members) = Journal::rollout_began(&first);
    assert_eq!(
        members, ROLLING_ORDER,
        "the rollout goes in the order asked"
    );
    let name = format!("Rollout deploy #{rollout}");
    assert!(
        log.contains(&format!(
            "{name}: 9 servers; canary 1 first, alone, then at most {WINDOW} at a time, each counted once its health check passed"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("Running in PARALLEL mode with {WORKERS} workers")),
        "{log}"
    );
    let runs = journal.runs(&first);
    let deploys: Vec<&Run> = runs.iter().filter(|r| r.action == "deploy").collect();
    let steps1 = steps(&first, rollout);

    // The canary: web-01 deployed and passed its health check before any other deploy began.
    assert!(
        log.contains(&format!("{name}: canary web-01 goes first")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{name}: canary web-01 healthy, window {WINDOW}")),
        "{log}"
    );
    let canary_check = runs
        .iter()
        .find(|r| r.server == "web-01" && r.action == "check")
        .expect("the canary's health check ran");
    assert_eq!(canary_check.outcome.as_deref(), Some("succeeded"));
    let canary_healthy = canary_check.finished.unwrap();
    assert_eq!(deploys[0].server, "web-01", "{deploys:#?}");
    assert_eq!(deploys[0].outcome.as_deref(), Some("succeeded"));
    assert!(
        deploys[1].started > canary_healthy,
        "{} started before the canary was healthy: {deploys:#?}",
        deploys[1].server
    );
    let first_admits: Vec<&str> = steps1
        .iter()
        .filter(|(_, s, _)| s == "admit")
        .map(|(_, _, server)| server.as_str())
        .collect();
    assert_eq!(first_admits[0], "web-01");

    // The window: never more than 2 servers let in and not yet healthy (or failed), and it
    // was full at times, while the pool had a worker to spare (never 3 runs at once).
    let window = unavailable_after_each(&steps1);
    let fullest = window.iter().map(|(_, u)| u.len()).max().unwrap();
    assert_eq!(fullest, WINDOW, "steps: {steps1:#?}");
    assert!(
        most_at_once(&runs) < WORKERS,
        "the pool had room: {runs:#?}"
    );
    assert!(
        !log.contains(&format!("(active: {WORKERS}/{WORKERS})")),
        "{log}"
    );
    // The deploys themselves agree with the rollout's count: at most 2 servers between their
    // deploy's start and their health check's end.
    let mut spans: Vec<Run> = Vec::new();
    for deploy in &deploys {
        let end = runs
            .iter()
            .find(|r| r.server == deploy.server && r.action == "check")
            .and_then(|c| c.finished)
            .or(deploy.finished);
        spans.push(Run {
            finished: end,
            ..(*deploy).clone()
        });
    }
    assert!(most_at_once(&spans) <= WINDOW, "{spans:#?}");

    // No batches: each server found healthy before the stop let the next one in at once, in
    // the same engine turn, even while another was still deploying.
    let stop = steps1
        .iter()
        .position(|(_, s, _)| s == "failed")
        .expect("db-02 failed the rollout");
    let mut slid_past_a_busy_one = false;
    for n in 0..stop {
        let (i, step, server) = &steps1[n];
        let waiting = members.len() - first_admits_before(&steps1, *i);
        if step != "healthy" || server == "web-01" || waiting == 0 {
            continue;
        }
        let (next_i, next_step, _) = &steps1[n + 1];
        assert_eq!(
            (next_step.as_str(), at(&journal.records[*next_i])),
            ("admit", at(&journal.records[*i])),
            "{server} healthy did not let the next one in at once: {steps1:#?}"
        );
        if !window[n].1.is_empty() {
            slid_past_a_busy_one = true;
        }
    }
    assert!(
        slid_past_a_busy_one,
        "some server was let in while another was still in flight: {steps1:#?}"
    );

    // db-02 stopped the rollout: nothing more was let in, and whoever was not let in never
    // ran a deploy.
    assert_eq!(steps1[stop].2, "db-02");
    let stop_line = log
        .lines()
        .find(|l| l.contains(&format!("{name} stopped: ")))
        .unwrap_or_else(|| panic!("no stop line:\n{log}"));
    assert!(
        stop_line
            .contains(r#"stopped: db-02 deploy failed (rc 2, task "Verify release checksum"); "#),
        "{stop_line}"
    );
    assert!(
        !steps1[stop..].iter().any(|(_, s, _)| s == "admit"),
        "{steps1:#?}"
    );
    let admitted: BTreeSet<&str> = first_admits.iter().copied().collect();
    let held: Vec<&str> = ROLLING_ORDER
        .iter()
        .copied()
        .filter(|s| !admitted.contains(s))
        .collect();
    assert!(!held.is_empty(), "servers were still waiting: {steps1:#?}");
    assert_eq!(held_in(stop_line), held.len(), "{stop_line}; held {held:?}");
    for server in &held {
        assert!(
            !deploys.iter().any(|d| d.server == *server),
            "{server} was not let in, yet deployed: {deploys:#?}"
        );
    }
    assert_eq!(deploys.len(), admitted.len(), "{deploys:#?}");
    let mut notes = vec![("web-01", "canary: deploy █, health check ▒")];
    notes.push(("db-02", "deploy failed (✗): the rollout stops"));
    for server in &held {
        notes.push((server, "held: not let in, never deployed"));
    }
    eprintln!(
        "rolling deploy, first run:\n{}",
        timeline(&journal, 0, &ROLLING_ORDER, &notes)
    );

    // Resumed: the held servers go, within the window, and nobody is deployed twice.
    let out = fleetdeck(&sandbox, &["run", "-e", ENV, "--resume-rollout"]);
    let log = text(&out.stderr);
    assert!(
        log.contains(&format!(
            "{name} resumed: window {WINDOW}, {} waiting",
            held.len()
        )),
        "{log}"
    );
    assert!(log.contains(&format!("{name} done: ")), "{log}");
    let journal = Journal::read(&sandbox);
    let second = journal.session(1);
    let steps2 = steps(&second, rollout);
    let window = unavailable_after_each(&steps2);
    assert!(window.iter().all(|(_, u)| u.len() <= WINDOW), "{steps2:#?}");
    for server in &held {
        assert!(
            steps2
                .iter()
                .any(|(_, s, name)| s == "healthy" && name == server),
            "{server} deployed and healthy after the resume: {steps2:#?}"
        );
    }
    let all: Vec<(usize, &Value)> = journal.records.iter().enumerate().collect();
    let every_deploy: Vec<Run> = journal
        .runs(&all)
        .into_iter()
        .filter(|r| r.action == "deploy")
        .collect();
    for server in ROLLING_ORDER {
        let times = every_deploy.iter().filter(|d| d.server == server).count();
        assert_eq!(times, 1, "{server} deployed once in all: {every_deploy:#?}");
    }
    // Every run of the resumed session succeeded, but the rollout ends with db-02 failed: a
    // script is told the deploy is not whole.
    assert_eq!(
        out.status.code(),
        Some(2),
        "done with db-02 failed: exit 2:\n{log}"
    );
    for server in ROLLING_ORDER {
        let current = sandbox.demo_root.join(server).join("current");
        assert_eq!(
            std::fs::read_link(&current).is_ok(),
            server != "db-02",
            "{}",
            current.display()
        );
    }
    let mut notes = Vec::new();
    for server in ROLLING_ORDER {
        let note = if held.contains(&server) {
            "held, let in by --resume-rollout"
        } else if server == "db-02" {
            "failed before: not retried"
        } else {
            "healthy before the stop: not deployed again"
        };
        notes.push((server, note));
    }
    eprintln!(
        "rolling deploy, resumed:\n{}",
        timeline(&journal, 1, &ROLLING_ORDER, &notes)
    );
}

/// How many admits happened before record `index`.
fn first_admits_before(steps: &[(usize, String, String)], index: usize) -> usize {
    steps
        .iter()
        .filter(|(i, s, _)| *i <= index && s == "admit")
        .count()
}

/// The keys as the tool fleetdeck replaces had them, comments and all, start as they are;
/// blue_green is refused before anything runs, saying where and what works.
#[test]
fn the_origins_strategy_keys_start_and_blue_green_is_refused_with_what_works() {
    let sandbox = Sandbox::demo();
    add_config(
        &sandbox,
        "provisioning_strategy: parallel     # or sequential\n\
         deployment_strategy: rolling        # or all_at_once, blue_green\n",
    );
    let out = fleetdeck(&sandbox, &["status", "-e", ENV]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("web-01"),
        "{}",
        text(&out.stdout)
    );

    let sandbox = Sandbox::demo();
    add_config(
        &sandbox,
        "deployment_strategy: blue_green   # or all_at_once, rolling\n",
    );
    let out = fleetdeck(&sandbox, &["run", "-e", ENV, "deploy", "--all"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused at start: {err}");
    for says in [
        "inventory/demo/config.yml",
        "`deployment_strategy` is blue_green",
        "all_at_once and rolling work",
    ] {
        assert!(err.contains(says), "{says:?} in: {err}");
    }
    assert!(
        sandbox.journal(ENV).is_empty(),
        "nothing was queued: {}",
        sandbox.journal(ENV)
    );
}

/// provisioning_strategy: sequential: one provision at a time, while the other workers carry
/// the deploys and checks of the servers already provisioned.
#[test]
fn sequential_provisioning_never_overlaps_while_the_pool_runs_other_work() {
    let sandbox = Sandbox::demo();
    add_config(&sandbox, "provisioning_strategy: sequential\n");
    // Servers with the demo's shortest step, to keep the test short.
    let out = fleetdeck(
        &sandbox,
        &["run", "-e", ENV, "chain", "web-01", "web-04", "lb-01"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let journal = Journal::read(&sandbox);
    let runs = journal.runs(&journal.session(0));
    let provisions: Vec<Run> = runs
        .iter()
        .filter(|r| r.action == "provision")
        .cloned()
        .collect();
    assert_eq!(provisions.len(), 3, "{runs:#?}");
    assert_eq!(most_at_once(&provisions), 1, "{provisions:#?}");
    // Something else ran during a provision: the limit is per action, not the pool's.
    let other_during_a_provision = runs.iter().any(|other| {
        other.action != "provision"
            && provisions.iter().any(|p| {
                let end = p.finished.unwrap();
                other.started < end && other.finished.is_none_or(|e| e > p.started)
            })
    });
    assert!(other_during_a_provision, "{runs:#?}");
    assert!(most_at_once(&runs) >= 2, "{runs:#?}");
}
