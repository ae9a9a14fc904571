//! Snapshot tests of the dashboard: hand-made `App` values rendered into a `TestBackend`.
//!
//! Time is an input: every timestamp is relative to one fixed `now`, so the snapshots are stable.
//! `tui_logger::init_logger` is never called here, so the log pane renders empty.

use super::{draw, footer, header, queue, servers, workers};
use crate::engine::model::{Action as Job, Item, ItemId, Outcome, Purpose, Recap};
use crate::engine::queue::QueueView;
use crate::engine::snapshot::{RunView, WorkerView};
use crate::engine::{Snapshot, StopMode, Target};
use crate::inventory::Inventory;
use crate::status::{FleetStatus, LastRun};
use crate::tui::app::{App, Pane};
use crate::tui::dialogs::{Dialog, EnqueueForm, Field};
use crate::tui::filter::FilterInput;
use crate::tui::help::Help;
use crate::tui::log_pane::LogPane;
use crate::tui::mode::Mode;
use crate::tui::viewer::Viewer;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::path::PathBuf;
use std::time::Duration;

use crate::tui::fixtures::{ago, demo_inventory, now};

const WIDTH: u16 = 160;
const HEIGHT: u16 = 45;

/// The demo fleet: web-01..06, db-01, db-02, lb-01.
fn inventory() -> Inventory {
    demo_inventory(&[])
}

fn last(id: ItemId, secs_ago: i64, outcome: Outcome) -> LastRun {
    LastRun {
        id,
        at: ago(secs_ago),
        outcome,
        healthy: None,
        check_mode: false,
        log: Some(format!("logs/run-{id}.log").into()),
        node: None,
    }
}

fn failed(task: &str) -> Outcome {
    Outcome::Failed {
        rc: Some(2),
        task: Some(task.into()),
        message: "checksum mismatch".into(),
    }
}

/// Last outcomes with ages: provisioned days ago, deployed hours ago, one unhealthy deploy,
/// one unreachable check, lb-01 never touched.
fn history() -> FleetStatus {
    let mut status = FleetStatus::new();
    let web = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"];
    for (i, server) in web.iter().chain(&["db-01", "db-02"]).enumerate() {
        let runs = status.entry(server.to_string()).or_default();
        let id = i as ItemId * 3 + 1;
        runs.insert(Job::Provision, last(id, 3 * 86_400, Outcome::Succeeded));
        runs.insert(Job::Deploy, last(id + 1, 2 * 3600 + 60, Outcome::Succeeded));
        if i % 2 == 0 {
            runs.insert(Job::Check, last(id + 2, 45 * 60, Outcome::Succeeded));
        }
    }
    status
        .get_mut("web-03")
        .unwrap()
        .get_mut(&Job::Deploy)
        .unwrap()
        .healthy = Some(false);
    status.get_mut("db-01").unwrap().insert(
        Job::Check,
        last(
            40,
            42,
            Outcome::Unreachable {
                message: "ssh: connect to host db-01 port 22: Connection refused".into(),
            },
        ),
    );
    status
}

fn item(id: ItemId, server: &str, action: Job) -> Item {
    Item::requested(id, server, action, ago(300))
}

fn run(item: Item, started_secs_ago: i64, task: &str, tasks_started: u32) -> RunView {
    RunView {
        node: None,
        log_path: Some(PathBuf::from(format!(
            "/var/lib/fleetdeck/demo/runs/{}-{}-{}.log",
            item.id, item.action, item.server
        ))),
        item,
        started_at: ago(started_secs_ago),
        task: Some(task.into()),
        tasks_started,
        counts: Recap::default(),
        last_line: None,
        last_event_at: ago(1),
        stopping: None,
    }
}

fn idle_workers(n: u32) -> Vec<WorkerView> {
    (1..=n).map(|slot| WorkerView { slot, run: None }).collect()
}

