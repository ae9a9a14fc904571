//! Execution nodes on the dashboard: each node's load and state in the header (whole when it
//! fits, else totals), the node of each run in its worker panel, and nothing about nodes at
//! all when config.yml names none.

use super::*;
use crate::engine::nodes::{NodeHealth, NodeSetup, Nodes};
use std::collections::HashMap;

fn setup(name: &str, capacity: u32, skipped: Option<&str>) -> NodeSetup {
    NodeSetup {
        name: name.into(),
        remote: name != "local",
        capacity: Some(capacity),
        skipped: skipped.map(String::from),
    }
}

fn ready() -> NodeHealth {
    NodeHealth::Ready {
        version: Some("2.4.3".into()),
        reported_capacity: None,
    }
}

/// Nodes as the engine shows them: each named node in its state (an execution node is probed
/// until it is given another), with `running` runs on the ready ones.
fn nodes(states: &[(&str, u32, NodeHealth, u32)]) -> Nodes {
    let setups = states
        .iter()
        .map(|(name, capacity, health, _)| {
            let skipped = match health {
                NodeHealth::Skipped { reason } => Some(reason.as_str()),
                _ => None,
            };
            setup(name, *capacity, skipped)
        })
        .collect();
    let mut nodes = Nodes::new(setups, HashMap::new(), true);
    for (id, (_, _, health, running)) in states.iter().enumerate() {
        nodes.set_health(id, health.clone());
        for _ in 0..*running {
            nodes.occupy(id);
        }
    }
    nodes
}

/// The five: two ready nodes running the three runs of `running_app`, one skipped by
/// the config check, one lost, one still being probed.
fn five_nodes() -> Nodes {
    let skipped = NodeHealth::Skipped {
        reason: "ansible-runner 2.3.1 on exec-b: fleetdeck needs 2.4".into(),
    };
    let lost = NodeHealth::Lost {
        reason: "ssh: connect to host exec-c port 22: Connection refused".into(),
    };
    nodes(&[
        ("local", 2, ready(), 1),
        ("exec-a", 4, ready(), 2),
        ("exec-b", 4, skipped, 0),
        ("exec-c", 8, lost, 0),
        ("exec-d", 4, NodeHealth::Probing, 0),
    ])
}

/// Three nodes in the three states: one ready and full, one lost, one being probed.
fn three_nodes() -> Nodes {
    let lost = NodeHealth::Lost {
        reason: "ssh exited 255 before any status".into(),
    };
    nodes(&[
        ("local", 3, ready(), 3),
        ("exec-a", 4, lost, 0),
        ("exec-b", 4, NodeHealth::Probing, 0),
    ])
}

/// `running_app` with its runs placed on nodes: web-01 on local, the others on exec-a.
fn running_on_nodes(nodes: Nodes) -> App {
    let mut app = running_app();
    app.snapshot.nodes = nodes;
    for (worker, node) in app
        .snapshot
        .workers
        .iter_mut()
        .zip(["local", "exec-a", "exec-a"])
    {
        if let Some(run) = worker.run.as_mut() {
            run.node = Some(node.into());
        }
    }
    app
}

fn header_at(app: &App, width: u16) -> String {
    let terminal = render_pane(width, 1, |frame, area| {
        header::draw(frame, area, app, now())
    });
    screen(&terminal)
}

#[test]
fn the_header_names_each_node_with_its_load_and_state_when_it_fits() {
    let app = running_on_nodes(five_nodes());
    let list = "workers 3/3 │ nodes local 1/2 · exec-a 2/4 · exec-b 0/0 skipped · \
                exec-c 0/0 unreachable · exec-d probing │ queued 3";
    let wide = header_at(&app, 240);
    assert!(wide.contains(list), "{wide}");
    // Everything else is still there: the nodes took only room nobody needed.
    assert!(wide.contains("session: 4 ran, 0 failed"), "{wide}");
    // Narrower, the list takes the place of the session totals.
    let narrower = header_at(&app, 200);
    assert!(narrower.contains(list), "{narrower}");
    assert!(!narrower.contains("session"), "{narrower}");
    // At 160 columns the list does not fit beside the counts: the totals do, with why.
    let at_160 = header_at(&app, 160);
    assert!(
        at_160.contains("workers 3/3 │ nodes 3/6 (2 down, 1 probing) │ queued 3 · running 3"),
        "{at_160}"
    );
    assert!(at_160.contains("session: 4 ran, 0 failed"), "{at_160}");
    let narrow = header_at(&app, 80);
    assert!(
        narrow.contains("workers 3/3 nodes 3/6 ↓3 queued 3 · running 3 ✗ 2 failing"),
        "{narrow}"
    );
    assert!(
        narrow.contains("⏱ 5:42"),
        "the clock keeps its corner: {narrow}"
    );
    let mut screens = vec![
        format!("240\n{wide}"),
        format!("200\n{narrower}"),
        format!("160\n{at_160}"),
    ];
    for width in [130, 100] {
        screens.push(format!("{width}\n{}", header_at(&app, width)));
    }
    screens.push(format!("80\n{narrow}"));
    insta::assert_snapshot!("header_five_nodes", screens.join("\n"));
}

