//! Issue 7's promises, key by key: the selection acted on is the one seen, every action answers
//! with what it did, outcomes are the journal's, chains move as one, the command line.

use super::*;
use crate::tui::command_line::complete;

fn confirm_question(app: &App) -> String {
    match &app.mode {
        Mode::Dialog(Dialog::Confirm(confirm)) => confirm.question.clone(),
        other => panic!("no confirmation open: {other:?}"),
    }
}

#[test]
fn an_action_on_servers_the_filter_hides_asks_and_names_them() {
    let mut app = idle();
    app.confirm_actions = false;
    app.selected = selection(&["web-01"]);
    type_text(&mut app, "/db");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(visible(&app), ["db-01", "db-02"]);
    // Even a check, even with confirmations off: web-01 cannot be seen.
    assert_eq!(press(&mut app, &[ch('c')]), Vec::new());
    assert_eq!(
        confirm_question(&app),
        "check 1 server, 1 hidden by the filter: web-01?"
    );
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), Vec::new());
    assert_eq!(app.notice.as_deref(), Some("nothing done"));
    assert_eq!(app.mode, Mode::Normal);

    app.selected = selection(&["db-01", "web-01", "web-02", "web-03"]);
    press(&mut app, &[ch('d')]);
    assert_eq!(
        confirm_question(&app),
        "deploy 4 servers, 3 hidden by the filter: web-01, web-02, web-03?"
    );
    assert_eq!(
        press(&mut app, &[ch('y')]),
        enqueue(
            &["db-01", "web-01", "web-02", "web-03"],
            Target::Action(Job::Deploy)
        )
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("queued deploy on db-01, web-01, web-02, web-03")
    );
}

#[test]
fn confirm_actions_false_skips_the_question_for_servers_in_view() {
    let mut app = idle();
    app.confirm_actions = false;
    app.selected = selection(&["web-01", "web-02"]);
    assert_eq!(
        press(&mut app, &[ch('d')]),
        enqueue(&["web-01", "web-02"], Target::Action(Job::Deploy))
    );
    // With it on, the question names the count.
    app.confirm_actions = true;
    press(&mut app, &[ch('f')]);
    assert_eq!(confirm_question(&app), "chain 2 servers?");
}

#[test]
fn select_all_inside_a_filter_leaves_hidden_selections_and_esc_says_what_it_clears() {
    let mut app = idle();
    app.selected = selection(&["web-01", "web-02"]);
    type_text(&mut app, "/db");
    press(&mut app, &[code(KeyCode::Enter)]);
    press(&mut app, &[ch('a')]);
    assert_eq!(
        app.selected,
        selection(&["db-01", "db-02", "web-01", "web-02"])
    );
    // "none" clears only what is shown.
    press(&mut app, &[ch('a')]);
    assert_eq!(app.selected, selection(&["web-01", "web-02"]));
    assert_eq!(
        app.notice.as_deref(),
        Some("unselected 2 shown servers; 2 hidden by the filter stay selected")
    );
    press(&mut app, &[code(KeyCode::Esc)]);
    assert_eq!(app.filter, "");
    assert_eq!(
        app.notice.as_deref(),
        Some("filter cleared; 2 servers still selected (Esc again clears)")
    );
    press(&mut app, &[code(KeyCode::Esc)]);
    assert!(app.selected.is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("selection of 2 servers cleared")
    );
}

#[test]
fn a_filter_that_matches_nothing_says_so() {
    let mut app = idle();
    type_text(&mut app, "/zzz");
    assert_eq!(
        app.notice.as_deref(),
        Some("no server matches \"zzz\" (name, group or state); Esc clears the filter")
    );
}

#[test]
fn a_check_mode_run_keeps_its_mark_and_is_no_eta() {
    let mut app = idle();
    let mut dry = item(5, "web-01", Job::Provision);
    dry.check_mode = true;
    app.apply(EngineEvent::Finished(finished(
        dry,
        Some(1),
        Outcome::Succeeded,
    )));
    let last = &app.status["web-01"][&Job::Provision];
    assert!(last.check_mode);
    assert!(app.last_duration.is_empty(), "{:?}", app.last_duration);
}

