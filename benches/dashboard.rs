//! Prints the dashboard's figures on this machine (not a timed test: shared machines are noisy):
//! (1) time to draw one full frame with 1,000 servers, 200 queued items and 64 busy workers
//!     (goal ≤ 2 ms);
//! (2) CPU use of an idle dashboard over 30 s in a real terminal (tmux) (goal ≤ 1 % of a core);
//! (3) with 64 stand-in workers each printing 2,000 lines/s: the delay from a key press to the
//!     screen showing its effect (goal ≤ 50 ms), the peak RSS (goal ≤ 150 MB), and whether every
//!     line reached the log files.
//!
//! Run: `cargo bench --bench dashboard` (after `.ci/setup`). `--quick` runs (1) only.

use chrono::{TimeZone, Utc};
use fleetdeck::engine::model::{Action, Item, Purpose, Recap};
use fleetdeck::engine::queue::QueueView;
use fleetdeck::engine::snapshot::{RunView, Snapshot, WorkerView};
use fleetdeck::inventory::Inventory;
use fleetdeck::tui::app::App;
use fleetdeck::tui::log_pane::LogPane;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/procstat.rs"]
mod procstat;
#[path = "support/tmux.rs"]
mod tmux;
use procstat::{own_cpu_seconds, peak_rss_mb};
use tmux::Tmux;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const FLOOD_WORKERS: usize = 64;
const FLOOD_RATE: usize = 2000;
const FLOOD_SECONDS: usize = 15;
const IDLE_SECONDS: u64 = 30;

fn main() {
    frame_time();
    if std::env::args().any(|a| a == "--quick") {
        return;
    }
    real_terminal();
}

fn item(id: u64, server: String, action: Action) -> Item {
    Item {
        id,
        server,
        action,
        priority: 0,
        tags: Vec::new(),
        check_mode: false,
        attempt: 1,
        enqueued_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        after: None,
        purpose: Purpose::Requested,
        not_before: None,
        held: false,
    }
}

fn frame_time() {
    let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let mut inventory = Inventory::default();
    for n in 0..1000 {
        let group = ["web", "db", "cache", "lb"][n % 4].to_string();
        inventory
            .hosts
            .insert(format!("srv-{n:04}"), [group].into_iter().collect());
    }
    let mut app = App::new("bench", &inventory, Default::default());
    let servers: Vec<String> = inventory.hosts.keys().cloned().collect();
    let workers = (1..=64u32)
        .map(|slot| WorkerView {
            slot,
            run: Some(RunView {
                item: item(slot as u64, servers[slot as usize].clone(), Action::Deploy),
                started_at: now - chrono::Duration::seconds(slot as i64),
                task: Some("Install release".into()),
                tasks_started: 4,
                counts: Recap {
                    ok: 3,
                    changed: 2,
                    ..Recap::default()
                },
                last_line: Some("TASK [Install release] ****".into()),
                last_event_at: now,
                stopping: None,
                log_path: None,
                node: None,
            }),
        })
        .collect();
    let queue = QueueView::of(
        (0..200u64).map(|n| item(100 + n, servers[100 + n as usize].clone(), Action::Check)),
    );
    app.snapshot = Snapshot {
        at: now,
        target_workers: 64,
        active: 64,
        queue,
        workers,
        ..Snapshot::default()
    };
    let logs = LogPane::default();
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let frames = 300;
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let started = Instant::now();
        terminal
            .draw(|frame| fleetdeck::tui::ui::draw(frame, &app, &logs, now))
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    println!("(1) one full frame, 1,000 servers, 200 queued, 64 busy workers, 160×45:");
    println!(
        "    median {:.2} ms, p95 {:.2} ms  (goal ≤ 2 ms)",
        ms(times[frames / 2]),
        ms(times[frames * 95 / 100])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn real_terminal() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let env_dir = root.join("inventory/bench");
    std::fs::create_dir_all(&env_dir).unwrap();
    let mut hosts = String::from("all:\n  vars:\n    ansible_connection: local\n  hosts:\n");
    for n in 1..=FLOOD_WORKERS {
        hosts.push_str(&format!("    load-{n:02}: {{}}\n"));
    }
    std::fs::write(env_dir.join("hosts.yml"), hosts).unwrap();
    let fake = Path::new(REPO).join("tests/fixtures/fake-ansible-playbook");
    std::fs::write(
        env_dir.join("config.yml"),
        format!("max_parallel_workers: {FLOOD_WORKERS}\nansible_playbook: {}\nplaybooks: {{check: check.yml}}\n", fake.display()),
    )
    .unwrap();
    let binary = Path::new(REPO).join("target/release/fleetdeck");
    assert!(binary.exists(), "build it first: cargo build --release");
    let path = format!(
        "{REPO}/.venv/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let command = format!(
        "env PATH='{path}' FAKE_MODE=steady FAKE_RATE={FLOOD_RATE} FAKE_SECONDS={FLOOD_SECONDS} {} --root {} -e bench",
        binary.display(),
        root.display()
    );
    let tmux = Tmux::start(160, 45, &command);
    tmux.wait_for("the dashboard", Duration::from_secs(30), |s| {
        s.contains("Servers 64/64")
    });
    let pid = tmux.pid();

    let before = own_cpu_seconds(&pid).unwrap();
    std::thread::sleep(Duration::from_secs(IDLE_SECONDS));
    let idle = (own_cpu_seconds(&pid).unwrap() - before) / IDLE_SECONDS as f64 * 100.0;
    println!(
        "(2) idle dashboard in tmux over {IDLE_SECONDS} s: {idle:.2} % of a core  (goal ≤ 1 %)"
    );

    tmux.keys(&["a", "c"]);
    tmux.wait_for("64 running", Duration::from_secs(60), |s| {
        s.contains("running 64")
    });
    let delays = tmux.key_delays(10);
    println!(
        "(3) {FLOOD_WORKERS} workers × {FLOOD_RATE} lines/s: key press → screen, median {:.0} ms, max {:.0} ms  (goal ≤ 50 ms)",
        ms(delays[delays.len() / 2]),
        ms(delays[delays.len() - 1])
    );
    tmux.wait_for("the end of the flood", Duration::from_secs(300), |s| {
        s.contains("running 0") && s.contains("done 64")
    });
    println!(
        "    peak RSS {:.0} MB  (goal ≤ 150 MB)",
        peak_rss_mb(&pid).unwrap()
    );
    let mut lines = 0usize;
    for entry in std::fs::read_dir(root.join("logs/bench")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines += text.lines().filter(|l| l.contains(" second ")).count();
    }
    let expected = FLOOD_WORKERS * FLOOD_RATE * FLOOD_SECONDS;
    println!(
        "    lines in the log files: {lines} of {expected} printed{}",
        if lines == expected {
            " (all)"
        } else {
            " — LOST LINES"
        }
    );
    tmux.keys(&["q"]);
}