#[test]
fn three_nodes_in_three_states_at_160_and_80_columns() {
    let app = running_on_nodes(three_nodes());
    let wide = header_at(&app, 160);
    let narrow = header_at(&app, 80);
    assert!(
        wide.contains("nodes local 3/3 · exec-a 0/0 unreachable · exec-b probing"),
        "{wide}"
    );
    assert!(narrow.contains("nodes 3/3 ↓2"), "{narrow}");
    // The header is one line and never a word cut in half.
    for line in [&wide, &narrow] {
        assert_eq!(line.lines().count(), 1, "{line}");
    }
    insta::assert_snapshot!("header_three_nodes", format!("160\n{wide}\n80\n{narrow}"));
}

#[test]
fn a_lost_node_shows_capacity_zero_even_with_a_run_still_on_it() {
    let lost = NodeHealth::Lost {
        reason: "ssh: Broken pipe".into(),
    };
    let mut app = idle_app();
    app.snapshot.nodes = nodes(&[("local", 2, ready(), 0), ("exec-a", 4, lost, 1)]);
    let text = header_at(&app, 160);
    assert!(
        text.contains("nodes local 0/2 · exec-a 1/0 unreachable"),
        "{text}"
    );
}

#[test]
fn all_nodes_ready_show_their_load_and_nothing_about_trouble() {
    let mut app = idle_app();
    app.snapshot.nodes = nodes(&[("local", 2, ready(), 0), ("exec-a", 4, ready(), 0)]);
    let text = header_at(&app, 100);
    assert!(text.contains("nodes local 0/2 · exec-a 0/4"), "{text}");
    assert!(!text.contains("down") && !text.contains('↓'), "{text}");
}

#[test]
fn each_worker_panel_names_its_node() {
    let mut app = running_on_nodes(three_nodes());
    app.focus = Pane::Workers;
    let terminal = render_pane(93, 14, |frame, area| {
        workers::draw(frame, area, &app, now())
    });
    let text = screen(&terminal);
    assert!(text.contains("1 · web-01 · deploy · on local"), "{text}");
    assert!(text.contains("3 · db-01 · provision · on exec-a"), "{text}");
    // web-02 is stalled: the mark keeps its place in the title and the node moves to the
    // counts line rather than being cut.
    assert!(text.contains("⚠ stalled 2:00"), "{text}");
    assert!(
        text.contains("ok 8 changed 1 failed 0  on exec-a"),
        "{text}"
    );
    insta::assert_snapshot!("pane_workers_panels_nodes", terminal.backend());
}

#[test]
fn the_dashboard_at_80_columns_names_nodes_in_the_header_and_the_worker_lines() {
    let app = running_on_nodes(three_nodes());
    let terminal = render(&app, 80, 24);
    let text = screen(&terminal);
    assert!(text.contains("nodes 3/3 ↓2"), "{text}");
    assert!(text.contains("1 web-01     deploy    on local"), "{text}");
    assert!(text.contains("3 db-01      provision on exec-a"), "{text}");
    // A narrow line cuts the node, never the stall mark before it.
    assert!(
        text.contains("2 web-02     deploy    ⚠ stalled 2:00 on"),
        "{text}"
    );
    insta::assert_snapshot!("running_80x24_nodes", terminal.backend());
}

#[test]
fn without_execution_nodes_no_word_about_nodes_appears() {
    for width in [80, 160] {
        let text = screen(&render(&running_app(), width, HEIGHT));
        assert!(!running_app().snapshot.nodes.configured());
        for word in ["node", " on local", "↓"] {
            assert!(!text.contains(word), "{word:?} at {width} columns:\n{text}");
        }
    }
}

#[test]
fn an_idle_worker_says_when_it_waits_for_a_node_slot_rather_than_for_work() {
    let lost = NodeHealth::Lost {
        reason: "ssh: Broken pipe".into(),
    };
    let mut app = idle_app();
    app.focus = Pane::Workers;
    let panels = |app: &App| {
        screen(&render_pane(93, 14, |frame, area| {
            workers::draw(frame, area, app, now())
        }))
    };
    app.snapshot.nodes = nodes(&[("local", 1, ready(), 1), ("exec-a", 2, lost.clone(), 0)]);
    // Nothing queued: they wait for work, whatever the nodes.
    let nothing_queued = panels(&app);
    assert!(
        nothing_queued.contains("waiting for work"),
        "{nothing_queued}"
    );
    app.snapshot.queue = QueueView::of([item(20, "web-02", Job::Deploy)]);
    let full = panels(&app);
    assert!(full.contains("waiting for a node slot"), "{full}");
    assert!(!full.contains("waiting for work"), "{full}");
    // A free slot anywhere: the idle workers wait for work again.
    app.snapshot.nodes = nodes(&[("local", 2, ready(), 1), ("exec-a", 2, lost, 0)]);
    let room = panels(&app);
    assert!(room.contains("waiting for work"), "{room}");
    assert!(!room.contains("node slot"), "{room}");
}
