//! (b): fleetdeck against one `ansible-playbook -f W`, with real ansible-core on local hosts.
//! Each side runs as a child process of this bench, which is a subreaper: whatever a side
//! leaves behind comes back to us, so its CPU is counted and nothing outlives the row.

use super::REPO;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_millis(200);

struct Row {
    hosts: usize,
    workers: usize,
    varied: bool,
}

#[derive(Clone, Copy, Default)]
struct Measure {
    wall: Duration,
    cpu: f64,
    peak_pss_mb: f64,
}

pub fn ansible_rows(work: &Path) {
    let ansible = Path::new(REPO).join(".venv/bin/ansible-playbook");
    assert!(ansible.exists(), "run .ci/setup first");
    nix::sys::prctl::set_child_subreaper(true).expect("becoming a subreaper");
    let only: Option<Vec<String>> = std::env::args()
        .skip_while(|a| a != "--rows")
        .nth(1)
        .map(|rows| rows.split(',').map(str::to_string).collect());
    let repeat: usize = std::env::args()
        .skip_while(|a| a != "--repeat")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut rows = Vec::new();
    for (hosts, workers) in [(30, 10), (30, 3), (100, 10)] {
        if only
            .as_ref()
            .is_some_and(|only| !only.contains(&format!("{hosts}x{workers}")))
        {
            continue;
        }
        for varied in [false, true] {
            rows.push(Row {
                hosts,
                workers,
                varied,
            });
        }
    }
    println!(
        "\n(b) real ansible-core, local hosts: fleetdeck / one `ansible-playbook -f W` (median of {repeat})"
    );
    println!(
        "  {:<28} {:>22} {:>22} {:>22}   {:>11} {:>11}",
        "row",
        "-f W: wall cpu pss",
        "warm: wall cpu pss",
        "fresh: wall cpu pss",
        "warm ratio",
        "fresh ratio"
    );
    for row in rows {
        let project = write_project(work, &row);
        let baseline = || {
            measure(
                Command::new(&ansible)
                    .args(["-f", &row.workers.to_string(), "-i"])
                    .arg(project.join("inventory/bench/hosts.yml"))
                    .arg(project.join("play.yml"))
                    .current_dir(&project),
            )
        };
        let fleetdeck = |runner: &str| {
            std::fs::write(
                project.join("inventory/bench/config.yml"),
                format!("runner: {runner}\nplaybooks: {{check: play.yml}}\naction_timeout: 10m\n"),
            )
            .unwrap();
            let _ = std::fs::remove_dir_all(project.join(".fleetdeck/bench"));
            measure(
                Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
                    .arg("--root")
                    .arg(&project)
                    .args(["run", "-e", "bench", "check", "--all", "--workers"])
                    .arg(row.workers.to_string())
                    .env("FLEETDECK_ANSIBLE_PLAYBOOK", &ansible),
            )
        };
        // The three sides take turns, so a slow minute of a shared machine hits all of them.
        let mut samples: [Vec<Measure>; 3] = Default::default();
        for _ in 0..repeat {
            samples[0].push(baseline());
            samples[1].push(fleetdeck("warm"));
            samples[2].push(fleetdeck("fresh"));
        }
        let [baseline, warm, fresh] = samples.map(median);
        let cell = |m: Measure| {
            format!(
                "{:>6.1}s {:>5.1}s {:>5.0}MB",
                m.wall.as_secs_f64(),
                m.cpu,
                m.peak_pss_mb
            )
        };
        let ratio = |m: Measure| m.wall.as_secs_f64() / baseline.wall.as_secs_f64();
        println!(
            "  {:<28} {:>22} {:>22} {:>22}   {:>11.3} {:>11.3}",
            format!(
                "{} hosts, W={}, {}",
                row.hosts,
                row.workers,
                if row.varied {
                    "varied 1-4 s"
                } else {
                    "uniform 2 s"
                }
            ),
            cell(baseline),
            cell(warm),
            cell(fresh),
            ratio(warm),
            ratio(fresh),
        );
        println!(
            "  {:<28} memory warm / -f W: {:.2}, cpu warm / -f W: {:.2}, cpu fresh / -f W: {:.2}",
            "",
            warm.peak_pss_mb / baseline.peak_pss_mb,
            warm.cpu / baseline.cpu,
            fresh.cpu / baseline.cpu
        );
    }
    println!("  goal: wall ratio ≤ 1.00 on every row; warm peak memory ≤ 1.30 × that of -f W");
}