/// The idle dashboard: nothing queued, three idle workers, some history.
fn idle_app() -> App {
    let mut app = App::new("demo", &inventory(), history());
    app.snapshot = Snapshot {
        at: now(),
        target_workers: 3,
        workers: idle_workers(3),
        finished: 0,
        ..Snapshot::default()
    };
    app.busy_total = Duration::from_secs(3 * 60 + 12);
    app
}

/// Three runs in flight: one with an ETA from an earlier run, one stalled, one with no history.
fn running_app() -> App {
    let mut app = idle_app();
    let mut web01 = run(
        item(20, "web-01", Job::Deploy),
        95,
        "Unpack release archive",
        7,
    );
    web01.counts = Recap {
        ok: 5,
        changed: 2,
        ..Recap::default()
    };
    web01.last_line = Some("changed: [web-01] => (item=app.tar.gz)".into());
    let mut web02 = run(
        item(21, "web-02", Job::Deploy),
        150,
        "Wait for the service port",
        9,
    );
    web02.counts = Recap {
        ok: 8,
        changed: 1,
        ..Recap::default()
    };
    web02.last_line =
        Some("FAILED - RETRYING: [web-02]: Wait for the service port (5 retries left).".into());
    web02.last_event_at = ago(120);
    let mut db01 = run(
        item(22, "db-01", Job::Provision),
        12,
        "Install PostgreSQL packages",
        3,
    );
    db01.counts = Recap {
        ok: 2,
        ..Recap::default()
    };
    db01.last_line = Some("ok: [db-01]".into());
    app.snapshot.workers = vec![
        WorkerView {
            slot: 1,
            run: Some(web01),
        },
        WorkerView {
            slot: 2,
            run: Some(web02),
        },
        WorkerView {
            slot: 3,
            run: Some(db01),
        },
    ];
    app.snapshot.active = 3;
    app.snapshot.finished = 4;
    let mut check = item(24, "web-01", Job::Check);
    check.after = Some(20);
    check.purpose = Purpose::HealthCheck { deploy: 20 };
    // Waits follow from the state: web-03 waits for a worker, the check for deploy #20 on
    // worker 1, db-01's deploy for its provision on worker 3.
    app.snapshot.queue = QueueView::of([
        item(23, "web-03", Job::Deploy),
        check,
        item(25, "db-01", Job::Deploy),
    ]);
    app.last_duration
        .insert(("web-01".into(), Job::Deploy), Duration::from_secs(180));
    app.busy_since = Some(ago(150));
    app
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| draw(frame, app, &LogPane::default(), now()))
        .unwrap();
    terminal
}

/// Renders one pane alone into a `width` × `height` screen.
fn render_pane(
    width: u16,
    height: u16,
    pane: impl FnOnce(&mut ratatui::Frame, Rect),
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pane(frame, frame.area())).unwrap();
    terminal
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

#[test]
fn idle() {
    let terminal = render(&idle_app(), WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("Servers 9/9"), "{text}");
    assert!(text.contains("waiting for work"), "{text}");
    insta::assert_snapshot!("idle", terminal.backend());
}

#[test]
fn three_workers_running() {
    let terminal = render(&running_app(), WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("ETA 1:25"), "{text}");
    assert!(text.contains("⚠ stalled 2:00"), "{text}");
    assert!(text.contains("no ETA yet"), "{text}");
    assert!(text.contains("waiting for a free worker"), "{text}");
    insta::assert_snapshot!("running_three_workers", terminal.backend());
}

#[test]
fn failure() {
    let mut app = idle_app();
    app.status
        .get_mut("db-02")
        .unwrap()
        .insert(Job::Deploy, last(30, 25, failed("Verify release checksum")));
    app.snapshot.finished = 9;
    app.snapshot.failed = 1;
    app.busy_total = Duration::from_secs(61);
    app.focus = Pane::Servers;
    app.cursor.insert(Pane::Servers, 1);
    app.details = true;
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("session: 9 ran, 1 failed"), "{text}");
    // db-02 failed now, db-01 unreachable, web-03 unhealthy.
    assert!(text.contains("✗ 3 failing"), "{text}");
    assert!(text.contains("✗ 25s"), "{text}");
    insta::assert_snapshot!("failure", terminal.backend());
}

