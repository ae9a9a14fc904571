//! Retry follows the journal's latest outcomes (also an earlier session's), held items can be
//! discarded, and a chain's priority moves as one.

use super::*;

fn interrupted_deploy(id: ItemId, server: &str) -> Item {
    let mut item = restored_items()[0].clone();
    item.id = id;
    item.server = server.into();
    item.tags = vec!["hotfix".into()];
    item
}

#[test]
fn retry_requeues_an_earlier_sessions_failures_with_their_options() {
    let mut core = core_with(policy());
    core.restore(
        Restore {
            retryable: vec![
                interrupted_deploy(4, "web-03"),
                interrupted_deploy(5, "web-04"),
            ],
            next_id: 9,
            ..Restore::default()
        },
        t0(),
    );
    let fx = command(
        &mut core,
        Command::RetryFailed {
            servers: Some(vec!["web-03".into()]),
        },
    );
    let queued = enqueued(&fx);
    assert_eq!(queued.len(), 1, "{fx:?}");
    assert_eq!(queued[0].server, "web-03");
    assert_eq!(
        queued[0].tags,
        ["hotfix"],
        "the same tags as the failed run"
    );
    assert_eq!(queued[0].attempt, 2);
    assert!(
        logs(&fx).contains(&"Retrying deploy for server web-03 (attempt 2)"),
        "{fx:?}"
    );
    // Retried once: asking again requeues only what is still failing.
    let fx = command(&mut core, Command::RetryFailed { servers: None });
    assert_eq!(
        enqueued(&fx)
            .iter()
            .map(|i| i.server.as_str())
            .collect::<Vec<_>>(),
        ["web-04"]
    );
}

#[test]
fn an_interrupted_run_is_retryable_and_a_later_cancel_clears_it() {
    let mut core = core_with(policy());
    deploy(&mut core, &["web-01", "web-02"]);
    finish(&mut core, 1, Outcome::Interrupted);
    finish(&mut core, 2, failed());
    // web-02 runs again and is cancelled while running: its latest run is no failure now.
    command(
        &mut core,
        Command::RetryFailed {
            servers: Some(vec!["web-02".into()]),
        },
    );
    finish(&mut core, 3, cancelled());
    let fx = command(&mut core, Command::RetryFailed { servers: None });
    assert_eq!(
        enqueued(&fx)
            .iter()
            .map(|i| i.server.as_str())
            .collect::<Vec<_>>(),
        ["web-01"]
    );
}

#[test]
fn discarding_held_items_drops_them_as_cancelled_and_journals_it() {
    let mut core = core_with(policy());
    core.restore(
        Restore {
            pending: restored_items(),
            succeeded: std::collections::HashSet::from([5]),
            next_id: 9,
            ..Restore::default()
        },
        t0(),
    );
    deploy(&mut core, &["web-05"]);
    let fx = command(&mut core, Command::DiscardHeld);
    assert_eq!(
        finished_records(&fx),
        [
            (7, Outcome::Cancelled { during_task: None }),
            (8, Outcome::Cancelled { during_task: None })
        ]
    );
    assert!(
        logs(&fx).contains(&"Discarded 2 held item(s) from an earlier session"),
        "{fx:?}"
    );
    let snapshot = core.snapshot(t0());
    assert!(snapshot.queue.is_empty(), "{:?}", snapshot.queue);
    assert_eq!(snapshot.active, 1, "this session's work is untouched");
}

