//! The warm runner with real ansible-core: what a fork server could get wrong. Each test runs
//! the engine in this process on a small "lab" environment of local hosts, as the dashboard and
//! `fleetdeck run` do, and checks what an operator would: outcomes, logs, processes, files.

mod common;

use common::{REPO, Sandbox};
use fleetdeck::engine::feed::Feed;
use fleetdeck::engine::model::{Action, Outcome};
use fleetdeck::engine::shell::EngineTask;
use fleetdeck::engine::warm::RunnerMode;
use fleetdeck::engine::{
    Command, Engine, EngineEvent, EngineHandle, EnqueueRequest, FinishedRun, Snapshot, Target,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bounds waits on real ansible; never a pace.
const SAFETY: Duration = Duration::from_secs(180);

/// A play whose middle step lasts `wait` seconds (a host variable).
const STEP_PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: First step
      ansible.builtin.command: \"true\"
    - name: Wait
      ansible.builtin.command: \"sleep {{ wait }}\"
    - name: Last step
      ansible.builtin.command: \"true\"
";

/// An environment `lab` of local hosts (name, seconds of its Wait step) running `play` as check.
fn lab(hosts: &[(&str, u32)], play: &str, workers: u32, config: &str) -> Sandbox {
    let sandbox = Sandbox::demo();
    let mut inventory = String::from(
        "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n  hosts:\n",
    );
    for (host, wait) in hosts {
        inventory.push_str(&format!("    {host}: {{wait: {wait}}}\n"));
    }
    sandbox.write("inventory/lab/hosts.yml", &inventory);
    sandbox.write(
        "inventory/lab/config.yml",
        &format!(
            "max_parallel_workers: {workers}\nansible_playbook: {}\nplaybooks: {{check: lab.yml}}\ncancel_grace: 3s\n{config}",
            common::ansible_playbook().display()
        ),
    );
    sandbox.write("lab.yml", play);
    sandbox
}

struct Session {
    engine: EngineHandle,
    events: Feed,
    task: EngineTask,
    /// Every time a warm server said it was ready.
    servers_ready: usize,
    last: Option<Box<Snapshot>>,
}

impl Session {
    fn start(root: &Path) -> Session {
        Session::start_env(root, "lab")
    }

    fn start_env(root: &Path, name: &str) -> Session {
        let project = fleetdeck::project::Project::open(root).unwrap();
        let env = project.env(name).unwrap();
        let inventory = env.load_inventory().unwrap();
        let setup = env
            .engine_setup(&inventory, None, env.warm_runner().unwrap())
            .unwrap();
        let fleetdeck::engine::Started {
            handle: engine,
            events,
            task,
            ..
        } = Engine::start(setup).unwrap();
        Session {
            engine,
            events,
            task,
            servers_ready: 0,
            last: None,
        }
    }

    fn check(&self, servers: &[&str]) {
        self.engine.send(Command::Enqueue(EnqueueRequest {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            target: Target::Action(Action::Check),
            tags: None,
            check_mode: false,
            priority: 0,
        }));
    }

    /// Reads events until `wanted` says yes; returns the runs that finished meanwhile.
    async fn until(&mut self, mut wanted: impl FnMut(&EngineEvent) -> bool) -> Vec<FinishedRun> {
        let mut finished = Vec::new();
        let read = async {
            while let Some(event) = self.events.recv().await {
                match &event {
                    EngineEvent::Runner(RunnerMode::Warm { .. }) => self.servers_ready += 1,
                    EngineEvent::Finished(run) => finished.push(run.clone()),
                    EngineEvent::Snapshot(snapshot) => self.last = Some(snapshot.clone()),
                    _ => {}
                }
                if wanted(&event) {
                    return;
                }
            }
            panic!("the engine stopped");
        };
        tokio::time::timeout(SAFETY, read)
            .await
            .expect("the engine answered in time");
        finished
    }

    async fn finish(&mut self, count: usize) -> Vec<FinishedRun> {
        let mut left = count;
        self.until(|event| {
            if matches!(event, EngineEvent::Finished(_)) {
                left -= 1;
            }
            left == 0
        })
        .await
    }

    /// Waits until every server named is in the `Wait` step.
    async fn all_waiting(&mut self, servers: &[&str]) -> Snapshot {
        self.until(|event| {
            let EngineEvent::Snapshot(snapshot) = event else {
                return false;
            };
            servers.iter().all(|server| {
                snapshot
                    .workers
                    .iter()
                    .filter_map(|w| w.run.as_ref())
                    .any(|run| run.item.server == *server && run.task.as_deref() == Some("Wait"))
            })
        })
        .await;
        *self.last.clone().unwrap()
    }

    /// Checks h1, writes `content` to the project's `path`, checks h2: the two run logs.
    async fn around_an_edit(
        &mut self,
        sandbox: &Sandbox,
        path: &str,
        content: &str,
    ) -> (String, String) {
        self.check(&["h1"]);
        let before = self.finish(1).await;
        sandbox.write(path, content);
        self.check(&["h2"]);
        let after = self.finish(1).await;
        (log_of(&before[0]), log_of(&after[0]))
    }

    async fn close(self) {
        drop(self.engine);
        self.task.await.unwrap().unwrap();
    }
}

fn log_of(run: &FinishedRun) -> String {
    std::fs::read_to_string(run.log_path.as_ref().expect("the run has a log")).unwrap()
}

/// The pid of the run's main process, from its log header.
fn run_pid(log: &str) -> i32 {
    log.lines()
        .find_map(|line| line.strip_prefix("# runner: warm (forked by the warm runner as pid "))
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("a warm run's header names its pid:\n{log}"))
}

