//! The dashboard end to end: the real binary in a real terminal (tmux), on the demo fleet, with
//! the real ansible-core. Each test drives its own tmux server (its own socket, its own config),
//! sends keys and reads the screen the way an operator would; assertions are on the states the
//! screen settles in, never on how long anything took.

mod common;
#[path = "e2e/terminal.rs"]
mod terminal;

use common::Sandbox;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;
use terminal::*;

under_both_runners!(
    operator_provisions_deploys_resizes_the_pool_and_reads_the_failure,
    quitting_with_runs_in_flight_asks_then_cancels_them,
);

fn operator_provisions_deploys_resizes_the_pool_and_reads_the_failure(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    let term = Terminal::open(&sandbox, "journey", 160, 45);
    wait_for_dashboard(&term);

    // Everything, provisioned.
    term.keys(&["a"]);
    term.wait_for_screen("all nine selected", SCREEN, |s| s.contains("9 selected"));
    // Nine servers: the dashboard asks first.
    term.keys(&["p"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("provision 9 servers?")
    });
    term.keys(&["y"]);
    let provisioned = term.wait_for_screen("nine provisions done", ANSIBLE, |s| {
        session(s) == Some((9, 0)) && header(s).contains("queued 0 · running 0")
    });
    // The header says how the runs were started.
    let expected = match runner {
        "warm" => "runner warm · ansible-core 2.",
        _ => "runner fresh",
    };
    assert!(header(&provisioned).contains(expected), "{provisioned}");
    for server in [
        "db-01", "db-02", "lb-01", "web-01", "web-02", "web-03", "web-04", "web-05", "web-06",
    ] {
        assert_eq!(
            outcome_symbols(&provisioned, server),
            ["✓", "-", "-"],
            "{server} provisioned:\n{provisioned}"
        );
    }

    // Deploy all nine; while they run, grow the pool to five in two quick presses.
    term.keys(&["d"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("deploy 9 servers?")
    });
    term.keys(&["y"]);
    term.wait_for_screen("three deploys running", ANSIBLE, |s| {
        count(s, "running") == Some(3) && header(s).contains("PARALLEL 3")
    });
    term.keys(&["+", "+"]);
    // Each press is one resize; the second counts from the first even before the engine has
    // answered (else both would ask for 4).
    let grown = term.wait_for_screen(
        "the pool at five, four or more runs at once",
        ANSIBLE,
        |s| {
            header(s).contains("PARALLEL 5")
                && count(s, "running").is_some_and(|n| n >= 4)
                && s.contains("Workers resized: 3 → 4")
                && s.contains("Workers resized: 4 → 5")
        },
    );
    println!("--- pool grown to 5 ---\n{grown}");

    // Shrink to one by typing the number: the extra runs finish, draining.
    term.keys(&["w"]);
    term.wait_for_screen("the workers dialog", SCREEN, |s| {
        s.contains("number of workers (0 = sequential)")
    });
    term.keys(&["1", "Enter"]);
    let draining = term.wait_for_screen("the pool at one, extra runs draining", SCREEN, |s| {
        header(s).contains("PARALLEL 1")
            && s.contains("draining")
            && s.contains("Workers resized: 5 → 1")
    });
    println!("--- pool shrunk to 1, draining ---\n{draining}");

    // The end: deploys, then the health checks the demo config asks for, one at a time.
    let end = term.wait_for_screen("all work finished", SEQUENTIAL_TAIL, |s| {
        header(s).contains("queued 0 · running 0") && !header(s).contains("draining")
    });
    println!("--- the end ---\n{end}");
    let top = header(&end);
    assert!(top.contains("PARALLEL 1"), "{top}");
    // 9 provisions + 9 deploys + 8 health checks (health_check_enabled in the demo config; the
    // failed deploy of db-02 gets none): the session's runs, failures included; one server is
    // failing now.
    assert_eq!(session(&end), Some((26, 1)), "{top}");
    assert!(top.contains("✗ 1 failing"), "{top}");
    assert!(end.contains("Workers 0/1"), "{end}");
    assert_eq!(outcome_symbols(&end, "web-01"), ["✓", "✓", "✓"], "{end}");
    assert_eq!(outcome_symbols(&end, "db-02"), ["✓", "✗", "-"], "{end}");
    for server in [
        "db-01", "lb-01", "web-02", "web-03", "web-04", "web-05", "web-06",
    ] {
        assert_eq!(
            outcome_symbols(&end, server),
            ["✓", "✓", "✓"],
            "{server}:\n{end}"
        );
    }
    assert!(end.contains("Health check passed for server"), "{end}");

    // The log pane's history, paged back to the resizes and the failure.
    term.keys(&["Tab", "Tab", "Tab"]);
    term.wait_for_screen("the log pane focused", SCREEN, |s| {
        footer(s).contains("h targets")
    });
    let wanted = |seen: &str| {
        seen.contains("Workers resized: 3 → 4")
            && seen.contains("Workers resized: 4 → 5")
            && seen.contains("Workers resized: 5 → 1")
            && seen.lines().any(|l| {
                l.contains("E:worker-")
                    && l.contains(":Worker ")
                    && l.contains(" failed: deploy for server db-02")
            })
    };
    let mut seen = String::new();
    term.wait_for_screen(
        "the resizes and the failure, paging the log back",
        SCREEN,
        |s| {
            seen.push_str(s);
            if wanted(&seen) {
                return true;
            }
            term.keys(&["PageUp"]);
            false
        },
    );
    // Back to the servers pane (Tab, not Esc: an Esc followed closely by `/` reads as Alt-/).
    term.keys(&["Tab"]);
    term.wait_for_screen("the servers pane focused", SCREEN, |s| {
        !footer(s).contains("h targets")
    });

    // db-02's run log, through the filter.
    term.keys(&["/"]);
    term.wait_for_screen("the filter prompt", SCREEN, |s| {
        footer(s).contains("filter:")
    });
    term.type_text("db-02");
    term.keys(&["Enter"]);
    let filtered = term.wait_for_screen("only db-02", SCREEN, |s| {
        s.contains("Servers 1/9")
            && s.contains("filter \"db-02\"")
            && !footer(s).contains("filter:")
    });
    assert_eq!(
        outcome_symbols(&filtered, "db-02"),
        ["✓", "✗", "-"],
        "{filtered}"
    );
    term.keys(&["Enter"]);
    let viewer = term.wait_for_screen("db-02's deploy log", SCREEN, |s| {
        s.contains("deploy for server db-02 ·") && s.contains("Esc close")
    });
    println!("--- db-02's run log ---\n{viewer}");
    assert!(viewer.contains("Verify release checksum"), "{viewer}");
    assert!(viewer.contains("checksum mismatch"), "{viewer}");
    assert!(
        viewer.contains("db-02_deploy_"),
        "the log file is named: {viewer}"
    );
    term.keys(&["Escape"]);
    term.wait_for_screen("the viewer closed", SCREEN, |s| {
        !s.contains("Esc close") && s.contains("Servers 1/9")
    });
    term.keys(&["Escape"]);
    term.wait_for_screen("the filter cleared", SCREEN, |s| s.contains("Servers 9/9"));

    // Idle: q quits at once.
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0, "{}", term.screen());
    assert!(
        sandbox
            .ansible_left_after(Duration::from_secs(20))
            .is_empty()
    );
}