#[test]
fn a_skipped_link_never_hides_a_failure_and_a_cancelled_queue_entry_changes_nothing() {
    let mut app = busy();
    let skipped = Outcome::Skipped {
        reason: "upstream failed".into(),
    };
    app.apply(EngineEvent::Finished(finished(
        item(20, "db-02", Job::Deploy),
        None,
        skipped.clone(),
    )));
    assert_eq!(app.status["db-02"][&Job::Deploy].outcome.label(), "failed");
    app.apply(EngineEvent::Finished(finished(
        item(21, "db-02", Job::Check),
        None,
        skipped,
    )));
    assert_eq!(app.status["db-02"][&Job::Check].outcome.label(), "skipped");
    app.apply(EngineEvent::Finished(finished(
        item(22, "web-05", Job::Check),
        None,
        Outcome::Cancelled { during_task: None },
    )));
    assert!(!app.status.contains_key("web-05"));
    assert_eq!(app.failing_servers(), 1);
}

#[test]
fn cancelling_a_chain_link_asks_and_names_the_links_it_skips() {
    let mut app = busy();
    // #12 deploy web-02, then #15 check after it and #16 after that.
    let mut check = item(15, "web-02", Job::Check);
    check.after = Some(12);
    let mut again = item(16, "web-02", Job::Provision);
    again.after = Some(15);
    for item in [check, again] {
        app.snapshot.queue.insert(item);
    }
    app.focus = Pane::Queue;
    app.cursor.insert(Pane::Queue, 1);
    assert_eq!(press(&mut app, &[ch('x')]), Vec::new());
    assert_eq!(
        confirm_question(&app),
        "cancel deploy on web-02 (#12)? Its later links will be skipped: check #15, provision #16"
    );
    assert_eq!(press(&mut app, &[ch('y')]), engine(Command::Cancel(12)));
    assert_eq!(
        app.notice.as_deref(),
        Some("cancelled deploy on web-02 (#12); skipped check #15, provision #16")
    );
    // A lone item goes at once and says so.
    app.cursor.insert(Pane::Queue, 0);
    assert_eq!(press(&mut app, &[ch('x')]), engine(Command::Cancel(13)));
    assert_eq!(
        app.notice.as_deref(),
        Some("cancelled deploy on web-03 (#13)")
    );
}

#[test]
fn raising_a_chain_link_says_the_chain_moves() {
    let mut app = busy();
    let mut check = item(15, "web-02", Job::Check);
    check.after = Some(12);
    app.snapshot.queue.insert(check);
    app.focus = Pane::Queue;
    app.cursor.insert(Pane::Queue, 3);
    assert_eq!(
        press(&mut app, &[ch('K')]),
        engine(Command::SetPriority {
            id: 15,
            priority: 1
        })
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("check on web-02 (#15) with its chain → priority +1")
    );
}

