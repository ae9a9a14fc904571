//! Execution nodes as an operator checks them: real loopback sshd nodes, fleetdeck's guard put
//! on them with `fleetdeck node install`, the repo's ansible-runner as each node's worker, and
//! the real binary run headless. Where runs go (the demo chain over two nodes and local), and
//! what a node that goes away does to them: lost mid-run, or refusing ssh before a run starts.
//! (Cancel, an unsupported runner and secrets: tests/execution_nodes_safety.rs.)

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use nodes::{NodeEntry, NodeLab, Ran, said_by};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Long enough for a loaded 2-core machine; never waited for when things work.
const LIMIT: Duration = Duration::from_secs(240);

#[test]
fn the_demo_chain_spreads_over_both_nodes_and_local_with_the_demos_outcomes() {
    let lab = NodeLab::start(&["exec-a", "exec-b"]);
    lab.configure(
        5,
        &[
            NodeEntry::local(1),
            lab.node("exec-a", "exec-a", 2),
            lab.node("exec-b", "exec-b", 2),
        ],
        "node_for: {db: [exec-b]}\n",
    );
    lab.install("exec-a");
    lab.install("exec-b");

    let out = lab.run(&["chain", "--all"], LIMIT);
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(2), "db-02's deploy fails: {said}");

    let runs = lab.runs();
    let unplaced: Vec<&Ran> = runs.iter().filter(|ran| ran.node.is_none()).collect();
    assert!(unplaced.is_empty(), "started without a node: {unplaced:?}");
    let nodes: BTreeSet<&str> = runs.iter().map(Ran::on).collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["exec-a", "exec-b", "local"]),
        "every node ran something: {runs:#?}"
    );
    let off_pin: Vec<&Ran> = runs
        .iter()
        .filter(|ran| ran.server.starts_with("db-") && ran.on() != "exec-b")
        .collect();
    assert!(
        off_pin.is_empty(),
        "node_for sends db to exec-b: {off_pin:?}"
    );
    // Nothing was tried twice: each of the 26 runs (db-02's check never ran) started once.
    let mut started: HashMap<(&str, &str), usize> = HashMap::new();
    for ran in &runs {
        *started.entry((&ran.server, &ran.action)).or_default() += 1;
    }
    assert_eq!(started.len(), 26, "{started:?}");
    assert!(started.values().all(|n| *n == 1), "{started:?}");

    // The outcomes the demo gives locally.
    let verdicts = lab.verdicts();
    assert_eq!(verdicts.len(), 27, "{verdicts:#?}");
    for ((server, action), record) in &verdicts {
        match (server.as_str(), action.as_str()) {
            ("db-02", "deploy") => {
                assert_eq!(record["outcome"], "failed", "{record}");
                assert_eq!(record["rc"], 2, "{record}");
                assert_eq!(record["task"], "Verify release checksum", "{record}");
            }
            ("db-02", "check") => assert_eq!(record["outcome"], "skipped", "{record}"),
            _ => assert_eq!(
                record["outcome"], "succeeded",
                "{server} {action}: {record}"
            ),
        }
    }
    let healthy: BTreeSet<String> = lab
        .journal()
        .iter()
        .filter(|record| record["kind"] == "health" && record["healthy"] == true)
        .map(|record| record["server"].as_str().unwrap().to_string())
        .collect();
    let all_but_db02: BTreeSet<String> = verdicts
        .keys()
        .map(|(server, _)| server.clone())
        .filter(|server| server != "db-02")
        .collect();
    assert_eq!(healthy, all_but_db02);

    // A remote run's log is ansible's own human output, and names its node.
    let failed = runs
        .iter()
        .find(|ran| ran.server == "db-02" && ran.action == "deploy")
        .unwrap();
    let log = lab.log_of(failed);
    for expected in [
        "# runner: node exec-b: ansible-runner worker over ssh",
        "TASK [Install release]",
        "TASK [Verify release checksum]",
        "fatal: [db-02]: FAILED!",
        "PLAY RECAP",
        "db-02                      : ok=4    changed=3    unreachable=0    failed=1",
    ] {
        assert!(log.contains(expected), "{expected:?} not in:\n{log}");
    }
    let on_a = runs.iter().find(|ran| ran.on() == "exec-a").unwrap();
    let log = lab.log_of(on_a);
    assert!(
        log.contains("# runner: node exec-a: ansible-runner worker over ssh")
            && log.contains(&format!("ok: [{}]", on_a.server))
            && log.contains("PLAY RECAP"),
        "{log}"
    );

    // `fleetdeck status` tells the same story.
    let status = lab.sandbox.status_json(nodes::ENV);
    for ((server, action), record) in &verdicts {
        let shown = &status["servers"][server][action];
        assert_eq!(
            shown["outcome"], record["outcome"],
            "{server} {action}: {shown}"
        );
        if action == "deploy" {
            // db-02's failed deploy was never checked.
            let healthy = match server.as_str() {
                "db-02" => serde_json::Value::Null,
                _ => true.into(),
            };
            assert_eq!(shown["healthy"], healthy, "{server}: {shown}");
        }
    }
    // And which node ran each server's latest run of each action.
    for ran in &runs {
        let shown = &status["servers"][&ran.server][&ran.action];
        if shown["id"] == serde_json::json!(ran.id) {
            assert_eq!(
                shown["node"],
                ran.on(),
                "{} {}: {shown}",
                ran.server,
                ran.action
            );
        }
    }
}