fn quitting_with_runs_in_flight_asks_then_cancels_them(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    let term = Terminal::open(&sandbox, "quit", 160, 45);
    wait_for_dashboard(&term);
    term.keys(&["a"]);
    term.wait_for_screen("all nine selected", SCREEN, |s| s.contains("9 selected"));
    term.keys(&["p"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("provision 9 servers?")
    });
    term.keys(&["y"]);
    term.wait_for_screen("three provisions running", ANSIBLE, |s| {
        count(s, "running") == Some(3) && s.contains("· provision ")
    });

    term.keys(&["q"]);
    let dialog = term.wait_for_screen("the quit dialog", SCREEN, |s| {
        s.contains("Runs are still in flight")
    });
    println!("--- quit dialog ---\n{dialog}");
    assert!(
        dialog.contains("Queued items stay in the journal"),
        "{dialog}"
    );
    assert!(
        dialog.contains("w wait for running runs, then quit"),
        "{dialog}"
    );
    assert!(dialog.contains("c cancel them and quit"), "{dialog}");
    assert!(dialog.contains("Esc stay"), "{dialog}");

    term.keys(&["c"]);
    let status = term.wait_for_exit(ANSIBLE);
    assert_eq!(status, 0, "quitting is a normal exit:\n{}", term.screen());
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "ansible left behind: {left:#?}");

    // The journal: every run that started finished, the interrupted ones as cancelled; what
    // was only queued has no end, so a later session brings it back paused.
    let records = journal_records(&sandbox);
    let ids = |kind: &str| -> BTreeSet<u64> {
        records
            .iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| r["id"].as_u64().or_else(|| r["item"]["id"].as_u64()))
            .collect()
    };
    let (enqueued, started) = (ids("enqueued"), ids("started"));
    let finished: BTreeMap<u64, &Value> = records
        .iter()
        .filter(|r| r["kind"] == "finished")
        .map(|r| (r["id"].as_u64().unwrap(), r))
        .collect();
    assert_eq!(enqueued.len(), 9, "{records:#?}");
    assert!(!started.is_empty(), "{records:#?}");
    let mut cancelled = 0;
    for id in &started {
        let record = finished
            .get(id)
            .unwrap_or_else(|| panic!("run #{id} started and never finished: {records:#?}"));
        match record["outcome"].as_str() {
            Some("cancelled") => cancelled += 1,
            Some("succeeded") => {}
            other => panic!("run #{id} ended {other:?}: {record}"),
        }
        assert_eq!(record["action"], "provision", "{record}");
    }
    assert!(
        cancelled >= 1,
        "the runs in flight were cancelled: {records:#?}"
    );
    for id in enqueued.difference(&started) {
        assert!(
            !finished.contains_key(id),
            "queued #{id} stays queued for the next session: {records:#?}"
        );
    }
}