/// What is left of the group (or session) `pgid` once its last process had time to be reaped
/// (a SIGKILL is sent before the run is reported, its delivery is not waited for).
fn left_in_group(pgid: i32) -> Vec<i32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_in_group(pgid);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes in the group (or session) `pgid`, zombies aside.
fn processes_in_group(pgid: i32) -> Vec<i32> {
    common::all_pids()
        .into_iter()
        .filter(|pid| {
            common::stat_of(*pid)
                .is_some_and(|s| !s.zombie && (s.pgid == pgid || s.session == pgid))
        })
        .collect()
}

fn dirs_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ansible_cfg_edit_between_two_runs_is_honoured() {
    let sandbox = lab(&[("h1", 0), ("h2", 0)], STEP_PLAY, 1, "");
    let mut session = Session::start(&sandbox.root);
    // ansible reads its config once, at import: a changed file needs a new server.
    let oneline = "[defaults]\nstdout_callback = ansible.builtin.oneline\n";
    let (before, after) = session
        .around_an_edit(&sandbox, "ansible.cfg", oneline)
        .await;
    assert!(before.contains("TASK [Wait]"), "{before}");
    assert!(
        after.contains("h2 | CHANGED") && !after.contains("TASK [Wait]"),
        "the oneline callback of the new ansible.cfg printed this run:\n{after}"
    );
    for log in [&before, &after] {
        assert!(log.contains("# outcome: succeeded"), "{log}");
        assert!(log.contains("# runner: warm"), "{log}");
    }
    assert_eq!(
        session.servers_ready, 2,
        "a second server for the new config"
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_module_edited_between_two_runs_runs_its_new_code() {
    let play = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: Probe
      fd_probe: {}
      register: probe
    - name: Say
      ansible.builtin.debug:
        msg: \"probe says {{ probe.version }}\"
";
    let module = |version: &str| {
        format!(
            "#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\n\n\
             def main():\n    module = AnsibleModule(argument_spec={{}})\n    \
             module.exit_json(changed=False, version='{version}')\n\nmain()\n"
        )
    };
    let sandbox = lab(&[("h1", 0), ("h2", 0)], play, 1, "");
    sandbox.write("library/fd_probe.py", &module("v1"));
    let mut session = Session::start(&sandbox.root);
    let (before, after) = session
        .around_an_edit(&sandbox, "library/fd_probe.py", &module("v2"))
        .await;
    assert!(before.contains("probe says v1"), "{before}");
    assert!(
        after.contains("probe says v2"),
        "the edited module ran:\n{after}"
    );
    assert_eq!(
        session.servers_ready, 1,
        "a module edit needs no new server"
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_filter_plugin_edited_between_two_runs_is_seen() {
    let play = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say
      ansible.builtin.debug:
        msg: \"filter says {{ 'x' | fd_version }}\"
";
    let filter = |version: &str| {
        format!(
            "class FilterModule:\n    def filters(self):\n        \
             return {{'fd_version': lambda _: '{version}'}}\n"
        )
    };
    let sandbox = lab(&[("h1", 0), ("h2", 0)], play, 1, "");
    // Configured in ansible.cfg, so the server's own plugin search paths include it.
    sandbox.write(
        "ansible.cfg",
        "[defaults]\nfilter_plugins = ./filter_plugins\n",
    );
    sandbox.write("filter_plugins/fd.py", &filter("v1"));
    let mut session = Session::start(&sandbox.root);
    let (before, after) = session
        .around_an_edit(&sandbox, "filter_plugins/fd.py", &filter("v2"))
        .await;
    assert!(before.contains("filter says v1"), "{before}");
    assert!(
        after.contains("filter says v2"),
        "the edited filter ran:\n{after}"
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_keep_their_own_temp_dirs_and_a_cancel_touches_only_its_run() {
    // Long enough that all three wait at once even when the third starts seconds after the first.
    let sandbox = lab(&[("h1", 12), ("h2", 20), ("h3", 120)], STEP_PLAY, 3, "");
    let local_tmp = sandbox.root.join("ansible-local");
    sandbox.write(
        "ansible.cfg",
        &format!("[defaults]\nlocal_tmp = {}\n", local_tmp.display()),
    );
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1", "h2", "h3"]);
    let snapshot = session.all_waiting(&["h1", "h2", "h3"]).await;

    // Three runs, three temp dirs, each named after its own run.
    let mut pids = std::collections::BTreeMap::new();
    for view in snapshot.workers.iter().filter_map(|w| w.run.as_ref()) {
        let log = std::fs::read_to_string(view.log_path.as_ref().unwrap()).unwrap();
        pids.insert(view.item.server.clone(), (view.item.id, run_pid(&log)));
    }
    let dirs = dirs_named(&local_tmp, "ansible-local-fdw-");
    assert_eq!(dirs.len(), 3, "one temp dir per run: {dirs:?}");
    for (_, pid) in pids.values() {
        let prefix = format!("ansible-local-fdw-{pid}-");
        assert!(
            dirs.iter().any(|d| d
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)),
            "run {pid} has its own dir: {dirs:?}"
        );
    }

    let (h3_item, h3_pid) = pids["h3"];
    session.engine.send(Command::Cancel(h3_item));
    let mut done = session
        .until(|e| matches!(e, EngineEvent::Finished(run) if run.item.server == "h3"))
        .await;
    let h3 = done.pop().unwrap();
    assert!(
        matches!(&h3.outcome, Outcome::Cancelled { during_task } if during_task.as_deref() == Some("Wait")),
        "{:?}",
        h3.outcome
    );
    assert_eq!(
        left_in_group(h3_pid),
        Vec::<i32>::new(),
        "nothing of h3 is left"
    );
    assert!(
        !dirs_named(&local_tmp, &format!("ansible-local-fdw-{h3_pid}-"))
            .iter()
            .any(|d| d.exists()),
        "the cancelled run's temp dir is gone"
    );

    // h1 ends first; h2 still needs its temp dir for its last step.
    let mut rest = done;
    if rest.len() < 2 {
        rest.extend(session.finish(2 - rest.len()).await);
    }
    for run in &rest {
        assert!(
            run.outcome.is_success(),
            "{}: {:?}\n{}",
            run.item.server,
            run.outcome,
            log_of(run)
        );
        assert!(log_of(run).contains("TASK [Last step]"));
    }
    assert_eq!(
        dirs_named(&local_tmp, "ansible-local-fdw-"),
        Vec::<PathBuf>::new(),
        "every run's temp dir is removed when it ends"
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_run_reports_interrupted_kills_the_rest_and_the_next_run_works() {
    let sandbox = lab(&[("h1", 120), ("h2", 120), ("h3", 0)], STEP_PLAY, 2, "");
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1", "h2"]);
    let snapshot = session.all_waiting(&["h1", "h2"]).await;
    let run_pids: Vec<i32> = snapshot
        .workers
        .iter()
        .filter_map(|w| w.run.as_ref())
        .map(|view| run_pid(&std::fs::read_to_string(view.log_path.as_ref().unwrap()).unwrap()))
        .collect();
    let server = parent_of(run_pids[0]).expect("a warm run's parent is the server");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();

    let finished = session.finish(2).await;
    for run in &finished {
        assert_eq!(run.outcome, Outcome::Interrupted, "{}", log_of(run));
        assert!(log_of(run).contains("the warm runner stopped during this run"));
    }
    for pid in run_pids {
        assert_eq!(
            left_in_group(pid),
            Vec::<i32>::new(),
            "run {pid} left processes"
        );
    }
    // A new server serves the next run.
    session.check(&["h3"]);
    let next = session.finish(1).await;
    assert!(next[0].outcome.is_success(), "{}", log_of(&next[0]));
    assert!(log_of(&next[0]).contains("# runner: warm"));
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_run_past_its_timeout_is_interrupted_then_killed_and_leaves_nothing() {
    let sandbox = lab(&[("h1", 120)], STEP_PLAY, 1, "action_timeout: 4s\n");
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1"]);
    let finished = session.finish(1).await;
    let log = log_of(&finished[0]);
    assert!(
        matches!(&finished[0].outcome, Outcome::TimedOut { during_task } if during_task.as_deref() == Some("Wait")),
        "{:?}\n{log}",
        finished[0].outcome
    );
    assert!(log.contains("# outcome: timed out"), "{log}");
    assert_eq!(left_in_group(run_pid(&log)), Vec::<i32>::new());
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_ansible_dies_leaves_no_orphaned_worker() {
    let sandbox = lab(&[("h1", 120)], STEP_PLAY, 1, "");
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1"]);
    let snapshot = session.all_waiting(&["h1"]).await;
    let view = snapshot
        .workers
        .iter()
        .find_map(|w| w.run.as_ref())
        .unwrap();
    let pid = run_pid(&std::fs::read_to_string(view.log_path.as_ref().unwrap()).unwrap());
    // ansible's worker for the Wait task: a session of its own, which the main process would
    // have ended on a clean exit.
    // The task is announced before its worker is forked: no event says when it is there.
    let deadline = std::time::Instant::now() + SAFETY;
    let workers = loop {
        let workers = children_of(pid);
        if !workers.is_empty() {
            break workers;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Wait task runs in a worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();

    let finished = session.finish(1).await;
    let log = log_of(&finished[0]);
    assert!(
        matches!(&finished[0].outcome, Outcome::Failed { message, .. } if message == "killed by SIGKILL"),
        "{:?}\n{log}",
        finished[0].outcome
    );
    for worker in workers {
        assert_eq!(
            left_in_group(worker),
            Vec::<i32>::new(),
            "worker {worker} orphaned"
        );
    }
    session.close().await;
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_environments_get_two_servers() {
    let sandbox = lab(&[("h1", 120)], STEP_PLAY, 1, "");
    for file in ["hosts.yml", "config.yml"] {
        let text = std::fs::read_to_string(sandbox.root.join("inventory/lab").join(file)).unwrap();
        sandbox.write(&format!("inventory/lab2/{file}"), &text);
    }
    let mut first = Session::start_env(&sandbox.root, "lab");
    let mut second = Session::start_env(&sandbox.root, "lab2");
    first.check(&["h1"]);
    second.check(&["h1"]);
    let mut servers = Vec::new();
    for session in [&mut first, &mut second] {
        let snapshot = session.all_waiting(&["h1"]).await;
        let view = snapshot
            .workers
            .iter()
            .find_map(|w| w.run.as_ref())
            .unwrap();
        let log = std::fs::read_to_string(view.log_path.as_ref().unwrap()).unwrap();
        servers.push(parent_of(run_pid(&log)).expect("the run's server"));
        session.engine.send(Command::Cancel(view.item.id));
    }
    assert_ne!(servers[0], servers[1], "one server per environment");
    for mut session in [first, second] {
        let finished = session.finish(1).await;
        assert!(
            matches!(finished[0].outcome, Outcome::Cancelled { .. }),
            "{:?}",
            finished[0].outcome
        );
        session.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_server_starts_is_not_kept_waiting() {
    let sandbox = lab(&[("h1", 120)], STEP_PLAY, 1, "");
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1"]);
    // Dispatched: its runner now waits for the server, which takes a second to import ansible.
    // Its log is known already (a crash now would leave no log the journal does not know).
    let mut id = None;
    session
        .until(|event| {
            let EngineEvent::Snapshot(snapshot) = event else {
                return false;
            };
            id = snapshot
                .workers
                .iter()
                .find_map(|w| w.run.as_ref())
                .filter(|run| run.log_path.is_some())
                .map(|run| run.item.id);
            id.is_some()
        })
        .await;
    session.engine.send(Command::Cancel(id.unwrap()));
    let finished = session.finish(1).await;
    let log = log_of(&finished[0]);
    assert_eq!(
        finished[0].outcome,
        Outcome::Cancelled { during_task: None },
        "{log}"
    );
    assert!(
        log.contains("# runner: none: stopped before the run started"),
        "{log}"
    );
    assert!(!log.contains("PLAY ["), "nothing of the play ran:\n{log}");
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_server_socket_does_not_disturb_it() {
    use std::io::{Read, Write};
    let sandbox = lab(&[("h1", 0), ("h2", 0)], STEP_PLAY, 1, "");
    let mut session = Session::start(&sandbox.root);
    session.check(&["h1"]);
    session.finish(1).await;
    let (server, command) = sandbox
        .ansible_processes()
        .into_iter()
        .find(|(_, cmd)| cmd.contains("fleetdeck_warm_ansible.py --socket"))
        .expect("the server runs");
    let socket = command
        .split_whitespace()
        .skip_while(|word| *word != "--socket")
        .nth(1)
        .unwrap()
        .to_string();
    let folder = std::fs::metadata(Path::new(&socket).parent().unwrap()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&folder.permissions()) & 0o777,
        0o700,
        "the socket's folder is private"
    );
    for garbage in ["5\n", "[\"argv\"]\n", "{\"argv\": 7}\n", "not json\n", ""] {
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        stream.write_all(garbage.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            !answer.contains("started"),
            "{garbage:?} started nothing: {answer}"
        );
    }
    session.check(&["h2"]);
    let second = session.finish(1).await;
    assert!(second[0].outcome.is_success(), "{}", log_of(&second[0]));
    assert_eq!(session.servers_ready, 1, "the same server still serves");
    assert!(
        sandbox
            .ansible_processes()
            .iter()
            .any(|(pid, _)| *pid == server),
        "the server is alive"
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_ready_before_the_engine_does_not_make_it_look_idle() {
    // `fleetdeck run` starts the server while the inventory is read: the engine then hears
    // "warm runner ready" before it was asked anything, which must not read as "all done".
    let sandbox = lab(&[("h1", 0)], STEP_PLAY, 1, "");
    let project = fleetdeck::project::Project::open(&sandbox.root).unwrap();
    let env = project.env("lab").unwrap();
    let warm = env
        .warm_runner()
        .unwrap()
        .expect("runner: warm is the default");
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    warm.attach(move |mode| {
        let _ = ready_tx.send(mode);
    });
    warm.prewarm();
    let mode = tokio::time::timeout(SAFETY, ready_rx.recv()).await.unwrap();
    assert!(matches!(mode, Some(RunnerMode::Warm { .. })), "{mode:?}");

    let inventory = env.load_inventory().unwrap();
    let setup = env.engine_setup(&inventory, None, Some(warm)).unwrap();
    let fleetdeck::engine::Started {
        handle: engine,
        mut events,
        task,
        ..
    } = Engine::start(setup).unwrap();
    let mut seen = Vec::new();
    let mut read_until = async |wanted: &dyn Fn(&EngineEvent) -> bool| {
        while let Some(event) = events.recv().await {
            seen.push(format!("{event:?}").chars().take(60).collect::<String>());
            assert!(
                !matches!(event, EngineEvent::Idle),
                "idle before any work: {seen:#?}"
            );
            if wanted(&event) {
                return;
            }
        }
    };
    // The engine hears of the ready server before anyone asks it anything...
    let warm_ready = |e: &EngineEvent| matches!(e, EngineEvent::Runner(RunnerMode::Warm { .. }));
    tokio::time::timeout(SAFETY, read_until(&warm_ready))
        .await
        .unwrap();
    // ...and is still waiting for its first command.
    engine.send(Command::SetWorkers(2));
    let resized = |e: &EngineEvent| matches!(e, EngineEvent::Snapshot(s) if s.target_workers == 2);
    tokio::time::timeout(SAFETY, read_until(&resized))
        .await
        .unwrap();
    drop(engine);
    task.await.unwrap().unwrap();
}

fn parent_of(pid: i32) -> Option<i32> {
    common::stat_of(pid).map(|stat| stat.ppid)
}

#[test]
fn killing_fleetdeck_ends_every_run_and_the_server_within_the_grace() {
    let sandbox = lab(&[("h1", 120), ("h2", 120)], STEP_PLAY, 2, "");
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "lab", "check", "--all"]);
    let (mut child, mut stdout) = common::spawn_with_stdout(command);
    common::read_until(&mut stdout, "processing: check for server h1");
    common::read_until(&mut stdout, "processing: check for server h2");
    let logs = sandbox.root.join("logs/lab");
    let deadline = std::time::Instant::now() + SAFETY;
    // Both runs in their long step: the server and its runs are all alive.
    while dirs_named(&logs, "h")
        .iter()
        .filter(|log| {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("TASK [Wait]")
        })
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "runs reached their Wait step"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        sandbox
            .ansible_processes()
            .iter()
            .any(|(_, cmd)| cmd.contains("fleetdeck_warm_ansible")),
        "the warm server runs"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // cancel_grace is 3 s: the server interrupts its runs at once and kills what is left then.
    let left = sandbox.ansible_left_after(Duration::from_secs(3) + Duration::from_secs(4));
    assert!(left.is_empty(), "outlived fleetdeck: {left:#?}");
}

/// fleetdeck killed, and the run's main process dies before it could stop its workers (an
/// interrupt that lands while ansible forks a worker it has not listed yet, the OOM killer): the
/// workers, each in a session of its own, end with the main process all the same.
#[test]
fn workers_end_with_their_run_even_when_fleetdeck_and_the_run_die_first() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let sandbox = lab(&[("h1", 120)], STEP_PLAY, 1, "");
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "lab", "check", "--all"]);
    let (mut child, mut stdout) = common::spawn_with_stdout(command);
    common::read_until(&mut stdout, "processing: check for server h1");
    // The Wait task's worker: a child of the run, in a session of its own, running the sleep.
    // Nothing tells when other programs fork: this polls, on that condition.
    let logs = sandbox.root.join("logs/lab");
    let sleeps = |session: i32| {
        processes_in_group(session).into_iter().any(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| raw.starts_with(b"sleep"))
        })
    };
    let deadline = std::time::Instant::now() + SAFETY;
    let (run, worker) = loop {
        let log = dirs_named(&logs, "h1")
            .first()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default();
        if log.contains("TASK [Wait]") {
            let run = run_pid(&log);
            let worker = common::all_pids().into_iter().find(|pid| {
                common::stat_of(*pid).is_some_and(|s| s.ppid == run && s.session == *pid)
                    && sleeps(*pid)
            });
            if let Some(worker) = worker {
                break (run, worker);
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Wait task's worker runs its sleep"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Stopped, the run cannot stop its workers itself; then fleetdeck and the run die.
    kill(Pid::from_raw(run), Signal::SIGSTOP).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    kill(Pid::from_raw(run), Signal::SIGKILL).unwrap();
    assert_eq!(
        left_in_group(worker),
        Vec::<i32>::new(),
        "the worker and its sleep end with the run"
    );
    let left = sandbox.ansible_left_after(Duration::from_secs(3) + Duration::from_secs(4));
    assert!(left.is_empty(), "outlived fleetdeck: {left:#?}");
}

#[test]
fn a_program_that_is_not_python_runs_fresh_and_says_why_once() {
    let fake = Path::new(REPO).join("tests/fixtures/fake-ansible-playbook");
    let sandbox = lab(&[("h1", 0), ("h2", 0)], STEP_PLAY, 2, "");
    let text = check_all_with(&sandbox, &fake);
    assert_eq!(
        text.matches("warm runner unavailable").count(),
        1,
        "said once:\n{text}"
    );
    assert!(text.contains("is not a Python script"), "{text}");
}

#[test]
fn an_unsupported_ansible_core_runs_fresh_and_says_which_version() {
    let sandbox = lab(&[("h1", 0)], STEP_PLAY, 1, "");
    // A Python whose ansible-core is too old for the warm runner; runs still work (fresh).
    let python = sandbox.root.join("old-python");
    let created = std::process::Command::new(common::ansible_playbook().with_file_name("python3"))
        .args(["-m", "venv", "--without-pip"])
        .arg(&python)
        .status()
        .unwrap();
    assert!(created.success());
    let site = std::fs::read_dir(python.join("lib"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages/ansible");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("__init__.py"), "").unwrap();
    std::fs::write(site.join("release.py"), "__version__ = '2.15.13'\n").unwrap();
    let program = sandbox.root.join("bin/ansible-playbook");
    sandbox.write(
        "bin/ansible-playbook",
        &format!(
            "#!{}/bin/python3\nimport os, sys\nfake = '{REPO}/tests/fixtures/fake-ansible-playbook'\nos.execv(fake, [fake] + sys.argv[1:])\n",
            python.display()
        ),
    );
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let text = check_all_with(&sandbox, &program);
    assert!(
        text.contains("warm runner unavailable: ansible-core 2.15.13 is not supported"),
        "{text}"
    );
}

/// `fleetdeck run -e lab check --all` with `program` (the stand-in in its `ok` mode behind it):
/// it succeeds, every run started fresh; returns what it printed.
fn check_all_with(sandbox: &Sandbox, program: &Path) -> String {
    let path = format!(
        "{REPO}/.venv/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let out = sandbox
        .fleetdeck()
        .env("FLEETDECK_ANSIBLE_PLAYBOOK", program)
        .env("PATH", path)
        .env("FAKE_MODE", "ok")
        .args(["run", "-e", "lab", "check", "--all"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let logs = dirs_named(&sandbox.root.join("logs/lab"), "h");
    assert!(!logs.is_empty(), "the runs have logs");
    for log in logs {
        let log = std::fs::read_to_string(log).unwrap();
        assert!(log.contains("# runner: fresh"), "{log}");
    }
    text
}
