//! Prints fleetdeck's figures at fleet scale on this machine (not a timed test: shared machines
//! are noisy, so nothing here asserts a time):
//! (1) 10,000 servers, W = 64, a 0.05 s stand-in: `xargs -P 64`, `fleetdeck run` and the
//!     dashboard in tmux (`a` then `c`), as wall-time ratios, with fleetdeck's own CPU per action;
//! (2) fleetdeck's own CPU per action at 1,000, 10,000 and 100,000 actions (flat is the goal);
//! (3) the dashboard in tmux with 100,000 queued actions while 64 workers run: first screen,
//!     key → screen latency (p99), peak RSS;
//! (4) the queue's operations at 1,000 / 10,000 / 100,000 items; (5) enqueueing 100,000 and one
//!     frame with them queued; (6) the inventory read and its cache; (7) the journal at
//!     1,000,000 lines; (8) the dashboard's first screen on a real 10,000-host inventory, first
//!     and second start; (9) a rolling deploy's scheduling cost against the same deploy all at
//!     once; (10) the timeline's frame of 10,000 servers × 3 actions, at the default zoom and
//!     zoomed out to the whole history; (11) the matrix's frame of 10,000 servers × 3 actions
//!     × 3 attempts; (12) the HTML report of 10,000 runs.
//!
//! Run: `cargo bench --bench scale` (after `.ci/setup`). `--quick` skips the 100,000-action run
//! and the tmux parts; `--only N,M` runs only the parts named.

#[path = "scale/fleet.rs"]
mod fleet;
#[path = "scale/html_report.rs"]
mod html_report;
#[path = "scale/inventory.rs"]
mod inventory;
#[path = "scale/journal.rs"]
mod journal;
#[path = "scale/matrix_view.rs"]
mod matrix_view;
#[path = "support/procstat.rs"]
mod procstat;
#[path = "scale/queue.rs"]
mod queue;
#[path = "scale/rollout.rs"]
mod rollout;
#[path = "scale/timeline_view.rs"]
mod timeline_view;
#[path = "support/tmux.rs"]
mod tmux;

use fleet::{BINARY, Fleet, JournalWatch};
use procstat::{own_cpu_seconds, peak_rss_mb};
use std::time::{Duration, Instant};
use tmux::Tmux;

const WORKERS: u32 = 64;
const SLEEP: &str = "0.05";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Option<Vec<u32>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').filter_map(|n| n.parse().ok()).collect());
    let wanted = |part: u32| only.as_ref().is_none_or(|parts| parts.contains(&part));
    // Under target/, like a project's own logs: /tmp on a busy machine is full of recently
    // deleted files, and ext4 then spends a fifth of a millisecond finding each new log an inode.
    let target = std::path::Path::new(fleet::REPO).join("target");
    let work = tempfile::tempdir_in(&target).unwrap();
    let work = work.path();
    if wanted(1) {
        ten_thousand(work, quick);
    }
    if wanted(2) {
        cost_per_action(work, quick);
    }
    if wanted(3) && !quick {
        dashboard_with_100k_queued(work);
    }
    if wanted(4) {
        queue::queue_operations();
    }
    if wanted(5) {
        queue::hundred_thousand_queued();
    }
    if wanted(6) {
        print!("(6) ");
        inventory::inventory_start(&work.join("inventory"));
    }
    if wanted(7) {
        journal::journal_start(&work.join("journal"));
    }
    if wanted(8) && !quick {
        dashboard_first_screens(&work.join("first-screen"));
    }
    if wanted(9) {
        rollout::rollout_cost();
    }
    if wanted(10) {
        timeline_view::run();
    }
    if wanted(11) {
        matrix_view::run();
    }
    if wanted(12) {
        html_report::run();
    }
}