#[test]
fn nothing_runs_on_a_hidden_server_unasked_and_a_crash_is_told_truly() {
    let sandbox = Sandbox::demo();
    let term = Terminal::open(&sandbox, "trust", 160, 45);
    wait_for_dashboard(&term);
    let enqueued = || {
        journal_records(&sandbox)
            .iter()
            .filter(|r| r["kind"] == "enqueued")
            .count()
    };

    // web-01 selected, then a filter that hides it.
    term.keys(&["j", "j", "j", "Space"]);
    term.wait_for_screen("web-01 selected", SCREEN, |s| {
        s.contains("1 selected") && s.contains("│● web-01")
    });
    term.keys(&["/"]);
    term.wait_for_screen("the filter prompt", SCREEN, |s| {
        footer(s).contains("filter:")
    });
    term.type_text("db");
    term.keys(&["Enter"]);
    term.wait_for_screen("only the db servers", SCREEN, |s| {
        s.contains("Servers 2/9") && !footer(s).contains("filter:")
    });
    term.keys(&["d"]);
    let asked = term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("deploy 1 server, 1 hidden by the filter: web-01?")
    });
    println!("--- a deploy on a hidden server asks ---\n{asked}");
    assert_eq!(
        enqueued(),
        0,
        "nothing is queued while the question is open"
    );
    term.keys(&["Escape"]);
    term.wait_for_screen("the answer", SCREEN, |s| footer(s).contains("nothing done"));
    assert_eq!(enqueued(), 0, "Esc queues nothing");
    // Asked again and confirmed: it runs (and fails: web-01 was never provisioned).
    term.keys(&["d"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("hidden by the filter: web-01?")
    });
    term.keys(&["y"]);
    term.wait_for_screen("the deploy done", ANSIBLE, |s| {
        session(s) == Some((1, 1)) && header(s).contains("running 0")
    });
    term.keys(&["Escape"]);
    term.wait_for_screen("the filter cleared, the selection kept", SCREEN, |s| {
        s.contains("Servers 9/9") && footer(s).contains("1 server still selected")
    });
    term.keys(&["Escape"]);
    let cleared = term.wait_for_screen("the selection cleared", SCREEN, |s| {
        footer(s).contains("selection of 1 server cleared")
    });
    assert_eq!(
        outcome_symbols(&cleared, "web-01"),
        ["-", "✗", "-"],
        "{cleared}"
    );

    // A provision of lb-01 from the command line, and fleetdeck killed while it runs (slow
    // for now, so it surely still runs when the kill comes).
    let slow_lb = sandbox.root.join("inventory/demo/host_vars/lb-01.yml");
    sandbox.write(
        "inventory/demo/host_vars/lb-01.yml",
        "demo_step_seconds: 120\n",
    );
    term.keys(&[":"]);
    term.wait_for_screen("the command line", SCREEN, |s| {
        footer(s).contains("Tab complete")
    });
    term.type_text("provision lb-01");
    term.keys(&["Enter"]);
    term.wait_for_screen("lb-01's provision running", ANSIBLE, |s| {
        count(s, "running") == Some(1) && outcome_symbols(s, "lb-01") == ["▶", "-", "-"]
    });
    // Killed once its log is open (journaled): a kill before that leaves no log to open.
    wait_for_log_opened(&sandbox, "lb-01");
    let pid: i32 = term.display("#{pane_pid}").parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(term.wait_for_exit(SCREEN), 128 + 9);
    // Its retry below takes the demo's 1 s again.
    std::fs::remove_file(&slow_lb).unwrap();

    // Restarted: the screen says what happened, not what happened before.
    term.restart();
    let after = term.wait_for_screen("the dashboard after the crash", SCREEN, |s| {
        s.contains("Servers 9/9") && s.contains("marked interrupted")
    });
    println!("--- after kill -9 and a restart ---\n{after}");
    assert_eq!(outcome_symbols(&after, "lb-01"), ["↯", "-", "-"], "{after}");
    assert_eq!(
        outcome_symbols(&after, "web-01"),
        ["-", "✗", "-"],
        "{after}"
    );
    assert!(header(&after).contains("✗ 2 failing"), "{after}");
    term.keys(&["j", "j", "i"]);
    term.wait_for_screen("lb-01's details", SCREEN, |s| {
        s.contains("provision interrupted (fleetdeck")
    });
    term.keys(&["Enter"]);
    let log = term.wait_for_screen("lb-01's cut log", SCREEN, |s| {
        s.contains("provision for server lb-01 ·") && s.contains("Esc close")
    });
    assert!(
        log.contains("marked at the next start of fleetdeck"),
        "the log says why it stops: {log}"
    );
    term.keys(&["Escape"]);
    term.wait_for_screen("the viewer closed", SCREEN, |s| !s.contains("Esc close"));

    // r requeues what the journal says failed, earlier session included, and names it. (`i`
    // closes the details: Esc right before a key would read as Alt-that-key.)
    term.keys(&["i", "r"]);
    let asked = term.wait_for_screen("the retry's question", SCREEN, |s| {
        s.contains("retry 2 runs?") && s.contains("runs: provision on lb-01, deploy on web-01")
    });
    println!("--- r after the restart asks ---\n{asked}");
    term.keys(&["y"]);
    let retried = term.wait_for_screen("the retry answered", SCREEN, |s| {
        footer(s).contains("retrying provision on lb-01, deploy on web-01")
    });
    println!("--- r after the restart ---\n{retried}");
    let end = term.wait_for_screen("both retries done", ANSIBLE, |s| {
        session(s) == Some((2, 1)) && header(s).contains("queued 0 · running 0")
    });
    assert_eq!(outcome_symbols(&end, "lb-01"), ["✓", "-", "-"], "{end}");
    assert_eq!(outcome_symbols(&end, "web-01"), ["-", "✗", "-"], "{end}");
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0, "{}", term.screen());
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "ansible left behind: {left:#?}");
}