/// Each figure's median on its own (wall, CPU and memory of one side need not share a run).
fn median(mut samples: Vec<Measure>) -> Measure {
    let mid = samples.len() / 2;
    let mut pick = |key: fn(&Measure) -> f64| {
        samples.sort_by(|a, b| key(a).total_cmp(&key(b)));
        samples[mid]
    };
    Measure {
        wall: pick(|m| m.wall.as_secs_f64()).wall,
        cpu: pick(|m| m.cpu).cpu,
        peak_pss_mb: pick(|m| m.peak_pss_mb).peak_pss_mb,
    }
}

/// A project with one environment of local hosts and the play: `command: true`, a step of 2 s
/// (or 1-4 s varying by host), `debug`.
fn write_project(work: &Path, row: &Row) -> PathBuf {
    let project = work.join(format!(
        "b-{}-{}-{}",
        row.hosts,
        row.workers,
        if row.varied { "varied" } else { "uniform" }
    ));
    std::fs::create_dir_all(project.join("inventory/bench")).unwrap();
    let mut hosts = String::from(
        "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n  hosts:\n",
    );
    for n in 1..=row.hosts {
        let step = if row.varied { 1 + (n * 7) % 4 } else { 2 };
        hosts.push_str(&format!("    bench-{n:03}: {{step: {step}}}\n"));
    }
    std::fs::write(project.join("inventory/bench/hosts.yml"), hosts).unwrap();
    std::fs::write(
        project.join("play.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: \"true\"\n    - ansible.builtin.command: \"sleep {{ step }}\"\n    - ansible.builtin.debug:\n        msg: \"done on {{ inventory_hostname }}\"\n",
    )
    .unwrap();
    project
}

/// Wall time, CPU-seconds of everything the command started (reaped by us as subreaper), and
/// the peak of the summed PSS of its process tree.
fn measure(command: &mut Command) -> Measure {
    let before = children_cpu();
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = child.id() as i32;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Mutex::new(0u64));
    let sampler = std::thread::spawn({
        let (stop, peak) = (stop.clone(), peak.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                let total: u64 = descendants_of(root).iter().map(|pid| pss_kb(*pid)).sum();
                let mut peak = peak.lock().unwrap();
                *peak = (*peak).max(total);
                drop(peak);
                std::thread::sleep(SAMPLE_EVERY);
            }
        }
    });
    let status = child.wait().unwrap();
    let wall = started.elapsed();
    assert!(status.success(), "a benchmark side failed: {status}");
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    // Whatever the side left (a draining server) is ours now: wait for it, so its CPU counts.
    while nix::sys::wait::wait().is_ok() {}
    let cpu = children_cpu() - before;
    let peak_pss_mb = *peak.lock().unwrap() as f64 / 1024.0;
    Measure {
        wall,
        cpu,
        peak_pss_mb,
    }
}

fn children_cpu() -> f64 {
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(usage.user_time()) + secs(usage.system_time())
}

/// `root` and every process whose parent chain leads to it (or that we adopted as subreaper).
fn descendants_of(root: i32) -> Vec<i32> {
    let me = std::process::id() as i32;
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid) in &parents {
            if !found.contains(pid) && (found.contains(ppid) || (*ppid == me && *pid != root)) {
                found.push(*pid);
                grew = true;
            }
        }
    }
    found
}

fn pss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("Pss:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
