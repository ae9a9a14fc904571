//! The queue as a table of cases: what is taken, in which order, and why the rest waits.

use super::*;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(n)
}

/// A plain requested item; cases change what they need with `Item { .., ..item(..) }`.
fn item(id: ItemId, server: &str, action: Action) -> Item {
    Item::requested(id, server, action, t0())
}

fn queue_of(items: Vec<Item>) -> Queue {
    let mut queue = Queue::default();
    for item in items {
        let (id, added) = queue.push(item.clone());
        assert!(added, "fixture item #{} was taken for a duplicate", item.id);
        assert_eq!(id, item.id);
    }
    queue
}

/// What the scheduler knows about the world, owned, so a case can describe it as data.
struct World {
    busy: HashMap<String, (Action, Slot)>,
    running: HashMap<ItemId, Action>,
    succeeded: imbl::HashSet<ItemId>,
    now: DateTime<Utc>,
}

impl World {
    fn new(busy: &[(&str, Action, Slot)], succeeded: &[ItemId]) -> World {
        World {
            busy: busy
                .iter()
                .map(|(server, action, slot)| (server.to_string(), (*action, *slot)))
                .collect(),
            running: HashMap::new(),
            succeeded: succeeded.iter().copied().collect(),
            now: t0(),
        }
    }

    fn idle() -> World {
        World::new(&[], &[])
    }

    fn view(&self) -> DispatchView<'_> {
        DispatchView {
            busy: &self.busy,
            running: &self.running,
            succeeded: &self.succeeded,
            now: self.now,
            at_limit: [false; 3],
            nodes: None,
        }
    }
}

/// Runs the queue as a pool with unlimited workers would: a wave takes everything eligible
/// (each taken item makes its server busy), then every run of the wave succeeds and the next
/// wave starts. Returns the ids taken, wave by wave, in the order they were taken.
fn waves(queue: &mut Queue, mut world: World) -> Vec<Vec<ItemId>> {
    let mut waves = Vec::new();
    loop {
        let mut wave = Vec::new();
        loop {
            let taken = queue.take_next(&world.view());
            let Some(item) = taken else { break };
            let slot = wave.len() as Slot + 1;
            world.busy.insert(item.server.clone(), (item.action, slot));
            wave.push(item.id);
        }
        if wave.is_empty() {
            return waves;
        }
        world.busy.clear();
        world.succeeded.extend(wave.iter().copied());
        waves.push(wave);
    }
}