#[test]
fn a_crash_of_the_dashboard_restores_the_terminal_and_cancels_the_runs_cleanly() {
    let sandbox = Sandbox::demo();
    // Debug builds make the dashboard panic on this key (FLEETDECK_TEST_CRASH_KEY).
    let term = Terminal::open_with(
        &sandbox,
        "crash",
        120,
        36,
        &[("FLEETDECK_TEST_CRASH_KEY", "%")],
    );
    // Slow, so lb-01's provision surely still runs when the crash comes.
    sandbox.write(
        "inventory/demo/host_vars/lb-01.yml",
        "demo_step_seconds: 120\n",
    );
    wait_for_dashboard(&term);
    term.keys(&[":"]);
    term.wait_for_screen("the command line", SCREEN, |s| {
        footer(s).contains("Tab complete")
    });
    term.type_text("provision lb-01");
    term.keys(&["Enter"]);
    term.wait_for_screen("lb-01's provision running", ANSIBLE, |s| {
        count(s, "running") == Some(1)
    });
    wait_for_log_opened(&sandbox, "lb-01");
    term.keys(&["%"]);
    assert_eq!(term.wait_for_exit(ANSIBLE), 101, "{}", term.screen());
    let after = term.screen();
    assert_eq!(
        term.display("#{alternate_on}"),
        "0",
        "back on the normal screen:\n{after}"
    );
    assert!(after.contains("the dashboard crashed"), "{after}");
    assert!(
        after.contains("were cancelled and their logs closed"),
        "{after}"
    );
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "ansible left behind: {left:#?}");
    // The journal is whole: the run that was cut ended as cancelled, with its log.
    let records = journal_records(&sandbox);
    let finished = records
        .iter()
        .find(|r| r["kind"] == "finished" && r["server"] == "lb-01")
        .unwrap_or_else(|| panic!("lb-01's run has an end: {records:#?}"));
    assert_eq!(finished["outcome"], "cancelled", "{finished}");
    let log = std::fs::read_to_string(finished["log"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("# outcome: cancelled"),
        "the log has its footer:\n{log}"
    );
}

