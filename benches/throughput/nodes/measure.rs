//! How one side is measured: wall time, the controller's CPU (fleetdeck's own, what it
//! reaped, what it left behind), the nodes' CPU (each sshd listener's tree), and a sample of
//! the programs fleetdeck ran.

use super::procfs::{all_pids, stat_of};
use super::sshd;
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// How long the nodes may take to close their sessions once fleetdeck is gone (a
/// ControlPersist master keeps its session for its idle time).
const SESSIONS_DRAIN: Duration = Duration::from_secs(30);

/// One side's figures, in seconds.
#[derive(Clone, Default)]
pub struct Measure {
    pub wall: f64,
    /// fleetdeck's own threads.
    pub fleetdeck: f64,
    /// What fleetdeck reaped: ssh clients, local ansible-playbook and the warm runner.
    pub reaped: f64,
    /// What fleetdeck left running at its exit (adopted and reaped by this bench).
    pub left: f64,
    /// Every sshd listener's tree.
    pub nodes: f64,
    /// fleetdeck's descendants seen while sampling, by program name: how many processes and
    /// their own CPU when last seen (a lower bound: what a process spent after its last
    /// sample, or a process shorter than a sample, is missed).
    pub children: BTreeMap<String, (usize, f64)>,
}

impl Measure {
    pub fn controller(&self) -> f64 {
        self.fleetdeck + self.reaped + self.left
    }
}

/// One fleetdeck command, from spawn to exit, which must succeed; `output` gets its stdout
/// (and its stderr beside it, as `.err`). The nodes start and end without a session.
pub fn measure(command: &mut Command, output: &Path, fleet: &sshd::SshFleet) -> Measure {
    let listeners: Vec<i32> = fleet.hosts.iter().filter_map(|host| host.pid()).collect();
    wait_for_no_sessions(fleet);
    let nodes_before = listeners.iter().map(|pid| tree_cpu(*pid)).sum::<f64>();
    let reaped_before = children_cpu();
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(output).unwrap())
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
                    if let (Some(program), Some([utime, stime, ..])) =
                        (program(child), times(child))
                    {
                        let seen = (program, utime + stime);
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
        "{command:?} failed ({status}):\n{}",
        std::fs::read_to_string(output).unwrap_or_default()
    );
    let reaped_by_fleetdeck = children_cpu() - reaped_before;
    reap_orphans(&listeners);
    let left = children_cpu() - reaped_before - reaped_by_fleetdeck;
    wait_for_no_sessions(fleet);
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
    let busy = || {
        fleet
            .hosts
            .iter()
            .any(|host| !fleet.sessions(&host.name).is_empty())
    };
    while busy() {
        assert!(
            Instant::now() < deadline,
            "the nodes still have ssh sessions after {SESSIONS_DRAIN:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What one fresh ssh connection (`ssh … true` to a node) costs this side, in CPU-seconds:
/// the median of `count` connections.
pub fn ssh_connection_cpu(fleet: &sshd::SshFleet, count: usize) -> f64 {
    let node = &fleet.hosts[0].name;
    let mut samples: Vec<f64> = (0..count)
        .map(|_| {
            let before = children_cpu();
            assert!(fleet.ssh_true(node).status.success(), "ssh {node} true");
            children_cpu() - before
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A process's program: its command name, and for an interpreter the script it runs (its
/// first argument that is not an option), or `-c`.
fn program(pid: i32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim();
    if !comm.starts_with("python") {
        return Some(comm.to_string());
    }
    let argv = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let script = argv
        .split(|byte| *byte == 0)
        .skip(1)
        .map(|arg| String::from_utf8_lossy(arg).to_string())
        .find(|arg| arg == "-c" || !arg.starts_with('-'))
        .map(|arg| {
            Path::new(&arg)
                .file_name()
                .map_or(arg.clone(), |name| name.to_string_lossy().to_string())
        });
    Some(
        format!("{comm} {}", script.unwrap_or_default())
            .trim_end()
            .to_string(),
    )
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
pub fn median(samples: Vec<Measure>) -> Measure {
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
