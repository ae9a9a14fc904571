//! (c): 20 deploys (the demo's deploy.yml, 1 s step) on local-connection hosts at W=5, all on
//! this machine vs over two execution nodes (loopback sshd on this same machine, capacity 3
//! each, no local slot), and where the CPU goes. The controller is the fleetdeck process and
//! everything it reaped (ssh clients, local ansible), plus whatever it left behind, which this
//! bench adopts as subreaper. The nodes are each sshd listener's whole process tree, which is
//! not fleetdeck's: sessions, guard, worker, ansible. Both nodes share the controller's cores,
//! so the remote wall time shows the overhead, not the gain of real separate machines. The
//! nodes side runs as fleetdeck does by default, one shared ssh connection per node; a third
//! side turns that off (`-o ControlMaster=no`), to show what a fresh ssh connection per run
//! costs the controller.

#[path = "nodes/measure.rs"]
mod measure;
// The tests' own /proc readers; the bench reads fewer fields of them.
#[allow(dead_code)]
#[path = "../../tests/common/procfs.rs"]
mod procfs;
#[path = "../../tests/common/sshd.rs"]
mod sshd;

use super::REPO;
// tests/common/sshd.rs reads /proc through its parent module.
use measure::{Measure, median};
use procfs::{all_pids, stat_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The row's name for `--rows`.
pub const ROW: &str = "nodes";
const RUNS: usize = 20;
const WORKERS: usize = 5;
const NODES: [&str; 2] = ["exec-a", "exec-b"];
/// Issue 12's goal for the controller's share of one remote run.
const GOAL_CPU_PER_RUN: f64 = 0.1;
/// (label, environment), in the order they run and print.
const SIDES: [(&str, &str); 3] = [
    ("local", "on-controller"),
    ("2 nodes", "on-nodes"),
    ("2 nodes, fresh ssh/run", "on-nodes-fresh"),
];

pub fn nodes_row(work: &Path, repeat: usize) {
    nix::sys::prctl::set_child_subreaper(true).expect("becoming a subreaper");
    let fleet = sshd::SshFleet::start(&NODES);
    let project = write_project(work, &fleet);
    for node in NODES {
        let out = fleetdeck(&project, "on-nodes")
            .args(["node", "install", node])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fleetdeck node install {node}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "\n(c) {RUNS} deploys (demo deploy.yml, 1 s step) at W={WORKERS}: all local vs two \
         loopback ssh nodes (capacity 3 each, no local) on the same 2 cores (median of {repeat})"
    );
    // The sides take turns, so a slow minute of a shared machine hits all of them.
    let mut samples: Vec<Vec<Measure>> = vec![Vec::new(); SIDES.len()];
    for _ in 0..repeat {
        for ((_, env), samples) in SIDES.iter().zip(&mut samples) {
            let _ = std::fs::remove_dir_all(project.join(".fleetdeck").join(env));
            let mut run = fleetdeck(&project, env);
            run.args(["run", "deploy", "--all"]);
            let output = project.join(format!("{env}.out"));
            samples.push(measure::measure(&mut run, &output, &fleet));
        }
    }
    let sides: Vec<Measure> = samples.into_iter().map(median).collect();
    print_row(&sides, measure::ssh_connection_cpu(&fleet, 5));
}

fn print_row(sides: &[Measure], ssh_connection: f64) {
    let per_run = |m: &Measure| m.controller() / RUNS as f64;
    println!(
        "  {:<24} {:>7} {:>15} {:>9} {:>10} {:>9}",
        "side", "wall", "controller CPU", "per run", "nodes CPU", "total"
    );
    for ((label, _), m) in SIDES.iter().zip(sides) {
        println!(
            "  {label:<24} {:>6.1}s {:>14.2}s {:>8.3}s {:>9.1}s {:>8.1}s",
            m.wall,
            m.controller(),
            per_run(m),
            m.nodes,
            m.controller() + m.nodes,
        );
    }
    for ((label, _), m) in SIDES.iter().zip(sides) {
        println!(
            "  {label}: controller = fleetdeck itself {:.2}s ({:.3}/run) + what it reaped {:.2}s \
             ({:.3}/run) + what it left {:.2}s",
            m.fleetdeck,
            m.fleetdeck / RUNS as f64,
            m.reaped,
            m.reaped / RUNS as f64,
            m.left
        );
        let seen: Vec<String> = m
            .children
            .iter()
            .map(|(name, (count, cpu))| format!("{name} ×{count} {cpu:.2}s"))
            .collect();
        println!("    its programs (sampled, own CPU): {}", seen.join(", "));
    }
    println!(
        "  one fresh ssh connection (ssh … true): {ssh_connection:.3} CPU-s on the controller"
    );
    let (local, remote) = (&sides[0], &sides[1]);
    println!(
        "  ratio remote / local wall: {:.3}; controller CPU per remote run {:.3}s: {}",
        remote.wall / local.wall,
        per_run(remote),
        if per_run(remote) <= GOAL_CPU_PER_RUN {
            format!("meets the goal (≤ {GOAL_CPU_PER_RUN})")
        } else {
            format!("ABOVE the goal of {GOAL_CPU_PER_RUN}")
        }
    );
    println!("  (the lab's Python stream took 0.29–0.37 controller CPU-s per run)");
}

fn write_project(work: &Path, fleet: &sshd::SshFleet) -> PathBuf {
    let project = work.join("c-nodes");
    let managed = project.join("managed");
    std::fs::create_dir_all(project.join("playbooks")).unwrap();
    for play in ["provision", "deploy", "check"] {
        std::fs::copy(
            Path::new(REPO).join(format!("assets/playbooks/{play}.yml")),
            project.join(format!("playbooks/{play}.yml")),
        )
        .unwrap();
    }
    let _ = std::os::unix::fs::symlink(Path::new(REPO).join(".venv"), project.join(".venv"));
    let mut hosts = format!(
        "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \
         \"{{{{ ansible_playbook_python }}}}\"\n    demo_root: {}\n    demo_step_seconds: 1\n  \
         hosts:\n",
        managed.display()
    );
    for n in 1..=RUNS {
        hosts.push_str(&format!("    h{n:02}: {{}}\n"));
        // What provision would have made: deploy only checks that it is there.
        std::fs::create_dir_all(managed.join(format!("h{n:02}/etc"))).unwrap();
    }
    let common = format!(
        "max_parallel_workers: {WORKERS}\nhealth_check_enabled: false\naction_timeout: 10m\n\
         playbooks: {{provision: playbooks/provision.yml, deploy: playbooks/deploy.yml, \
         check: playbooks/check.yml}}\n"
    );
    let sides = [
        ("on-controller", String::new()),
        ("on-nodes", nodes_config(work, fleet, false)),
        ("on-nodes-fresh", nodes_config(work, fleet, true)),
    ];
    for (env, extra) in sides {
        let dir = project.join("inventory").join(env);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts.yml"), &hosts).unwrap();
        std::fs::write(dir.join("config.yml"), format!("{common}{extra}")).unwrap();
    }
    project
}

/// `execution_nodes` with both nodes; `fresh`: no shared connection, a new one per run.
fn nodes_config(work: &Path, fleet: &sshd::SshFleet, fresh: bool) -> String {
    let mut config = String::from("execution_nodes:\n");
    for node in NODES {
        let host = fleet.host(node);
        let mut options = vec!["-p".to_string(), host.port.to_string(), "-i".to_string()];
        options.push(fleet.key().display().to_string());
        options.extend(
            fleet
                .ssh_common_args(sshd::HostKeys::Known)
                .split_whitespace()
                .map(str::to_string),
        );
        if fresh {
            options.extend(["-o".to_string(), "ControlMaster=no".to_string()]);
        } else {
            // The shared connection goes 2 s after the side's last run (fleetdeck keeps it
            // 60 s), so the nodes' CPU is read with no session open and the next side starts
            // cold, as the first did.
            options.extend(["-o".to_string(), "ControlPersist=2".to_string()]);
        }
        config.push_str(&format!(
            "  - name: {node}\n    ssh: {user}@{addr}\n    ssh_options: {options:?}\n    \
             capacity: 3\n    worker: {REPO}/.venv/bin/ansible-runner\n    work_dir: {work}\n",
            user = fleet.user,
            addr = host.addr,
            work = work.join(format!("{node}-work")).display(),
        ));
    }
    config
}

fn fleetdeck(project: &Path, env: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
    command.arg("--root").arg(project).args(["-e", env]);
    command
}