#[test]
fn paused() {
    let mut app = idle_app();
    app.snapshot.paused = Some("db-02 deploy failed (max_fail_percentage 10%)".into());
    app.snapshot.failed = 1;
    app.snapshot.finished = 3;
    app.snapshot.dispatch_stopped = true;
    app.snapshot.queue = QueueView::of(
        ["web-04", "web-05", "web-06", "lb-01"]
            .iter()
            .enumerate()
            .map(|(i, server)| item(40 + i as ItemId, server, Job::Deploy)),
    );
    let mut held = item(50, "db-01", Job::Check);
    held.held = true;
    app.snapshot.queue.insert(held);
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("⏸ PAUSED: db-02 deploy failed"), "{text}");
    assert!(text.contains("Queue 5"), "{text}");
    insta::assert_snapshot!("paused", terminal.backend());
}

#[test]
fn resize_draining() {
    let mut app = idle_app();
    app.snapshot.target_workers = 3;
    app.snapshot.workers = idle_workers(5);
    for (slot, server, secs) in [(4, "web-05", 40), (5, "web-06", 70)] {
        let mut busy = run(
            item(60 + slot as ItemId, server, Job::Deploy),
            secs,
            "Restart the application",
            11,
        );
        busy.counts = Recap {
            ok: 10,
            changed: 3,
            ..Recap::default()
        };
        app.snapshot.workers[slot as usize - 1].run = Some(busy);
    }
    app.snapshot.active = 2;
    app.snapshot.draining = 2;
    app.busy_since = Some(ago(70));
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("resizing 5 → 3, 2 draining"), "{text}");
    assert!(text.contains("draining"), "{text}");
    insta::assert_snapshot!("resize_draining", terminal.backend());
}

#[test]
fn help_overlay() {
    let mut app = idle_app();
    app.mode = Mode::Help(Help::default());
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("Keys · any key closes"), "{text}");
    insta::assert_snapshot!("help_overlay", terminal.backend());
}

#[test]
fn filter_active() {
    let mut app = idle_app();
    app.mode = Mode::Filter(FilterInput);
    app.filter = "web".into();
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("Servers 6/9"), "{text}");
    assert!(text.contains("filter: web"), "{text}");
    assert!(!text.contains("db-01"), "{text}");
    insta::assert_snapshot!("filter_web", terminal.backend());
}

#[test]
fn dialog_enqueue_form() {
    let mut app = idle_app();
    app.selected = ["web-01", "web-02"].map(String::from).into();
    let mut form = EnqueueForm::new(vec!["web-01".into(), "web-02".into()], Vec::new());
    form.target = Target::Chain;
    form.tags = "nginx,config".into();
    form.check_mode = true;
    form.priority = "5".into();
    form.field = Field::Tags;
    app.mode = Mode::Dialog(Dialog::Enqueue(form));
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("Queue with options"), "{text}");
    assert!(text.contains("nginx,config▏"), "{text}");
    insta::assert_snapshot!("dialog_enqueue", terminal.backend());
}

#[test]
fn dialog_enqueue_form_with_a_big_selection() {
    let mut app = idle_app();
    let servers: Vec<String> = (1..=30).map(|i| format!("web-{i:02}")).collect();
    app.mode = Mode::Dialog(Dialog::Enqueue(EnqueueForm::new(servers, Vec::new())));
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    // The list is cut to one line, so every field stays in the dialog.
    assert!(text.contains("servers (30): web-01, web-02,"), "{text}");
    assert!(text.contains("more"), "{text}");
    assert!(text.contains("priority   0"), "{text}");
    assert!(text.contains("Esc cancel"), "{text}");
    insta::assert_snapshot!("dialog_enqueue_big_selection", terminal.backend());
}

#[test]
fn dialog_stop_run() {
    let mut app = running_app();
    app.focus = Pane::Workers;
    app.cursor.insert(Pane::Workers, 1);
    app.mode = Mode::Dialog(Dialog::StopRun {
        id: 21,
        slot: 2,
        label: "deploy for server web-02".into(),
    });
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(
        text.contains("worker 2: deploy for server web-02"),
        "{text}"
    );
    assert!(text.contains("i interrupt (graceful)"), "{text}");
    insta::assert_snapshot!("dialog_stop_run", terminal.backend());
}