/// The dashboard on a real 10,000-host inventory read by the real `ansible-inventory`: the
/// first start reads it, the second is drawn from the cache (and reads it again behind).
fn dashboard_first_screens(work: &std::path::Path) {
    std::fs::create_dir_all(work).unwrap();
    inventory::generate(work, "big", 10_000, 20);
    let bin = inventory::real_ansible_bin();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let command = format!(
        "env PATH='{path}' {BINARY} --root {} -e big",
        work.display()
    );
    println!("(8) the dashboard's first screen, 10,000 hosts, the real ansible-inventory:");
    for start in ["first start", "second start (inventory cache)"] {
        let started = Instant::now();
        let tmux = Tmux::start(160, 45, &command);
        tmux.wait_for("the dashboard", Duration::from_secs(300), |s| {
            s.contains("/10000")
        });
        println!("    {start}: {:.2} s", started.elapsed().as_secs_f64());
        let pid = tmux.pid();
        tmux.keys(&["q"]);
        let quit = Instant::now();
        while own_cpu_seconds(&pid).is_some() && quit.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ten_thousand(work: &std::path::Path, quick: bool) {
    let servers = 10_000;
    println!("(1) {servers} servers, W = {WORKERS}, a {SLEEP} s stand-in, `check` on every host");
    let theirs = Fleet::new(work, "xargs", servers, WORKERS).xargs(WORKERS, SLEEP);
    let (headless, cpu) = Fleet::new(work, "headless", servers, WORKERS).headless(SLEEP);
    println!(
        "    xargs -P {WORKERS}: {:.1} s; fleetdeck run: {:.1} s, ratio {:.3} (goal ≤ 1.05); fleetdeck's own CPU {:.1} s = {:.3} ms per action (goal ≤ 0.3)",
        theirs.as_secs_f64(),
        headless.as_secs_f64(),
        headless.as_secs_f64() / theirs.as_secs_f64(),
        cpu,
        cpu * 1e3 / servers as f64
    );
    if quick {
        return;
    }
    let fleet = Fleet::new(work, "dashboard", servers, WORKERS);
    let (dashboard, cpu, first_screen) = dashboard_run(&fleet);
    println!(
        "    dashboard (tmux, `a` then `c`): {:.1} s, ratio to headless {:.3} (goal ≤ 1.10); its own CPU {:.1} s = {:.3} ms per action; first screen {:.2} s",
        dashboard.as_secs_f64(),
        dashboard.as_secs_f64() / headless.as_secs_f64(),
        cpu,
        cpu * 1e3 / servers as f64,
        first_screen.as_secs_f64()
    );
}

fn dashboard_command(fleet: &Fleet) -> String {
    format!(
        "env FAKE_SLEEP={SLEEP} {BINARY} --root {} -e {}",
        fleet.root.display(),
        fleet.env
    )
}

/// The dashboard in tmux: `a` selects every server, `c` checks them; done when the journal holds
/// a finished record for each. Returns the wall time from the keys, its own CPU, first screen.
fn dashboard_run(fleet: &Fleet) -> (Duration, f64, Duration) {
    let started = Instant::now();
    let tmux = Tmux::start(160, 45, &dashboard_command(fleet));
    let total = fleet.hosts.len();
    tmux.wait_for("the dashboard", Duration::from_secs(120), |s| {
        s.contains(&format!("/{total}"))
    });
    let first_screen = started.elapsed();
    let pid = tmux.pid();
    let before = own_cpu_seconds(&pid).unwrap();
    let started = Instant::now();
    tmux.keys(&["a"]);
    tmux.keys(&["c"]);
    let mut watch = JournalWatch::new(fleet.journal());
    while watch.poll() < total {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the dashboard run never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed();
    let cpu = own_cpu_seconds(&pid).unwrap() - before;
    tmux.keys(&["q"]);
    (wall, cpu, first_screen)
}

fn cost_per_action(work: &std::path::Path, quick: bool) {
    println!(
        "(2) fleetdeck's own CPU per action, `fleetdeck run check --all` at W = {WORKERS}, a 0 s stand-in:"
    );
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &servers in sizes {
        let fleet = Fleet::new(work, &format!("cost{servers}"), servers, WORKERS);
        let (wall, cpu) = fleet.headless("0");
        println!(
            "    {servers:>7} actions: {:.1} s wall, {:.1} CPU-s, {:.3} ms per action",
            wall.as_secs_f64(),
            cpu,
            cpu * 1e3 / servers as f64
        );
    }
}

/// 100,000 actions left queued by an earlier session (10 per server, held), released with `P`.
fn dashboard_with_100k_queued(work: &std::path::Path) {
    let fleet = Fleet::new(work, "queued", 10_000, WORKERS);
    journal_with_queued(&fleet, 10);
    println!("(3) the dashboard with 100,000 queued actions, {WORKERS} workers running:");
    let started = Instant::now();
    let tmux = Tmux::start(160, 45, &dashboard_command(&fleet));
    tmux.wait_for("the dashboard", Duration::from_secs(300), |s| {
        s.contains("/10000")
    });
    println!("    first screen {:.2} s", started.elapsed().as_secs_f64());
    let pid = tmux.pid();
    tmux.keys(&["P"]);
    tmux.wait_for("the release question", Duration::from_secs(30), |s| {
        s.contains("y yes")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("64 running", Duration::from_secs(60), |s| {
        s.contains("running 64")
    });
    let delays = tmux.key_delays(50);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "    key press → screen: median {:.0} ms, p99 {:.0} ms  (goal ≤ 50 ms)",
        ms(delays[delays.len() / 2]),
        ms(delays[delays.len() * 99 / 100])
    );
    println!(
        "    peak RSS {:.0} MB  (goal ≤ 300 MB)",
        peak_rss_mb(&pid).unwrap_or(0.0)
    );
}

/// A journal whose earlier session queued `per_server` checks (distinct tags) on every server.
fn journal_with_queued(fleet: &Fleet, per_server: usize) {
    use fleetdeck::engine::journal::Record;
    use fleetdeck::engine::model::{Action, Item};
    let path = fleet.journal();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let at = chrono::Utc::now();
    let mut text = String::new();
    let mut id = 0;
    for tag in 0..per_server {
        for server in &fleet.hosts {
            id += 1;
            let item = Item {
                tags: vec![format!("t{tag}")],
                ..Item::requested(id, server, Action::Check, at)
            };
            text.push_str(&serde_json::to_string(&Record::Enqueued { at, item }).unwrap());
            text.push('\n');
        }
    }
    std::fs::write(path, text).unwrap();
}
