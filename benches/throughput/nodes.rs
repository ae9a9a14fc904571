//! (c): 20 deploys (the demo's deploy.yml, 1 s step) on local-connection hosts at W=5, all on
//! this machine vs over two execution nodes (loopback sshd on this same machine, capacity 3
//! each, no local slot), and where the CPU goes. The controller is the fleetdeck process and
//! everything it reaped (ssh clients, local ansible), plus whatever it left behind, which this
//! bench adopts as subreaper. The nodes are each sshd listener's whole process tree, which is
//! not fleetdeck's: sessions, guard, worker, ansible. Both nodes share the controller's cores,
//! so the remote wall time shows the overhead, not the gain of real separate machines.

#[path = "../../tests/common/sshd.rs"]
mod sshd;

use super::REPO;
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The row's name for `--rows`.
pub const ROW: &str = "nodes";
const RUNS: usize = 20;
const WORKERS: usize = 5;
const NODES: [&str; 2] = ["exec-a", "exec-b"];
/// Issue 12's goal for the controller's share of one remote run.
const GOAL_CPU_PER_RUN: f64 = 0.1;
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// How long the nodes may take to close their sessions once fleetdeck is gone.
const SESSIONS_DRAIN: Duration = Duration::from_secs(20);

/// One side's figures, in seconds.
#[derive(Clone, Default)]
struct Measure {
    wall: f64,
    /// fleetdeck's own threads.
    fleetdeck: f64,
    /// What fleetdeck reaped: ssh clients, local ansible-playbook and the warm runner.
    reaped: f64,
    /// What fleetdeck left running at its exit (adopted and reaped by this bench).
    left: f64,
    /// Every sshd listener's tree.
    nodes: f64,
    /// fleetdeck's descendants seen while sampling, by program name: how many processes and
    /// their own CPU when last seen (a lower bound: what a process spent after its last
    /// sample, or a process shorter than a sample, is missed).
    children: BTreeMap<String, (usize, f64)>,
}

impl Measure {
    fn controller(&self) -> f64 {
        self.fleetdeck + self.reaped + self.left
    }
}

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
    let listeners: Vec<i32> = fleet.hosts.iter().filter_map(|host| host.pid()).collect();
    let quiet = || wait_for_no_sessions(&fleet);
    println!(
        "\n(c) {RUNS} deploys (demo deploy.yml, 1 s step) at W={WORKERS}: all local vs two \
         loopback ssh nodes (capacity 3 each, no local) on the same 2 cores (median of {repeat})"
    );
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        local.push(measure(&project, "on-controller", &listeners, quiet));
        remote.push(measure(&project, "on-nodes", &listeners, quiet));
    }
    let (local, remote) = (median(local), median(remote));
    println!(
        "  {:<10} {:>7} {:>16} {:>12} {:>12} {:>10} {:>10}",
        "side", "wall", "controller CPU", "per run", "nodes CPU", "total", "fleetdeck"
    );
    for (name, m) in [("local", &local), ("2 nodes", &remote)] {
        println!(
            "  {name:<10} {:>6.1}s {:>15.2}s {:>11.3}s {:>11.1}s {:>9.1}s {:>9.2}s",
            m.wall,
            m.controller(),
            m.controller() / RUNS as f64,
            m.nodes,
            m.controller() + m.nodes,
            m.fleetdeck,
        );
    }
    let per_run = remote.controller() / RUNS as f64;
    println!(
        "  remote controller CPU split: fleetdeck itself {:.2}s ({:.3}/run), reaped children \
         {:.2}s ({:.3}/run), left behind {:.2}s",
        remote.fleetdeck,
        remote.fleetdeck / RUNS as f64,
        remote.reaped,
        remote.reaped / RUNS as f64,
        remote.left
    );
    let seen = |m: &Measure| {
        m.children
            .iter()
            .map(|(name, (count, cpu))| format!("{name} ×{count} {cpu:.2}s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  fleetdeck's descendants (sampled, own CPU), local: {}",
        seen(&local)
    );
    println!(
        "  fleetdeck's descendants (sampled, own CPU), 2 nodes: {}",
        seen(&remote)
    );
    println!(
        "  ratio remote / local wall: {:.3}; controller CPU per remote run {per_run:.3}s: {}",
        remote.wall / local.wall,
        if per_run <= GOAL_CPU_PER_RUN {
            format!("meets the goal (≤ {GOAL_CPU_PER_RUN})")
        } else {
            format!("ABOVE the goal of {GOAL_CPU_PER_RUN}")
        }
    );
    println!("  (the lab's Python stream took 0.29–0.37 controller CPU-s per run)");
}

/// Two environments over the same 20 hosts and playbooks: `on-controller` (no
/// execution_nodes) and `on-nodes` (exec-a and exec-b only).
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
    let mut nodes = String::from("execution_nodes:\n");
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
        nodes.push_str(&format!(
            "  - name: {node}\n    ssh: {user}@{addr}\n    ssh_options: {options:?}\n    \
             capacity: 3\n    worker: {REPO}/.venv/bin/ansible-runner\n    work_dir: {work}\n",
            user = fleet.user,
            addr = host.addr,
            work = work.join(format!("{node}-work")).display(),
        ));
    }
    for (env, extra) in [("on-controller", String::new()), ("on-nodes", nodes)] {
        let dir = project.join("inventory").join(env);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts.yml"), &hosts).unwrap();
        std::fs::write(dir.join("config.yml"), format!("{common}{extra}")).unwrap();
    }
    project
}