#[test]
fn a_vault_password_is_asked_masked_before_the_screen_opens() {
    let sandbox = Sandbox::demo();
    let outside = tempfile::tempdir().unwrap();
    let password_file = outside.path().join("vault-pass");
    std::fs::write(&password_file, "open-sesame-42\n").unwrap();
    let vars = sandbox
        .root
        .join("inventory/demo/group_vars/all/secret.yml");
    std::fs::create_dir_all(vars.parent().unwrap()).unwrap();
    std::fs::write(&vars, "demo_secret: \"s3cr3t-value\"\n").unwrap();
    let encrypted = Command::new(common::ansible_playbook().with_file_name("ansible-vault"))
        .arg("encrypt")
        .arg("--vault-password-file")
        .arg(&password_file)
        .arg(&vars)
        .output()
        .unwrap();
    assert!(encrypted.status.success(), "{encrypted:?}");

    let term = Terminal::open(&sandbox, "vault", 120, 36);
    term.wait_for_screen("the vault prompt", SCREEN, |s| {
        s.contains("Vault password (for inventory/demo/group_vars/all/secret.yml):")
    });
    term.type_text("open-sesame-42");
    let typed = term.screen();
    assert!(
        !typed.contains("open-sesame"),
        "the prompt echoes nothing:\n{typed}"
    );
    term.keys(&["Enter"]);
    // The inventory could be read with it: the dashboard is up with every server.
    let screen = wait_for_dashboard(&term);
    assert!(!screen.contains("open-sesame"), "{screen}");
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0, "{}", term.screen());
}