#[test]
fn held_items_are_counted_and_discarded_after_asking() {
    let mut app = busy();
    change_queued(&mut app, 1, |item| item.held = true);
    change_queued(&mut app, 2, |item| item.held = true);
    assert_eq!(app.held_count(), 2);
    press(&mut app, &[ch('X')]);
    assert_eq!(
        confirm_question(&app),
        "discard the 2 held items from an earlier session? They will not run."
    );
    assert_eq!(press(&mut app, &[ch('y')]), engine(Command::DiscardHeld));
    assert_eq!(app.notice.as_deref(), Some("discarded 2 held items"));
    // Nothing held: nothing asked, and the footer says why.
    let mut app = idle();
    assert_eq!(press(&mut app, &[ch('X')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing held: no item waits from an earlier session")
    );
}

#[test]
fn one_more_worker_than_sequential_is_two() {
    let mut app = idle();
    app.snapshot.target_workers = 0;
    assert_eq!(press(&mut app, &[ch('+')]), engine(Command::SetWorkers(2)));
}

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    press(app, &[ch(':')]);
    type_text(app, line);
    press(app, &[code(KeyCode::Enter)])
}

#[test]
fn the_command_line_goes_through_the_same_actions_as_the_keys() {
    let mut app = idle();
    assert_eq!(
        command(&mut app, "check db-01"),
        enqueue(&["db-01"], Target::Action(Job::Check))
    );
    // A group: several servers, so the same confirmation as `d`.
    assert_eq!(command(&mut app, "deploy db"), Vec::new());
    assert_eq!(confirm_question(&app), "deploy 2 servers?");
    assert_eq!(
        press(&mut app, &[ch('y')]),
        enqueue(&["db-01", "db-02"], Target::Action(Job::Deploy))
    );
    assert_eq!(
        command(&mut app, "workers 5"),
        engine(Command::SetWorkers(5))
    );
    assert_eq!(command(&mut app, "pause"), engine(Command::Pause));
    assert_eq!(
        command(&mut app, "resume"),
        engine(Command::Resume { release_held: true })
    );
    assert_eq!(command(&mut app, "retry failed"), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing to retry: no server's latest run failed")
    );
    assert_eq!(command(&mut app, "filter db"), Vec::new());
    assert_eq!(visible(&app), ["db-01", "db-02"]);
    assert_eq!(
        command(&mut app, "quit"),
        engine(Command::Shutdown(ShutdownMode::Wait))
    );
}

#[test]
fn command_line_mistakes_answer_and_change_nothing() {
    let mut app = idle();
    for (line, says) in [
        ("deploy nope", "no server or group named `nope`"),
        ("workers many", "`many` is not a number of workers"),
        (
            "frobnicate",
            "unknown command `frobnicate`: Tab lists the commands",
        ),
        ("discard", "usage: discard held"),
    ] {
        assert_eq!(command(&mut app, line), Vec::new(), "{line}");
        assert_eq!(app.notice.as_deref(), Some(says), "{line}");
        assert_eq!(app.mode, Mode::Normal);
    }
}

#[test]
fn tab_completes_commands_and_names() {
    let app = idle();
    assert_eq!(
        complete(&app.servers, "dep"),
        ("deploy ".to_string(), Vec::new())
    );
    let (text, candidates) = complete(&app.servers, "deploy we");
    assert_eq!(text, "deploy web");
    assert_eq!(candidates[0], "web");
    assert_eq!(candidates.len(), 7, "the group and its six servers");
    assert_eq!(
        complete(&app.servers, "deploy lb-"),
        ("deploy lb-01 ".to_string(), Vec::new())
    );
    assert_eq!(
        complete(&app.servers, "retry "),
        ("retry failed ".to_string(), Vec::new())
    );
    let (_, all) = complete(&app.servers, "");
    assert!(all.contains(&"discard".to_string()));
}

#[test]
fn a_log_search_that_finds_nothing_says_so() {
    let mut app = idle();
    app.mode = Mode::Viewer(Viewer::new(
        "deploy for server web-01".into(),
        PathBuf::from("web-01.log"),
        "TASK [Unpack]\nok: [web-01]\n",
    ));
    press(&mut app, &[ch('/')]);
    type_text(&mut app, "checksum");
    press(&mut app, &[code(KeyCode::Enter)]);
    let Mode::Viewer(viewer) = &app.mode else {
        panic!("the viewer stays open");
    };
    assert!(viewer.no_match);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 10)).unwrap();
    terminal
        .draw(|frame| crate::tui::ui::viewer::draw(frame, frame.area(), viewer, true))
        .unwrap();
    let text = terminal.backend().to_string();
    assert!(text.contains("no line matches \"checksum\""), "{text}");
    // Searching again for something there clears it.
    press(&mut app, &[ch('/')]);
    type_text(&mut app, "unpack");
    press(&mut app, &[code(KeyCode::Enter)]);
    let Mode::Viewer(viewer) = &app.mode else {
        panic!("the viewer stays open");
    };
    assert!(!viewer.no_match);
}

#[test]
fn the_command_line_asks_for_servers_the_filter_hides() {
    let mut app = idle();
    app.filter = "web".into();
    assert_eq!(command(&mut app, "deploy db-01"), Vec::new());
    assert_eq!(
        confirm_question(&app),
        "deploy 1 server, 1 hidden by the filter: db-01?"
    );
}