#[test]
fn dialog_quit() {
    let mut app = running_app();
    app.mode = Mode::Dialog(Dialog::Quit);
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("w wait for running runs"), "{text}");
    insta::assert_snapshot!("dialog_quit", terminal.backend());
}

fn viewer() -> Viewer {
    let mut lines = vec![
        "PLAY [Deploy the application] **************************************************"
            .to_string(),
        String::new(),
        "TASK [Gathering Facts] *********************************************************".into(),
        "ok: [web-01]".into(),
    ];
    for i in 1..=40 {
        lines.push(String::new());
        lines.push(format!("TASK [Step {i}] ***"));
        lines.push(if i % 4 == 0 {
            format!("changed: [web-01] => (item=release-{i})")
        } else {
            "ok: [web-01]".into()
        });
    }
    Viewer {
        title: "deploy for server web-01".into(),
        path: PathBuf::from("/var/lib/fleetdeck/demo/runs/20-deploy-web-01.log"),
        scroll: 27,
        follow: false,
        search: "changed".into(),
        searching: false,
        lines,
        ..Viewer::default()
    }
}

#[test]
fn log_viewer_with_search() {
    let mut app = running_app();
    app.mode = Mode::Viewer(viewer());
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("line 28/124"), "{text}");
    assert!(
        text.contains("changed: [web-01] => (item=release-8)"),
        "{text}"
    );
    insta::assert_snapshot!("log_viewer_search", terminal.backend());
}

#[test]
fn log_viewer_typing_a_search() {
    let mut app = running_app();
    let mut viewer = viewer();
    viewer.searching = true;
    viewer.search = "release-1".into();
    viewer.follow = true;
    viewer.scroll = viewer.lines.len() - 1;
    app.mode = Mode::Viewer(viewer);
    let terminal = render(&app, WIDTH, HEIGHT);
    let text = screen(&terminal);
    assert!(text.contains("search: release-1▏"), "{text}");
    assert!(text.contains("following"), "{text}");
    insta::assert_snapshot!("log_viewer_searching", terminal.backend());
}

#[test]
fn small_terminal_with_three_workers() {
    let terminal = render(&running_app(), 80, 24);
    let text = screen(&terminal);
    assert!(!text.contains("terminal too small"), "{text}");
    assert!(text.contains("web-02"), "{text}");
    // The compact worker lines keep the stall mark even when the counts are cut.
    assert!(text.contains("⚠ stalled 2:00"), "{text}");
    insta::assert_snapshot!("running_80x24", terminal.backend());
}

#[test]
fn terminal_too_small() {
    let terminal = render(&running_app(), 70, 20);
    let text = screen(&terminal);
    assert!(text.contains("terminal too small: 70×20"), "{text}");
    insta::assert_snapshot!("too_small_70x20", terminal.backend());
}