struct OrderCase {
    name: &'static str,
    items: Vec<Item>,
    /// Servers already running something when the first wave starts.
    busy: Vec<(&'static str, Action, Slot)>,
    succeeded: Vec<ItemId>,
    waves: Vec<Vec<ItemId>>,
    /// Ids that must still be queued once nothing more can be taken.
    left: Vec<ItemId>,
}

#[test]
fn dispatch_order() {
    use Action::{Check, Deploy, Provision};
    let cases = vec![
        OrderCase {
            name: "higher priority first, whatever the enqueue order",
            items: vec![
                item(1, "web-01", Deploy),
                Item {
                    priority: 5,
                    ..item(2, "web-02", Deploy)
                },
                Item {
                    priority: 1,
                    ..item(3, "web-03", Deploy)
                },
                Item {
                    priority: -3,
                    ..item(4, "web-04", Deploy)
                },
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![2, 3, 1, 4]],
            left: vec![],
        },
        OrderCase {
            name: "FIFO within one priority (lower id first, even if pushed later)",
            items: vec![
                item(3, "web-03", Deploy),
                item(1, "web-01", Deploy),
                item(2, "web-02", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1, 2, 3]],
            left: vec![],
        },
        OrderCase {
            name: "busy server's item is skipped and the next eligible one taken",
            items: vec![
                Item {
                    priority: 9,
                    ..item(1, "web-01", Check)
                },
                item(2, "web-02", Deploy),
            ],
            busy: vec![("web-01", Deploy, 2)],
            succeeded: vec![],
            waves: vec![vec![2], vec![1]],
            left: vec![],
        },
        OrderCase {
            name: "no head-of-line blocking: a second item of one server lets others pass",
            items: vec![
                item(1, "web-01", Provision),
                item(2, "web-01", Deploy),
                item(3, "web-02", Deploy),
                item(4, "web-03", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1, 3, 4], vec![2]],
            left: vec![],
        },
        OrderCase {
            name: "items of one server run one at a time, in queue order",
            items: vec![
                item(1, "web-01", Provision),
                item(2, "web-01", Deploy),
                item(3, "web-01", Check),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1], vec![2], vec![3]],
            left: vec![],
        },
        OrderCase {
            name: "chain: a link waits until its predecessor succeeded",
            items: vec![
                item(1, "web-01", Provision),
                Item {
                    after: Some(1),
                    ..item(2, "web-01", Deploy)
                },
                Item {
                    after: Some(2),
                    ..item(3, "web-01", Check)
                },
                item(4, "web-02", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1, 4], vec![2], vec![3]],
            left: vec![],
        },
        OrderCase {
            name: "chain: a higher-priority link still waits for its predecessor",
            items: vec![
                item(1, "web-01", Provision),
                Item {
                    after: Some(1),
                    priority: 10,
                    ..item(2, "web-02", Deploy)
                },
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1], vec![2]],
            left: vec![],
        },
        OrderCase {
            name: "chain: a predecessor that succeeded earlier lets the link run at once",
            items: vec![Item {
                after: Some(99),
                ..item(2, "web-01", Deploy)
            }],
            busy: vec![],
            succeeded: vec![99],
            waves: vec![vec![2]],
            left: vec![],
        },
        OrderCase {
            name: "chain: a predecessor that never succeeds keeps the link queued",
            items: vec![
                Item {
                    after: Some(99),
                    ..item(2, "web-01", Deploy)
                },
                item(3, "web-02", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![3]],
            left: vec![2],
        },
        OrderCase {
            name: "backoff in the future is not taken; others pass it",
            items: vec![
                Item {
                    priority: 9,
                    not_before: Some(secs(10)),
                    ..item(1, "web-01", Deploy)
                },
                item(2, "web-02", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![2]],
            left: vec![1],
        },
        OrderCase {
            name: "backoff that ends now or ended before is taken",
            items: vec![
                Item {
                    not_before: Some(t0()),
                    ..item(1, "web-01", Deploy)
                },
                Item {
                    not_before: Some(secs(-30)),
                    ..item(2, "web-02", Deploy)
                },
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![1, 2]],
            left: vec![],
        },
        OrderCase {
            name: "held items are never taken",
            items: vec![
                Item {
                    held: true,
                    priority: 9,
                    ..item(1, "web-01", Deploy)
                },
                item(2, "web-02", Deploy),
            ],
            busy: vec![],
            succeeded: vec![],
            waves: vec![vec![2]],
            left: vec![1],
        },
        OrderCase {
            name: "every server busy: nothing is taken",
            items: vec![item(1, "web-01", Deploy), item(2, "web-02", Check)],
            busy: vec![("web-01", Provision, 1), ("web-02", Deploy, 2)],
            succeeded: vec![],
            waves: vec![],
            left: vec![1, 2],
        },
    ];
    for case in cases {
        let mut queue = queue_of(case.items);
        let got = waves(&mut queue, World::new(&case.busy, &case.succeeded));
        assert_eq!(got, case.waves, "{}: waves of dispatch", case.name);
        let left: Vec<ItemId> = queue.iter().map(|item| item.id).collect();
        assert_eq!(left, case.left, "{}: still queued", case.name);
    }
}

#[test]
fn take_next_removes_what_it_returns() {
    let mut queue = queue_of(vec![
        item(1, "web-01", Action::Deploy),
        item(2, "web-02", Action::Deploy),
    ]);
    let world = World::idle();
    let first = queue.take_next(&world.view()).expect("one eligible item");
    let second = queue
        .take_next(&world.view())
        .expect("another eligible item");
    assert_ne!(first.id, second.id, "the same item was handed out twice");
    assert!(!queue.contains(first.id) && !queue.contains(second.id));
    assert!(queue.is_empty());
    assert_eq!(
        queue.take_next(&world.view()),
        None,
        "an empty queue gives nothing"
    );
}

struct DedupCase {
    name: &'static str,
    pending: Vec<Item>,
    pushed: Item,
    /// The id `push` answers with and whether it added a new item.
    expect: (ItemId, bool),
    /// Ids still held afterwards.
    held: Vec<ItemId>,
}

#[test]
fn dedup() {
    use Action::{Check, Deploy};
    let tagged = |id, tags: &[&str]| Item {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..item(id, "web-01", Deploy)
    };
    let held = |item: Item| Item { held: true, ..item };
    let cases = vec![
        DedupCase {
            name: "identical server/action/tags/check_mode returns the pending id",
            pending: vec![tagged(1, &["release"])],
            pushed: tagged(2, &["release"]),
            expect: (1, false),
            held: vec![],
        },
        DedupCase {
            name: "priority and attempt are not part of the work",
            pending: vec![tagged(1, &["release"])],
            pushed: Item {
                priority: 7,
                attempt: 3,
                ..tagged(2, &["release"])
            },
            expect: (1, false),
            held: vec![],
        },
        DedupCase {
            name: "a chain link is not the same work as a standalone item",
            pending: vec![tagged(1, &["release"])],
            pushed: Item {
                after: Some(40),
                ..tagged(2, &["release"])
            },
            expect: (2, true),
            held: vec![],
        },
        DedupCase {
            name: "different tags is not a duplicate",
            pending: vec![tagged(1, &["release"])],
            pushed: tagged(2, &["release", "migrate"]),
            expect: (2, true),
            held: vec![],
        },
        DedupCase {
            name: "check mode is not a duplicate of a real run",
            pending: vec![tagged(1, &["release"])],
            pushed: Item {
                check_mode: true,
                ..tagged(2, &["release"])
            },
            expect: (2, true),
            held: vec![],
        },
        DedupCase {
            name: "another action is not a duplicate",
            pending: vec![item(1, "web-01", Deploy)],
            pushed: item(2, "web-01", Check),
            expect: (2, true),
            held: vec![],
        },
        DedupCase {
            name: "another server is not a duplicate",
            pending: vec![item(1, "web-01", Deploy)],
            pushed: item(2, "web-02", Deploy),
            expect: (2, true),
            held: vec![],
        },
        DedupCase {
            name: "held work from an earlier session is never merged into, nor released",
            pending: vec![held(item(1, "web-01", Deploy))],
            pushed: item(2, "web-01", Deploy),
            expect: (2, true),
            held: vec![1],
        },
        DedupCase {
            name: "new work does not release unrelated held work",
            pending: vec![held(item(1, "web-01", Deploy))],
            pushed: item(2, "web-02", Deploy),
            expect: (2, true),
            held: vec![1],
        },
    ];
    for case in cases {
        let pending_len = case.pending.len();
        let mut queue = queue_of(case.pending);
        let got = queue.push(case.pushed);
        assert_eq!(got, case.expect, "{}: push answer", case.name);
        let expected_len = pending_len + usize::from(case.expect.1);
        assert_eq!(queue.len(), expected_len, "{}: queue length", case.name);
        let held: Vec<ItemId> = queue
            .iter()
            .filter(|item| item.held)
            .map(|item| item.id)
            .collect();
        assert_eq!(held, case.held, "{}: still held", case.name);
    }
}

struct BlockerCase {
    name: &'static str,
    queued: Vec<Item>,
    subject: Item,
    world: World,
    expect: Option<Wait>,
    text: Option<&'static str>,
}

#[test]
fn blocker_reasons() {
    use Action::{Check, Deploy, Provision};
    let running = |id: ItemId, action: Action| {
        let mut world = World::idle();
        world.running.insert(id, action);
        world
    };
    let cases = vec![
        BlockerCase {
            name: "eligible item has no blocker",
            queued: vec![],
            subject: item(1, "web-01", Deploy),
            world: World::idle(),
            expect: None,
            text: None,
        },
        BlockerCase {
            name: "server busy names the action and the worker",
            queued: vec![],
            subject: item(1, "web-01", Check),
            world: World::new(&[("web-01", Deploy, 2)], &[]),
            expect: Some(Wait::HostBusy {
                action: Deploy,
                slot: 2,
            }),
            text: Some("host busy: deploy on worker 2"),
        },
        BlockerCase {
            name: "chain link names a queued predecessor by its action",
            queued: vec![item(12, "web-01", Provision)],
            subject: Item {
                after: Some(12),
                ..item(13, "web-01", Deploy)
            },
            world: World::idle(),
            expect: Some(Wait::After {
                id: 12,
                action: Provision,
            }),
            text: Some("after provision #12"),
        },
        BlockerCase {
            name: "chain link names a running predecessor by its action",
            queued: vec![],
            subject: Item {
                after: Some(12),
                ..item(13, "web-01", Deploy)
            },
            world: running(12, Provision),
            expect: Some(Wait::After {
                id: 12,
                action: Provision,
            }),
            text: Some("after provision #12"),
        },
        BlockerCase {
            name: "held comes before every other reason",
            queued: vec![],
            subject: Item {
                held: true,
                after: Some(12),
                not_before: Some(secs(5)),
                ..item(13, "web-01", Deploy)
            },
            world: World::new(&[("web-01", Provision, 1)], &[]),
            expect: Some(Wait::Held),
            text: Some("held (P runs · X discards)"),
        },
        BlockerCase {
            name: "a chain link waits for its predecessor before its backoff or its host",
            queued: vec![item(12, "web-01", Provision)],
            subject: Item {
                after: Some(12),
                not_before: Some(secs(5)),
                ..item(13, "web-01", Deploy)
            },
            world: World::new(&[("web-01", Check, 3)], &[]),
            expect: Some(Wait::After {
                id: 12,
                action: Provision,
            }),
            text: Some("after provision #12"),
        },
        BlockerCase {
            name: "a backoff is named before a busy host",
            queued: vec![],
            subject: Item {
                not_before: Some(secs(5)),
                ..item(13, "web-01", Deploy)
            },
            world: World::new(&[("web-01", Check, 3)], &[]),
            expect: Some(Wait::Backoff { until: secs(5) }),
            text: None,
        },
        BlockerCase {
            name: "a backoff that ended and a predecessor that succeeded block nothing",
            queued: vec![],
            subject: Item {
                after: Some(12),
                not_before: Some(secs(-1)),
                ..item(13, "web-01", Deploy)
            },
            world: World::new(&[("web-02", Deploy, 1)], &[12]),
            expect: None,
            text: None,
        },
    ];
    for case in cases {
        let queue = queue_of(case.queued);
        let got = queue.blocker(&case.subject, &case.world.view());
        assert_eq!(got, case.expect, "{}: blocker", case.name);
        if let Some(text) = case.text {
            assert_eq!(
                got.map(|wait| wait.to_string()).as_deref(),
                Some(text),
                "{}: shown as",
                case.name
            );
        }
    }
}

#[test]
fn wait_display_text() {
    let until = secs(90);
    let cases = vec![
        (Wait::Paused, "paused".to_string()),
        (Wait::Held, "held (P runs · X discards)".to_string()),
        (
            Wait::HostBusy {
                action: Action::Deploy,
                slot: 2,
            },
            "host busy: deploy on worker 2".to_string(),
        ),
        (
            Wait::After {
                id: 12,
                action: Action::Provision,
            },
            "after provision #12".to_string(),
        ),
        (Wait::NoFreeWorker, "waiting for a free worker".to_string()),
        (
            Wait::Backoff { until },
            // Operators read local wall-clock time.
            format!(
                "retry at {}",
                until.with_timezone(&chrono::Local).format("%H:%M:%S")
            ),
        ),
    ];
    for (wait, text) in cases {
        assert_eq!(wait.to_string(), text, "{wait:?}");
    }
}

#[test]
fn next_wake_is_the_earliest_future_backoff() {
    let backoff = |id, at: Option<i64>| Item {
        not_before: at.map(secs),
        ..item(id, &format!("web-{id:02}"), Action::Deploy)
    };
    let cases = vec![
        ("no backoff at all", vec![backoff(1, None)], None),
        (
            "backoffs that already ended",
            vec![backoff(1, Some(-5)), backoff(2, Some(0))],
            None,
        ),
        (
            "earliest of the future ones",
            vec![
                backoff(1, Some(-5)),
                backoff(2, Some(30)),
                backoff(3, Some(4)),
                backoff(4, None),
            ],
            Some(secs(4)),
        ),
    ];
    for (name, items, expect) in cases {
        let queue = queue_of(items);
        assert_eq!(queue.next_wake(t0()), expect, "{name}");
    }
}

#[test]
fn remove_dependents_is_transitive() {
    use Action::{Check, Deploy, Provision};
    let linked = |id, server: &str, action, after| Item {
        after,
        ..item(id, server, action)
    };
    let mut queue = queue_of(vec![
        linked(1, "web-01", Provision, None),
        linked(2, "web-01", Deploy, Some(1)),
        linked(3, "web-01", Check, Some(2)),
        linked(4, "web-02", Check, Some(2)),
        linked(5, "web-03", Provision, None),
        linked(6, "web-03", Deploy, Some(5)),
    ]);
    let mut removed: Vec<ItemId> = queue
        .remove_dependents(1)
        .iter()
        .map(|item| item.id)
        .collect();
    removed.sort();
    assert_eq!(removed, vec![2, 3, 4], "children and grandchildren of #1");
    let left: Vec<ItemId> = queue.iter().map(|item| item.id).collect();
    assert_eq!(left, vec![1, 5, 6], "#1 itself and the other chain stay");
    assert!(
        queue.remove_dependents(42).is_empty(),
        "an id nobody waits for removes nothing"
    );
}

#[test]
fn repoint_dependents_moves_only_direct_waiters() {
    let linked = |id, after| Item {
        after,
        ..item(id, &format!("web-{id:02}"), Action::Deploy)
    };
    let mut queue = queue_of(vec![
        linked(2, Some(1)),
        linked(3, Some(1)),
        linked(4, Some(2)),
        linked(5, None),
    ]);
    queue.repoint_dependents(1, 9);
    let afters: Vec<(ItemId, Option<ItemId>)> =
        queue.iter().map(|item| (item.id, item.after)).collect();
    assert_eq!(
        afters,
        vec![(2, Some(9)), (3, Some(9)), (4, Some(2)), (5, None)]
    );
}

#[test]
fn set_priority_reorders_and_release_held_counts() {
    let mut queue = queue_of(vec![
        item(1, "web-01", Action::Deploy),
        Item {
            held: true,
            ..item(2, "web-02", Action::Deploy)
        },
        Item {
            held: true,
            ..item(3, "web-03", Action::Deploy)
        },
    ]);
    assert!(queue.set_priority(3, 4));
    assert!(!queue.set_priority(42, 4), "unknown id");
    let order: Vec<ItemId> = queue.iter().map(|item| item.id).collect();
    assert_eq!(order, vec![3, 1, 2]);
    assert_eq!(queue.held_count(), 2);
    assert_eq!(queue.release_held(), 2);
    assert_eq!(queue.held_count(), 0);
    assert_eq!(queue.release_held(), 0, "nothing left to release");
}

/// The indexed queue against the plainest possible model of the rules (sort everything, take
/// the first eligible item), over a long deterministic mix of pushes, pops, cancels,
/// reprioritisations, holds, chains and backoffs on a handful of servers.
#[test]
fn the_indexed_queue_takes_what_a_plain_sorted_scan_would() {
    let servers = ["a", "b", "c", "d"];
    let mut queue = Queue::default();
    let mut model: Vec<Item> = Vec::new();
    let mut world = World::idle();
    let mut seed: u64 = 0x5eed;
    let mut next = |bound: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    let mut id = 0;
    for step in 0..5000 {
        match next(6) {
            0 | 1 => {
                id += 1;
                let mut pushed = item(id, servers[next(4) as usize], Action::ALL[next(3) as usize]);
                pushed.priority = next(3) as i32 - 1;
                pushed.tags = vec![format!("t{}", next(3))];
                pushed.held = next(8) == 0;
                if next(4) == 0 && !model.is_empty() {
                    pushed.after = Some(model[next(model.len() as u64) as usize].id);
                }
                if next(8) == 0 {
                    pushed.not_before = Some(secs(next(20) as i64));
                }
                let duplicate = model
                    .iter()
                    .find(|p| !p.held && p.same_work(&pushed))
                    .map(|p| p.id);
                let answer = queue.push(pushed.clone());
                match duplicate {
                    Some(existing) => assert_eq!(answer, (existing, false), "step {step}"),
                    None => {
                        assert_eq!(answer, (id, true), "step {step}");
                        model.push(pushed);
                    }
                }
            }
            2 => {
                let view = world.view();
                let mut sorted: Vec<&Item> = model.iter().collect();
                sorted.sort_by_key(|item| (std::cmp::Reverse(item.priority), item.id));
                let expected = sorted
                    .into_iter()
                    .find(|item| queue.blocker(item, &view).is_none())
                    .map(|item| item.id);
                let taken = queue.take_next(&view).map(|item| item.id);
                assert_eq!(taken, expected, "step {step}");
                if let Some(taken) = taken {
                    let item = model.remove(model.iter().position(|i| i.id == taken).unwrap());
                    // It runs; the previous run on its server finishes and succeeds.
                    world.busy.retain(|_, (_, slot)| *slot != 1);
                    world.busy.insert(item.server.clone(), (item.action, 1));
                    world.succeeded.insert(taken);
                }
            }
            3 if !model.is_empty() => {
                let victim = model[next(model.len() as u64) as usize].id;
                assert_eq!(queue.remove(victim).map(|i| i.id), Some(victim));
                model.retain(|i| i.id != victim);
            }
            4 if !model.is_empty() => {
                let index = next(model.len() as u64) as usize;
                let priority = next(5) as i32 - 2;
                assert!(queue.set_priority(model[index].id, priority));
                model[index].priority = priority;
            }
            5 => {
                world.now = secs(next(25) as i64);
                if next(10) == 0 {
                    queue.release_held();
                    model.iter_mut().for_each(|i| i.held = false);
                }
            }
            _ => {}
        }
        assert_eq!(queue.len(), model.len(), "step {step}");
        assert_eq!(
            queue.held_count(),
            model.iter().filter(|i| i.held).count(),
            "step {step}"
        );
    }
}