#[test]
fn stopping_a_run_answers_and_names_the_links_it_skips() {
    let mut app = busy();
    app.focus = Pane::Workers;
    // Worker 1 runs #10 (deploy web-01); #14 (check web-01) waits for it.
    change_queued(&mut app, 2, |item| item.after = Some(10));
    press(&mut app, &[ch('x')]);
    assert_eq!(press(&mut app, &[ch('i')]), engine(Command::Cancel(10)));
    assert_eq!(
        app.notice.as_deref(),
        Some(
            "interrupting deploy on web-01 (worker 1); its later links will be skipped: check #14"
        )
    );
    press(&mut app, &[ch('x'), code(KeyCode::Esc)]);
    assert_eq!(app.notice.as_deref(), Some("kept running"));
}

#[test]
fn ctrl_u_empties_the_filter() {
    let mut app = idle();
    type_text(&mut app, "/web");
    press(
        &mut app,
        &[KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)],
    );
    assert_eq!(app.filter, "");
    assert_eq!(app.mode, Mode::Filter(FilterInput));
}

#[test]
fn space_says_what_it_selected() {
    let mut app = idle();
    app.cursor.insert(Pane::Servers, 3);
    press(&mut app, &[ch(' ')]);
    assert_eq!(app.notice.as_deref(), Some("selected web-01 (1 selected)"));
    press(&mut app, &[ch(' ')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("unselected web-01 (0 selected)")
    );
}

#[test]
fn priority_saturates_at_the_ends_of_its_range() {
    let mut app = busy();
    app.focus = Pane::Queue;
    change_queued(&mut app, 0, |item| item.priority = i32::MAX);
    assert_eq!(
        press(&mut app, &[ch('K')]),
        engine(Command::SetPriority {
            id: 13,
            priority: i32::MAX
        })
    );
    change_queued(&mut app, 0, |item| item.priority = i32::MIN);
    // The lowest priority goes last in dispatch order.
    app.cursor.insert(Pane::Queue, app.snapshot.queue.len() - 1);
    assert_eq!(
        press(&mut app, &[ch('J')]),
        engine(Command::SetPriority {
            id: 13,
            priority: i32::MIN
        })
    );
}

#[test]
fn an_action_whose_playbook_cannot_run_is_refused_with_a_pointer_to_why() {
    let mut app = idle();
    app.unusable
        .insert(Job::Deploy, "the deploy playbook … does not exist".into());
    app.cursor.insert(Pane::Servers, 3);
    assert_eq!(press(&mut app, &[ch('d')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing queued: the deploy playbook cannot run (the log pane says why)")
    );
    // A chain needs it too; a check does not.
    assert_eq!(press(&mut app, &[ch('f')]), Vec::new());
    assert_eq!(
        press(&mut app, &[ch('c')]),
        enqueue(&["web-01"], Target::Action(Job::Check))
    );
}

#[test]
fn a_worker_count_past_the_cap_is_capped_and_says_so() {
    let mut app = idle();
    press(&mut app, &[ch('w')]);
    type_text(&mut app, "9999");
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        engine(Command::SetWorkers(256))
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("workers → 256 (the most fleetdeck runs at once; 9999 asked)")
    );
}

fn needs_become(id: ItemId, server: &str) -> EngineEvent {
    EngineEvent::Finished(finished(
        item(id, server, Job::Provision),
        Some(1),
        Outcome::Failed {
            rc: Some(2),
            task: Some("Install packages".into()),
            message: format!(
                "{server} needs a become (sudo) password and none was given; run again with --ask-become-pass"
            ),
        },
    ))
}

#[test]
fn a_run_refused_for_want_of_a_become_password_asks_for_it_masked_once() {
    let mut app = idle();
    app.apply(needs_become(5, "web-01"));
    app.apply(needs_become(6, "web-02"));
    let Mode::Dialog(Dialog::BecomePassword { servers, .. }) = &app.mode else {
        panic!("asked: {:?}", app.mode);
    };
    assert_eq!(servers, &["web-01", "web-02"]);
    type_text(&mut app, "hunter2");
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    terminal
        .draw(|frame| {
            crate::tui::ui::draw(
                frame,
                &app,
                &crate::tui::log_pane::LogPane::default(),
                now(),
            )
        })
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("password: •••••••"), "{screen}");
    assert!(!screen.contains("hunter2"), "{screen}");
    assert_eq!(
        press(&mut app, &[code(KeyCode::Enter)]),
        vec![
            Effect::BecomePassword("hunter2".into()),
            Effect::Engine(Command::RetryFailed {
                servers: Some(vec!["web-01".into(), "web-02".into()])
            })
        ]
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("become password set for this session; retrying web-01, web-02")
    );
    // Asked once per server: another refusal does not open it again.
    app.apply(needs_become(7, "web-01"));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn esc_on_the_become_prompt_keeps_nothing_and_says_so() {
    let mut app = idle();
    app.apply(needs_become(5, "db-01"));
    type_text(&mut app, "oops");
    assert_eq!(press(&mut app, &[code(KeyCode::Esc)]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("no become password: those runs stay failed (r retries them later)")
    );
}

#[test]
fn stopping_a_run_that_already_finished_sends_nothing_and_says_so() {
    let mut app = busy();
    app.focus = Pane::Workers;
    press(&mut app, &[ch('x')]);
    // The run ends while the dialog is open.
    app.snapshot.workers[0].run = None;
    assert_eq!(press(&mut app, &[ch('i')]), Vec::new());
    assert_eq!(
        app.notice.as_deref(),
        Some("that run already finished: nothing to stop")
    );
}

#[test]
fn an_inventory_read_again_updates_the_list_the_selection_and_the_engine() {
    let mut app = idle();
    app.selected = selection(&["web-01", "db-02"]);
    let mut inventory = inventory();
    inventory.hosts.remove("db-02");
    inventory
        .hosts
        .insert("web-09".into(), ["web".to_string()].into_iter().collect());
    let effects = app.replace_inventory(&inventory);
    let names: Vec<String> = inventory.hosts.keys().cloned().collect();
    assert_eq!(effects, engine(Command::SetServers(names.clone())));
    let shown: Vec<String> = app.servers.iter().map(|row| row.name.clone()).collect();
    assert_eq!(shown, names);
    assert_eq!(
        app.selected,
        selection(&["web-01"]),
        "a server gone is not selected"
    );
    assert_eq!(
        app.notice.as_deref(),
        Some(
            format!(
                "inventory read again: {} servers, 1 new (web-09), 1 gone (db-02)",
                names.len()
            )
            .as_str()
        )
    );
    // The same inventory again: nothing to tell the engine.
    assert_eq!(app.replace_inventory(&inventory), Vec::new());
    assert!(app.notice.as_deref().unwrap().ends_with("unchanged"));
}

#[test]
fn the_failing_count_counts_the_servers_listed_not_those_that_left_the_inventory() {
    let mut app = busy();
    let before = app.failing_servers();
    assert!(before >= 1, "db-02's deploy failed");
    let failed = app.status["db-02"].clone();
    app.status.insert("gone-01".into(), failed);
    assert_eq!(app.failing_servers(), before, "gone-01 is not on the list");
}

#[test]
fn the_queue_cursor_follows_an_item_the_operator_moved() {
    let mut app = busy();
    app.focus = Pane::Queue;
    app.cursor.insert(Pane::Queue, 1);
    let moved = app.snapshot.queue.nth(1).unwrap().id;
    let first = press(&mut app, &[ch('K')]);
    let Effect::Engine(Command::SetPriority { priority, .. }) = first[0] else {
        panic!("{first:?}");
    };
    // The engine's answer: the item one priority up, now first in the queue.
    let mut snapshot = app.snapshot.clone();
    let mut item = snapshot.queue.get(moved).unwrap().clone();
    item.priority = priority;
    snapshot.queue.insert(item);
    app.apply(EngineEvent::Snapshot(Box::new(snapshot)));
    assert_eq!(
        app.snapshot.queue.nth(app.cursor(Pane::Queue)).unwrap().id,
        moved
    );
    // So the next K moves the same item again.
    assert_eq!(
        press(&mut app, &[ch('K')]),
        engine(Command::SetPriority {
            id: moved,
            priority: priority + 1
        })
    );
}

/// web-05 and web-06 already have a deploy (tagged as the config tags deploys) pending, web-04
/// has one held from an earlier session: new work never merges into held items.
fn with_pending_deploys() -> App {
    let mut app = idle();
    app.policy = Some(crate::tui::fixtures::policy(None));
    for (id, server, held) in [
        (41, "web-05", false),
        (42, "web-06", false),
        (43, "web-04", true),
    ] {
        let mut deploy = item(id, server, Job::Deploy);
        deploy.tags = vec!["app".into()];
        deploy.held = held;
        app.snapshot.queue.insert(deploy);
    }
    app
}

#[test]
fn the_footer_names_only_what_was_queued_and_what_was_already_pending() {
    let mut app = with_pending_deploys();
    press(&mut app, &[ch(':')]);
    type_text(&mut app, "deploy web-05 web-06 lb-01");
    press(&mut app, &[code(KeyCode::Enter), ch('y')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("queued deploy on lb-01; web-05, web-06 already had it pending")
    );

    // `d` on a selection: the same; a held deploy is no deploy pending.
    let mut app = with_pending_deploys();
    app.selected = selection(&["web-04", "web-05", "web-06"]);
    press(&mut app, &[ch('d'), ch('y')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("queued deploy on web-04; web-05, web-06 already had it pending")
    );

    // Everything already pending: nothing to ask, nothing sent, and the footer says why.
    let mut app = with_pending_deploys();
    app.selected = selection(&["web-05", "web-06"]);
    press(&mut app, &[ch('d')]);
    assert!(matches!(app.mode, Mode::Normal), "no question");
    assert_eq!(
        app.notice.as_deref(),
        Some("nothing queued: web-05, web-06 already had deploy pending")
    );

    // Other work is not the same work: a dry run, other tags, a chain (its provision is new).
    let mut app = with_pending_deploys();
    app.selected = selection(&["web-05", "web-06"]);
    press(&mut app, &[ch('f'), ch('y')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("queued chain on web-05, web-06")
    );
    // Without the config's deploy tags, the pending deploys are other work.
    let mut app = with_pending_deploys();
    app.policy = None;
    app.selected = selection(&["web-05", "web-06"]);
    press(&mut app, &[ch('d'), ch('y')]);
    assert_eq!(
        app.notice.as_deref(),
        Some("queued deploy on web-05, web-06")
    );
}

#[test]
fn a_rolling_deploy_is_asked_as_one() {
    use crate::engine::rollout::WindowSize;
    let mut app = idle();
    app.policy = Some(crate::tui::fixtures::policy(Some((
        1,
        WindowSize::Servers(2),
    ))));
    press(&mut app, &[ch(':')]);
    type_text(&mut app, "deploy db-01 web-01 web-02");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(
        confirm_question(&app),
        "deploy 3 servers as a rolling deploy: canary db-01 first, then 2 at a time?"
    );
    press(&mut app, &[code(KeyCode::Esc)]);
    // The order typed is the order they go: the canary is the first named, not the first
    // alphabetically; a server named twice (directly and by its group) goes once.
    press(&mut app, &[ch(':')]);
    type_text(&mut app, "deploy web-02 db web-01 db-01");
    press(&mut app, &[code(KeyCode::Enter)]);
    assert_eq!(
        confirm_question(&app),
        "deploy 4 servers as a rolling deploy: canary web-02 first, then 2 at a time?"
    );
    press(&mut app, &[code(KeyCode::Esc)]);

    // A share of the servers, two canaries, a chain.
    app.policy = Some(crate::tui::fixtures::policy(Some((
        2,
        WindowSize::Percent(25.0),
    ))));
    app.selected = SERVERS.iter().map(|s| s.to_string()).collect();
    press(&mut app, &[ch('f')]);
    assert_eq!(
        confirm_question(&app),
        "chain 9 servers as a rolling deploy: canaries db-01, db-02 first, then 3 at a time?"
    );
    press(&mut app, &[code(KeyCode::Esc)]);

    // No canary; and what is not rolled out is asked as before.
    app.policy = Some(crate::tui::fixtures::policy(Some((
        0,
        WindowSize::Servers(4),
    ))));
    press(&mut app, &[ch('d')]);
    assert_eq!(
        confirm_question(&app),
        "deploy 9 servers as a rolling deploy: no canary, 4 at a time?"
    );
    press(&mut app, &[code(KeyCode::Esc)]);
    press(&mut app, &[ch('p')]);
    assert_eq!(confirm_question(&app), "provision 9 servers?");
    press(&mut app, &[code(KeyCode::Esc)]);
    app.policy = Some(crate::tui::fixtures::policy(None));
    press(&mut app, &[ch('d')]);
    assert_eq!(confirm_question(&app), "deploy 9 servers?");
}