#[test]
fn the_demo_chain_over_real_ssh_servers_in_the_dashboard() {
    use common::sshd::{HostKeys, SshFleet};
    // Two sshd servers on loopback take the demo environment's place; db-02 fails its deploy.
    let fleet = SshFleet::start(&["web-01", "db-02"]);
    let sandbox = Sandbox::demo();
    std::fs::create_dir_all(&sandbox.demo_root).unwrap();
    let vars = format!(
        "demo_root: {}\ndemo_step_seconds: 1",
        sandbox.demo_root.display()
    );
    sandbox.write(
        "inventory/demo/hosts.yml",
        &fleet.inventory(
            HostKeys::Known,
            &vars,
            &[("db-02", "demo_fail_deploy: true")],
        ),
    );
    sandbox.write(
        "ansible.cfg",
        &format!(
            "[ssh_connection]\ncontrol_path_dir = {}\n",
            fleet.control_path_dir().display()
        ),
    );
    let term = Terminal::open(&sandbox, "ssh", 160, 45);
    term.wait_for_screen("the two SSH servers", SCREEN, |s| s.contains("Servers 2/2"));
    term.keys(&["a", "f"]);
    term.wait_for_screen("the confirmation", SCREEN, |s| {
        s.contains("chain 2 servers?")
    });
    term.keys(&["y"]);
    let end = term.wait_for_screen("the chain done over SSH", ANSIBLE, |s| {
        header(s).contains("queued 0 · running 0") && session(s).is_some_and(|(ran, _)| ran >= 5)
    });
    println!("--- the demo chain over SSH ---\n{end}");
    assert_eq!(outcome_symbols(&end, "web-01"), ["✓", "✓", "✓"], "{end}");
    assert_eq!(outcome_symbols(&end, "db-02"), ["✓", "✗", "⊘"], "{end}");
    assert_eq!(session(&end), Some((5, 1)), "{end}");
    // The runs went over ssh: the deploy's marker file is where the playbook writes it.
    assert!(sandbox.demo_root.join("web-01").join("current").exists());
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0, "{}", term.screen());
    drop(fleet);
}

#[test]
fn small_terminal_resize_help_and_quit_restore_the_terminal() {
    let sandbox = Sandbox::demo();
    let term = Terminal::open(&sandbox, "screen", 80, 24);
    let screen = wait_for_dashboard(&term);
    // The narrow header: "demo PAR 3 workers 0/3 queued 0 · running 0 ✓ none failing ran 0 (0 ✗) … ⏱ 0:00".
    let top = header(&screen);
    assert!(
        top.contains("PAR 3") && top.contains("workers 0/3"),
        "{screen}"
    );
    assert!(
        top.contains("queued 0 · running 0 ✓ none failing"),
        "{screen}"
    );
    assert!(
        top.trim_end().ends_with("⏱ 0:00"),
        "the clock stays: {screen}"
    );
    assert!(
        screen.contains("Queue 0") && screen.contains("Log"),
        "{screen}"
    );
    assert!(
        footer(&screen).contains("Tab pane") && footer(&screen).contains("/ filter"),
        "{screen}"
    );
    assert_eq!(
        term.display("#{alternate_on}"),
        "1",
        "the dashboard has its own screen"
    );

    term.resize(60, 20);
    term.wait_for_screen("the too-small notice", SCREEN, |s| {
        s.contains("terminal too small: 60×20, fleetdeck needs 80×24") && !s.contains("Servers")
    });
    // Down to 20×5 (the notice wraps to what fits) and back: no panic, readable again.
    term.resize(20, 5);
    term.wait_for_screen("the notice at 20×5", SCREEN, |s| {
        s.contains("terminal too") && !s.contains("Servers")
    });
    term.resize(80, 24);
    term.wait_for_screen("the dashboard redrawn", SCREEN, |s| {
        s.contains("Servers 9/9") && s.contains("Workers") && !s.contains("terminal too small")
    });

    term.keys(&["?"]);
    let help = term.wait_for_screen("the help overlay", SCREEN, |s| {
        s.contains("Keys · any key closes")
    });
    println!("--- help at 80×24 ---\n{help}");
    assert!(help.contains("chain provision → deploy → check"), "{help}");
    assert!(
        help.contains("filter servers by name, group or status"),
        "{help}"
    );
    // Taller than 24 rows: it scrolls down to its last section.
    term.keys(&["End"]);
    let bottom = term.wait_for_screen("the end of the help", SCREEN, |s| {
        s.contains("Log viewer (Enter)") && s.contains("Keys · any key closes")
    });
    assert!(bottom.contains("cancel them and quit"), "{bottom}");
    term.keys(&["Escape"]);
    term.wait_for_screen("the help closed", SCREEN, |s| {
        !s.contains("Keys · any key closes") && s.contains("Servers 9/9")
    });

    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0, "{}", term.screen());
    let after = term.screen();
    assert!(
        !after.contains("Servers"),
        "the dashboard's screen is gone:\n{after}"
    );
    assert!(!after.contains("panicked"), "{after}");
    assert_eq!(
        term.display("#{alternate_on}"),
        "0",
        "back on the normal screen"
    );

    // Ended by SIGTERM, it says so to whoever started it, as a shell would (128 + 15).
    term.restart();
    wait_for_dashboard(&term);
    let pid: i32 = term.display("#{pane_pid}").parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(term.wait_for_exit(SCREEN), 143, "{}", term.screen());
    assert_eq!(
        term.display("#{pane_dead_status}"),
        "143",
        "an exit of its own (the signal was handled), not death by the signal"
    );
    assert_eq!(term.display("#{alternate_on}"), "0", "the screen restored");
}