#[test]
fn pane_header_running() {
    let mut app = running_app();
    app.snapshot.failed = 2;
    app.quitting = Some(crate::engine::ShutdownMode::Wait);
    let terminal = render_pane(WIDTH, 1, |frame, area| {
        header::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("PARALLEL 3"), "{text}");
    assert!(text.contains("2 failed"), "{text}");
    assert!(
        text.contains("quitting: waiting for runs to finish…"),
        "{text}"
    );
    // The session's working time: 3:12 before this burst, 2:30 into it.
    assert!(text.contains("⏱ 5:42"), "{text}");
    insta::assert_snapshot!("pane_header", terminal.backend());
}

#[test]
fn pane_header_sequential() {
    let mut app = idle_app();
    app.snapshot.target_workers = 0;
    app.snapshot.workers = idle_workers(1);
    let terminal = render_pane(120, 1, |frame, area| header::draw(frame, area, &app, now()));
    let text = screen(&terminal);
    assert!(text.contains("SEQUENTIAL │ workers 0/1"), "{text}");
    insta::assert_snapshot!("pane_header_sequential", terminal.backend());
    // A narrow terminal gets the short words, and the clock still fits.
    let terminal = render_pane(80, 1, |frame, area| header::draw(frame, area, &app, now()));
    let text = screen(&terminal);
    assert!(
        text.contains("SEQ workers 0/1") && text.contains("⏱ 3:12"),
        "{text}"
    );
}

#[test]
fn pane_footer_hints_per_focus() {
    let mut app = idle_app();
    let mut screens = Vec::new();
    for pane in [Pane::Servers, Pane::Queue, Pane::Workers, Pane::Log] {
        app.focus = pane;
        let terminal = render_pane(WIDTH, 1, |frame, area| footer::draw(frame, area, &app));
        screens.push(format!("{pane:?}\n{}", screen(&terminal)));
    }
    app.notice = Some("queued deploy on 6 server(s)".into());
    let terminal = render_pane(WIDTH, 1, |frame, area| footer::draw(frame, area, &app));
    screens.push(format!("notice\n{}", screen(&terminal)));
    let text = screens.join("\n");
    assert!(text.contains("x cancel"), "{text}");
    assert!(text.contains("x stop"), "{text}");
    insta::assert_snapshot!("pane_footer", text);
}

#[test]
fn pane_servers_with_details() {
    let mut app = running_app();
    app.selected = ["web-01", "web-02", "web-03"].map(String::from).into();
    app.cursor.insert(Pane::Servers, 3);
    app.details = true;
    let terminal = render_pane(67, 22, |frame, area| {
        servers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("3 selected"), "{text}");
    assert!(text.contains("running: deploy for server web-01"), "{text}");
    insta::assert_snapshot!("pane_servers_details", terminal.backend());
}

#[test]
fn pane_queue_reasons() {
    let mut app = running_app();
    app.focus = Pane::Queue;
    let mut tagged = item(26, "lb-01", Job::Deploy);
    tagged.tags = vec!["nginx".into(), "config".into()];
    tagged.check_mode = true;
    tagged.priority = 5;
    tagged.attempt = 2;
    app.snapshot.queue.insert(tagged);
    let mut low = item(27, "db-02", Job::Check);
    low.priority = -1;
    app.snapshot.queue.insert(low);
    app.cursor.insert(Pane::Queue, 1);
    let terminal = render_pane(100, 9, |frame, area| queue::draw(frame, area, &app));
    let text = screen(&terminal);
    assert!(text.contains("after deploy #20"), "{text}");
    assert!(text.contains("host busy: provision on worker 3"), "{text}");
    assert!(text.contains("try 2"), "{text}");
    insta::assert_snapshot!("pane_queue", terminal.backend());
}

#[test]
fn pane_workers_panels() {
    let mut app = running_app();
    app.focus = Pane::Workers;
    app.cursor.insert(Pane::Workers, 2);
    if let Some(run) = app.snapshot.workers[2].run.as_mut() {
        run.stopping = Some(StopMode::Graceful);
    }
    let terminal = render_pane(93, 14, |frame, area| {
        workers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("interrupting"), "{text}");
    assert!(text.contains("ETA 1:25"), "{text}");
    insta::assert_snapshot!("pane_workers_panels", terminal.backend());
}

#[test]
fn pane_workers_compact() {
    let mut app = running_app();
    app.snapshot.workers.push(WorkerView { slot: 4, run: None });
    app.snapshot.target_workers = 4;
    let terminal = render_pane(93, 6, |frame, area| workers::draw(frame, area, &app, now()));
    let text = screen(&terminal);
    assert!(text.contains(" 4 idle"), "{text}");
    assert!(text.contains("⚠ stalled 2:00"), "{text}");
    insta::assert_snapshot!("pane_workers_compact", terminal.backend());
}

#[path = "tests/trust.rs"]
mod trust;

#[path = "tests/rollouts.rs"]
mod rollouts;

#[path = "tests/nodes.rs"]
mod nodes;