/// A node whose sshd dies (its sessions with it) while a slow play runs there: that run ends
/// interrupted and is not run again by itself; what was still queued runs on the others.
#[test]
fn a_node_lost_mid_run_interrupts_its_run_once_and_the_rest_goes_elsewhere() {
    let mut lab = NodeLab::start(&["exec-a", "exec-b"]);
    lab.add_group("slow", &["db-01"]);
    lab.host_vars("db-01", "demo_step_seconds: 120\n");
    // The first two web runs hold both other slots long enough that work is still queued when
    // exec-a goes, however slowly db-01's remote run starts on a busy machine.
    for first in ["web-01", "web-02"] {
        lab.host_vars(first, "demo_step_seconds: 15\n");
    }
    lab.configure(
        3,
        &[
            NodeEntry::local(1),
            lab.node("exec-a", "exec-a", 1),
            lab.node("exec-b", "exec-b", 1),
        ],
        "node_for: {slow: [exec-a]}\n",
    );
    lab.install("exec-a");
    lab.install("exec-b");
    let servers = [
        "db-01", "web-01", "web-02", "web-03", "web-04", "web-05", "web-06",
    ];
    let child = lab
        .fleetdeck(&[&["run", "provision"], &servers[..]].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = nodes::KillOnDrop(child.id() as i32);
    lab.wait_for_log("db-01", "provision", "TASK [Install base packages", LIMIT);
    let before: Vec<u64> = lab.runs().iter().map(|ran| ran.id).collect();
    lab.fleet.stop("exec-a");
    let out = nodes::wait_output(child, LIMIT);
    guard.defuse();
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");

    let runs = lab.runs();
    let slow: Vec<&Ran> = runs.iter().filter(|ran| ran.server == "db-01").collect();
    assert_eq!(
        slow.len(),
        1,
        "started once, never again: {slow:#?}\n{said}"
    );
    assert_eq!(slow[0].on(), "exec-a");
    assert_eq!(slow[0].outcome.as_deref(), Some("interrupted"), "{said}");
    assert!(!slow[0].retried, "{:?}", slow[0]);
    let log = lab.log_of(slow[0]);
    assert!(
        log.contains("node exec-a broke during the run"),
        "the log says the node was lost:\n{log}"
    );
    let status = lab.sandbox.status_json(nodes::ENV);
    assert_eq!(
        status["servers"]["db-01"]["provision"]["outcome"],
        "interrupted"
    );
    let interrupted = status["interrupted"].as_array().unwrap();
    assert!(
        interrupted
            .iter()
            .any(|run| run["server"] == "db-01" && run["node"] == "exec-a"),
        "status names the node of the interrupted run: {interrupted:?}"
    );

    // The web servers each ran once, fine, and what started after the node went did not go
    // there.
    let web: Vec<&Ran> = runs.iter().filter(|ran| ran.server != "db-01").collect();
    assert_eq!(web.len(), 6, "{web:#?}");
    assert!(
        web.iter()
            .all(|ran| ran.outcome.as_deref() == Some("succeeded")),
        "{web:#?}\n{said}"
    );
    let after: Vec<&&Ran> = web.iter().filter(|ran| !before.contains(&ran.id)).collect();
    assert!(
        !after.is_empty(),
        "something was still queued when exec-a went: {web:#?}"
    );
    assert!(
        after.iter().all(|ran| ran.on() != "exec-a"),
        "nothing goes to a lost node: {after:#?}"
    );
    assert!(said.contains("Node exec-a unreachable"), "{said}");
}

/// ssh that fails before the node got anything of the run (exit 255, not a byte): the run is
/// moved to another node at once, as the same attempt, and only once.
#[test]
fn a_run_whose_ssh_failed_before_it_started_moves_to_another_node_as_the_same_attempt() {
    let lab = NodeLab::start(&["exec-a", "exec-b"]);
    let exec_a = lab.fleet.host("exec-a");
    // The first connection (the engine's probe) goes through to exec-a's sshd (a jump over
    // exec-a itself: `ssh -W` ends with its client), every later one fails as an unreachable
    // node's would.
    let proxy = lab.root().parent().unwrap().join("flaky-proxy");
    std::fs::write(
        &proxy,
        format!(
            "#!/bin/bash\n\
             count=\"$0.connections\"\n\
             n=$(cat \"$count\" 2>/dev/null || echo 0)\n\
             echo $((n + 1)) > \"$count\"\n\
             [ \"$n\" -eq 0 ] || exit 1\n\
             exec ssh -o BatchMode=yes -o IdentitiesOnly=yes -i {key} -o UserKnownHostsFile={known} \
             -o StrictHostKeyChecking=yes -p {port} -W {addr}:{port} {user}@{addr}\n",
            key = lab.fleet.key().display(),
            known = lab.fleet.known_hosts().display(),
            user = lab.fleet.user,
            addr = exec_a.addr,
            port = exec_a.port
        ),
    )
    .unwrap();
    std::fs::set_permissions(&proxy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut flaky = lab.node("flaky", "exec-a", 1);
    let remote = flaky.remote.as_mut().unwrap();
    // Its own connection per run: over a shared one (fleetdeck's default), the run would ride
    // on the probe's connection and never reach the proxy.
    remote.ssh_options.extend([
        "-o".to_string(),
        format!("ProxyCommand={}", proxy.display()),
        "-o".to_string(),
        "ControlMaster=no".to_string(),
        "-o".to_string(),
        "ControlPath=none".to_string(),
    ]);
    // Its guard is exec-b's (the same machine): installing over the proxy would use up the
    // connection that the probe gets.
    remote.guard = Some(lab.work_dir("exec-b").join("fleetdeck-guard"));
    lab.configure(2, &[flaky, lab.node("exec-b", "exec-b", 1)], "");
    lab.install("exec-b");

    let out = lab.run(&["provision", "web-01", "web-02"], LIMIT);
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");

    let runs = lab.runs();
    let on_flaky: Vec<&Ran> = runs.iter().filter(|ran| ran.on() == "flaky").collect();
    assert_eq!(
        on_flaky.len(),
        1,
        "flaky took one run, then was lost: {runs:#?}\n{said}"
    );
    let refused = on_flaky[0];
    assert!(refused.retried, "{refused:?}");
    // The node's failure, not the server's: no host retry or health rule applies to it.
    assert_eq!(refused.outcome.as_deref(), Some("error"), "{refused:?}");
    let log = lab.log_of(refused);
    assert!(log.contains("node flaky could not be reached"), "{log}");
    assert!(
        said.contains(&format!(
            "Requeued provision for server {} for another node",
            refused.server
        )),
        "{said}"
    );

    let again: Vec<&Ran> = runs
        .iter()
        .filter(|ran| ran.server == refused.server && ran.id != refused.id)
        .collect();
    assert_eq!(again.len(), 1, "moved once: {runs:#?}");
    assert_eq!(again[0].on(), "exec-b");
    assert_eq!(
        again[0].attempt, refused.attempt,
        "the same attempt: {runs:#?}"
    );
    assert_eq!(again[0].outcome.as_deref(), Some("succeeded"), "{said}");
    let other = if refused.server == "web-01" {
        "web-02"
    } else {
        "web-01"
    };
    let other: Vec<&Ran> = runs.iter().filter(|ran| ran.server == other).collect();
    assert_eq!(other.len(), 1, "{runs:#?}");
    assert_eq!(other[0].outcome.as_deref(), Some("succeeded"));
    let connections = std::fs::read_to_string(proxy.with_extension("connections")).unwrap();
    assert!(
        connections.trim().parse::<u32>().unwrap() >= 2,
        "the probe and the refused run each went through the proxy: {connections}"
    );
}