fn fleetdeck(project: &Path, env: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
    command.arg("--root").arg(project).args(["-e", env]);
    command
}

/// One `fleetdeck run deploy --all`, from spawn to exit.
fn measure(project: &Path, env: &str, listeners: &[i32], quiet: impl Fn()) -> Measure {
    let _ = std::fs::remove_dir_all(project.join(".fleetdeck").join(env));
    quiet();
    let output = project.join(format!("{env}.out"));
    let nodes_before = listeners.iter().map(|pid| tree_cpu(*pid)).sum::<f64>();
    let reaped_before = children_cpu();
    let started = Instant::now();
    let child = fleetdeck(project, env)
        .args(["run", "deploy", "--all"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(Stdio::from(
            std::fs::File::create(output.with_extension("err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let stop = Arc::new(AtomicBool::new(false));
    let children = Arc::new(Mutex::new(BTreeMap::<i32, (String, f64)>::new()));
    let sampler = std::thread::spawn({
        let (stop, children) = (stop.clone(), children.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                for child in sshd::descendants(pid) {
                    let comm = std::fs::read_to_string(format!("/proc/{child}/comm"));
                    if let (Ok(comm), Some([utime, stime, ..])) = (comm, times(child)) {
                        let seen = (comm.trim().to_string(), utime + stime);
                        children.lock().unwrap().insert(child, seen);
                    }
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        }
    });
    // Kept a zombie for a moment: its stat still holds its own and its reaped children's CPU.
    waitid(
        Id::Pid(Pid::from_raw(pid)),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
    )
    .expect("waiting for fleetdeck");
    let wall = started.elapsed().as_secs_f64();
    let [utime, stime, cutime, cstime] = times(pid).expect("fleetdeck's stat");
    let mut child = child;
    let status = child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert!(
        status.success(),
        "fleetdeck run on {env} failed ({status}):\n{}",
        std::fs::read_to_string(&output).unwrap_or_default()
    );
    let reaped_by_fleetdeck = children_cpu() - reaped_before;
    reap_orphans(listeners);
    let left = children_cpu() - reaped_before - reaped_by_fleetdeck;
    quiet();
    let nodes = listeners.iter().map(|pid| tree_cpu(*pid)).sum::<f64>() - nodes_before;
    let mut by_name = BTreeMap::new();
    for (name, cpu) in children.lock().unwrap().values() {
        let entry = by_name.entry(name.clone()).or_insert((0, 0.0));
        *entry = (entry.0 + 1, entry.1 + cpu);
    }
    Measure {
        wall,
        fleetdeck: utime + stime,
        reaped: cutime + cstime,
        left,
        nodes,
        children: by_name,
    }
}

/// Waits for processes fleetdeck left that came to us as subreaper (not the sshd listeners,
/// which are ours to keep), so that their CPU counts as the controller's.
fn reap_orphans(listeners: &[i32]) {
    let me = std::process::id() as i32;
    let orphans: Vec<i32> = all_pids()
        .into_iter()
        .filter(|pid| !listeners.contains(pid))
        .filter(|pid| stat_of(*pid).is_some_and(|stat| stat.ppid == me))
        .collect();
    for orphan in orphans {
        let _ = nix::sys::wait::waitpid(Pid::from_raw(orphan), None);
    }
}

fn wait_for_no_sessions(fleet: &sshd::SshFleet) {
    let deadline = Instant::now() + SESSIONS_DRAIN;
    while NODES.iter().any(|node| !fleet.sessions(node).is_empty()) {
        assert!(
            Instant::now() < deadline,
            "the nodes still have ssh sessions after {SESSIONS_DRAIN:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Children of this bench it has waited for, user + system, in seconds.
fn children_cpu() -> f64 {
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(usage.user_time()) + secs(usage.system_time())
}

/// utime, stime, cutime and cstime of `pid`, in seconds.
fn times(pid: i32) -> Option<[f64; 4]> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let field = |n: usize| Some(fields.get(n)?.parse::<f64>().ok()? / ticks);
    Some([field(11)?, field(12)?, field(13)?, field(14)?])
}

/// CPU of `root` and every living descendant, each with what it has reaped: whatever ran
/// under a listener and ended is in its parent's reaped figures, whatever runs is in its own.
fn tree_cpu(root: i32) -> f64 {
    std::iter::once(root)
        .chain(sshd::descendants(root))
        .filter_map(times)
        .map(|t| t.iter().sum::<f64>())
        .sum()
}

/// Each figure's median on its own.
fn median(samples: Vec<Measure>) -> Measure {
    let mid = samples.len() / 2;
    let pick = |key: fn(&Measure) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(key).collect();
        values.sort_by(f64::total_cmp);
        values[mid]
    };
    Measure {
        wall: pick(|m| m.wall),
        fleetdeck: pick(|m| m.fleetdeck),
        reaped: pick(|m| m.reaped),
        left: pick(|m| m.left),
        nodes: pick(|m| m.nodes),
        children: samples[mid].children.clone(),
    }
}

// What tests/common/sshd.rs reads of /proc through its parent module.

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse().ok())
        .collect()
}

struct Stat {
    zombie: bool,
    ppid: i32,
}

fn stat_of(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(Stat {
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
    })
}