/// A rolling deploy in a real terminal: it stops at db-02's failure with the rest held (not
/// run, not skipped), the strip says so and which key continues; `C` asks, `y` continues it,
/// and it ends done with db-02 the one failure.
#[test]
fn a_rolling_deploy_stops_at_db02_and_c_continues_it() {
    let sandbox = Sandbox::demo();
    let config = sandbox.root.join("inventory/demo/config.yml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\ndeployment_strategy: rolling\nrolling_max_unavailable: 1\n");
    std::fs::write(&config, text).unwrap();
    // Laid out as provision.yml leaves them: deploy.yml needs only these folders.
    for server in ["db-02", "web-01", "web-02"] {
        for dir in ["etc", "releases"] {
            std::fs::create_dir_all(sandbox.demo_root.join(server).join(dir)).unwrap();
        }
    }
    let term = Terminal::open(&sandbox, "rolling", 160, 45);
    wait_for_dashboard(&term);
    term.keys(&[":"]);
    term.wait_for_screen("the command line", SCREEN, |s| {
        footer(s).contains("Tab complete")
    });
    term.type_text("deploy db-02 web-01 web-02");
    term.keys(&["Enter"]);
    let asked = term.wait_for_screen("the rollout question", SCREEN, |s| {
        s.contains("as a rolling deploy: canary ")
    });
    println!("--- the deploy asks ---\n{asked}");
    term.keys(&["y"]);
    let stopped = term.wait_for_screen("the rollout stopped at db-02", ANSIBLE, |s| {
        s.contains("STOPPED: ")
            && s.contains("db-02 deploy failed")
            && header(s).contains("running 0")
    });
    println!("--- stopped ---\n{stopped}");
    assert!(stopped.contains("C continues, A aborts"), "{stopped}");
    let deploys_started = || {
        let records = journal_records(&sandbox);
        let deploys: Vec<u64> = records
            .iter()
            .filter(|r| r["kind"] == "enqueued" && r["item"]["action"] == "deploy")
            .map(|r| r["item"]["id"].as_u64().unwrap())
            .collect();
        records
            .iter()
            .filter(|r| r["kind"] == "started")
            .filter(|r| deploys.contains(&r["id"].as_u64().unwrap()))
            .count()
    };
    let before = deploys_started();
    assert!(
        before < 3,
        "the rest is held, not run: {before} deploys started"
    );

    term.keys(&["C"]);
    let asked = term.wait_for_screen("the question", SCREEN, |s| {
        s.contains("Continue rollout deploy #")
    });
    println!("--- asked ---\n{asked}");
    term.keys(&["y"]);
    let done = term.wait_for_screen("the rollout done", ANSIBLE, |s| {
        s.contains("· done ·") && header(s).contains("running 0")
    });
    println!("--- done ---\n{done}");
    assert!(done.contains("2/3 healthy"), "{done}");
    assert_eq!(deploys_started(), 3, "each server deployed once");
    term.keys(&["q"]);
    assert_eq!(term.wait_for_exit(SCREEN), 0);
}