#[test]
fn raising_any_link_moves_the_whole_chain() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    enqueue(&mut core, &["web-02"], Target::Chain);
    // #2 provision → #3 deploy → #4 check on web-02; raise the check.
    let fx = command(&mut core, Command::SetPriority { id: 4, priority: 5 });
    let moved: Vec<ItemId> = journal(&fx)
        .iter()
        .filter_map(|record| match record {
            Record::Reprioritized {
                id, priority: 5, ..
            } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(moved, [2, 3, 4]);
    // When the worker frees, the chain's first link goes first, not an older plain item.
    deploy(&mut core, &["web-03"]);
    let fx = finish(&mut core, 1, ok());
    assert_eq!(spawns(&fx), [(1, 2)]);
}

#[test]
fn held_duplicates_from_crash_after_crash_merge_on_restore() {
    let link = |id: ItemId, action: Action, after: Option<ItemId>| Item {
        id,
        server: "web-01".into(),
        action,
        tags: Vec::new(),
        after,
        ..restored_items()[0].clone()
    };
    // Two sessions each left a whole chain, and three left the same plain deploy.
    let pending = vec![
        link(1, Action::Provision, None),
        link(2, Action::Deploy, Some(1)),
        link(3, Action::Check, Some(2)),
        link(4, Action::Provision, None),
        link(5, Action::Deploy, Some(4)),
        link(6, Action::Check, Some(5)),
        link(7, Action::Deploy, None),
        link(8, Action::Deploy, None),
        link(9, Action::Deploy, None),
    ];
    let mut core = core_with(policy());
    let fx = core.restore(
        Restore {
            pending,
            next_id: 10,
            ..Restore::default()
        },
        t0(),
    );
    let kept: Vec<ItemId> = core
        .snapshot(t0())
        .queue
        .iter()
        .map(|item| item.id)
        .collect();
    assert_eq!(kept, [1, 2, 3, 7], "one of each, in dispatch order");
    let repointed: Vec<(ItemId, ItemId)> = journal(&fx)
        .iter()
        .filter_map(|record| match record {
            Record::Repointed { old, new, .. } => Some((*old, *new)),
            _ => None,
        })
        .collect();
    assert_eq!(repointed, [(4, 1), (5, 2), (6, 3), (8, 7), (9, 7)]);
    let dropped: Vec<ItemId> = finished_records(&fx).iter().map(|(id, _)| *id).collect();
    assert_eq!(dropped, [4, 5, 6, 8, 9]);
    assert!(
        logs(&fx).contains(&"5 held item(s) were the same work as others held (sessions that crashed in turn): merged"),
        "{fx:?}"
    );
}

#[test]
fn a_server_that_left_the_inventory_keeps_nothing_queued_and_its_run_finishes() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    deploy(&mut core, &["web-02"]);
    let servers: Vec<String> = ["web-01", "db-01"].map(String::from).to_vec();
    let fx = command(&mut core, Command::SetServers(servers));
    assert_eq!(
        finished_records(&fx),
        vec![(2, skipped("server left the inventory"))],
        "web-02's queued deploy is skipped, with why"
    );
    assert_eq!(core.snapshot(t0()).active, 1, "web-01's run goes on");
    let fx = command(
        &mut core,
        Command::Enqueue(EnqueueRequest {
            servers: vec!["web-02".into()],
            target: Target::Action(Action::Check),
            tags: None,
            check_mode: false,
            priority: 0,
        }),
    );
    assert!(spawns(&fx).is_empty() && core.snapshot(t0()).queue.is_empty());
}

#[test]
fn a_chain_of_a_server_that_left_the_inventory_is_skipped_link_by_link_with_the_same_reason() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    enqueue(&mut core, &["web-02"], Target::Chain); // 2, 3, 4
    let fx = command(&mut core, Command::SetServers(vec!["web-01".into()]));
    let gone = skipped("server left the inventory");
    assert_eq!(
        finished_records(&fx),
        vec![(2, gone.clone()), (3, gone.clone()), (4, gone)],
    );
}

#[test]
fn held_work_of_a_server_that_left_the_inventory_while_stopped_is_skipped_at_start() {
    let mut core = core_with(policy());
    let mut pending = restored_items();
    pending.truncate(2);
    pending[1].server = "web-09".into();
    let fx = core.restore(
        Restore {
            pending,
            interrupted: Vec::new(),
            succeeded: Default::default(),
            retryable: Vec::new(),
            next_id: 9,
            rollouts: Vec::new(),
        },
        t0(),
    );
    assert_eq!(
        finished_records(&fx),
        vec![(8, skipped("server left the inventory"))]
    );
    let held: Vec<ItemId> = core
        .snapshot(t0())
        .queue
        .iter()
        .map(|item| item.id)
        .collect();
    assert_eq!(held, [7]);
}

#[test]
fn asking_for_the_same_work_twice_says_it_is_already_queued() {
    let mut core = core_with(Policy {
        workers: 1,
        ..policy()
    });
    deploy(&mut core, &["web-01"]);
    enqueue(&mut core, &["web-02"], Target::Action(Action::Check));
    let fx = enqueue(&mut core, &["web-02"], Target::Action(Action::Check));
    assert!(
        logs(&fx).contains(&"Already queued: check for server web-02 (#2); not queued twice"),
        "{:?}",
        logs(&fx)
    );
    assert_eq!(core.snapshot(t0()).queue.len(), 1);
}
