//! The warm runner: one preloaded ansible fork server per environment
//! (`assets/fleetdeck_warm_ansible.py`), started lazily, so that each (action, server) run stays
//! its own `ansible-playbook` (own pipes, log, outcome and cancel) without paying Python's and
//! ansible's start-up every time.
//!
//! ansible freezes its configuration at import: the server is replaced (the old one drains)
//! when `ansible.cfg`, the `ANSIBLE_*` variables, ansible-core or Python change. When no
//! server can be had (no Python behind the program, an unsupported ansible-core, a custom
//! program) runs start fresh, and the reason is said once.

use anyhow::{Context, Result, bail};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use serde::Deserialize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, ChildStdin};
use tokio::sync::Mutex;

/// The server as shipped inside the binary; written next to the callback plugin.
pub const SERVER_SCRIPT: &str = include_str!("../../assets/fleetdeck_warm_ansible.py");
pub const SERVER_FILE: &str = "fleetdeck_warm_ansible.py";
/// Importing and preloading ansible takes about a second; a loaded machine may take longer.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// A server answers `started` within milliseconds of a request; this much means it is stuck.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);
/// A server that could not start is tried again after this long (a loaded machine, a fixed
/// install), and at once when the configuration changes.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(300);
/// ansible's default `internal_poll_interval` (0.001 s) costs ~5 % of a core per waiting run.
const POLL_INTERVAL: &str = "0.02";

/// Which runner an environment is configured to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerChoice {
    #[default]
    Warm,
    Fresh,
}

/// What runs actually start through, for the screen and the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunnerMode {
    Fresh,
    /// Configured warm; no server is needed yet.
    WarmIdle,
    Warm {
        ansible_version: String,
    },
    /// Configured warm, but runs start fresh.
    FreshFallback {
        reason: String,
    },
}

impl RunnerMode {
    pub fn label(&self) -> String {
        match self {
            RunnerMode::Fresh => "fresh".into(),
            RunnerMode::WarmIdle => "warm".into(),
            RunnerMode::Warm { ansible_version } => {
                format!("warm · ansible-core {ansible_version}")
            }
            RunnerMode::FreshFallback { .. } => "fresh (warm unavailable)".into(),
        }
    }
}

/// How to start the server for one environment.
#[derive(Clone, Debug)]
pub struct WarmSetup {
    /// The `ansible-playbook` program; its Python runs the server.
    pub program: PathBuf,
    pub script: PathBuf,
    /// The project root: where runs (and ansible's config lookup) happen.
    pub cwd: PathBuf,
    /// Our `ANSIBLE_*` settings; frozen into the server at import.
    pub env: Vec<(String, String)>,
    /// After fleetdeck is gone: between interrupting the runs and killing them.
    pub grace: Duration,
    /// The server's own stderr (warnings of ansible at import, crashes).
    pub stderr_log: PathBuf,
}

/// One environment's servers: the current one, started on first use and replaced when the
/// configuration it froze changes.
pub struct WarmRunner {
    setup: WarmSetup,
    state: Mutex<State>,
    /// The latest mode, and whom to tell of the next (the engine, once it runs).
    mode: std::sync::Mutex<(RunnerMode, Option<Notify>)>,
}

enum State {
    NotStarted,
    Up(Box<Server>),
    Unavailable {
        reason: String,
        config: ConfigPrint,
        since: Instant,
    },
}

type Notify = Box<dyn Fn(RunnerMode) + Send + Sync>;

/// Why a run did not start through the warm runner.
#[derive(Debug)]
pub enum LaunchError {
    /// No server, and nothing was sent: the run starts fresh instead.
    Unavailable(String),
    /// The run was handed over and may have started: it is not started again.
    Failed(String),
}

struct Refused {
    /// Whether the request left: the run may have started.
    sent: bool,
    error: anyhow::Error,
}

struct Server {
    child: Child,
    /// Closing it tells the server that fleetdeck is gone.
    stdin: ChildStdin,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    config: ConfigPrint,
    versions: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
}

#[derive(Debug, Deserialize)]
struct Ready {
    ansible_version: String,
    ansible_dir: PathBuf,
    python: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Unavailable {
    reason: String,
}

impl std::fmt::Debug for WarmRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmRunner")
            .field("setup", &self.setup)
            .finish()
    }
}

impl WarmRunner {
    pub fn new(setup: WarmSetup) -> Self {
        WarmRunner {
            setup,
            state: Mutex::new(State::NotStarted),
            mode: std::sync::Mutex::new((RunnerMode::WarmIdle, None)),
        }
    }

    /// Starts the server in the background, before the first run needs it (while the
    /// inventory is read, for instance). Needs a tokio runtime.
    pub fn prewarm(self: &Arc<Self>) {
        let runner = self.clone();
        tokio::spawn(async move {
            let _ = runner.current_server().await;
        });
    }

    /// From now on `notify` hears every change of mode, starting with the current one.
    pub fn attach(&self, notify: impl Fn(RunnerMode) + Send + Sync + 'static) {
        if let Ok(mut mode) = self.mode.lock() {
            if mode.0 != RunnerMode::WarmIdle {
                notify(mode.0.clone());
            }
            mode.1 = Some(Box::new(notify));
        }
    }

    fn say(&self, new: RunnerMode) {
        if let Ok(mut mode) = self.mode.lock() {
            if let Some(notify) = &mode.1 {
                notify(new.clone());
            }
            mode.0 = new;
        }
    }

    /// Starts one run through the server with these pipes (stdout, stderr, events).
    pub async fn launch(
        &self,
        args: &[String],
        env: &[(String, String)],
        pipes: [&OwnedFd; 3],
    ) -> std::result::Result<WarmRun, LaunchError> {
        let socket = self
            .current_server()
            .await
            .map_err(LaunchError::Unavailable)?;
        let connect = WarmRun::connect(&socket, args, &self.setup.cwd, env, pipes);
        let failure = match tokio::time::timeout(ANSWER_LIMIT, connect).await {
            Ok(Ok(run)) => return Ok(run),
            Ok(Err(failure)) => failure,
            Err(_) => Refused {
                sent: true,
                error: anyhow::anyhow!(
                    "the warm runner did not answer within {}s",
                    ANSWER_LIMIT.as_secs()
                ),
            },
        };
        // A server that cannot take a run is of no more use: the next launch starts another.
        self.discard(&socket).await;
        let message = format!("warm runner: {:#}", failure.error);
        log::warn!(target: "engine", "{message}");
        if failure.sent {
            // It may have started: running it again fresh could run it twice.
            Err(LaunchError::Failed(message))
        } else {
            Err(LaunchError::Unavailable(message))
        }
    }

    /// The socket of a server for the configuration as it is now: the current one, or a new
    /// one (the old one drains). `Err` says why there is none.
    async fn current_server(&self) -> std::result::Result<PathBuf, String> {
        let mut state = self.state.lock().await;
        let config = ConfigPrint::read(&self.setup.cwd);
        let current = match &mut *state {
            State::Up(server) => server.is_current(&config) && server.alive(),
            State::Unavailable {
                config: seen,
                since,
                ..
            } => *seen == config && since.elapsed() < UNAVAILABLE_RETRY,
            State::NotStarted => false,
        };
        if !current {
            let said = match std::mem::replace(&mut *state, State::NotStarted) {
                State::Up(old) => {
                    old.retire();
                    None
                }
                State::Unavailable { reason, .. } => Some(reason),
                State::NotStarted => None,
            };
            *state = self.start(config, said).await;
        }
        match &*state {
            State::Up(server) => Ok(server.socket.clone()),
            State::Unavailable { reason, .. } => Err(reason.clone()),
            State::NotStarted => Err("the warm runner did not start".into()),
        }
    }

    async fn discard(&self, socket: &Path) {
        let mut state = self.state.lock().await;
        if matches!(&*state, State::Up(server) if server.socket == socket)
            && let State::Up(mut broken) = std::mem::replace(&mut *state, State::NotStarted)
        {
            let _ = broken.child.start_kill();
            broken.retire();
        }
    }

    /// `said`: the reason given last time there was no server, not to be repeated.
    async fn start(&self, config: ConfigPrint, said: Option<String>) -> State {
        match Server::start(&self.setup, config.clone()).await {
            Ok((server, ready)) => {
                log::info!(target: "engine",
                    "warm runner ready: ansible-core {} preloaded (python {}, server pid {})",
                    ready.ansible_version, ready.python.display(), server.child.id().unwrap_or(0));
                self.say(RunnerMode::Warm {
                    ansible_version: ready.ansible_version,
                });
                State::Up(Box::new(server))
            }
            Err(err) => {
                let reason = format!("{err:#}");
                if said.as_ref() != Some(&reason) {
                    log::warn!(target: "engine",
                        "warm runner unavailable: {reason}; each run starts a fresh ansible-playbook");
                    self.say(RunnerMode::FreshFallback {
                        reason: reason.clone(),
                    });
                }
                State::Unavailable {
                    reason,
                    config,
                    since: Instant::now(),
                }
            }
        }
    }
}

impl Server {
    async fn start(setup: &WarmSetup, config: ConfigPrint) -> Result<(Server, Ready)> {
        let python = python_of(&setup.program)?;
        let dir = tempfile::Builder::new()
            .prefix("fleetdeck-warm-")
            .tempdir()
            .context("creating the warm runner's socket folder")?;
        let socket = dir.path().join("s");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&setup.stderr_log)
            .with_context(|| format!("opening {}", setup.stderr_log.display()))?;
        let mut child = tokio::process::Command::new(&python)
            // -P: the script's folder (.fleetdeck/) is not an import path.
            .arg("-P")
            .arg(&setup.script)
            .arg("--socket")
            .arg(&socket)
            .arg("--poll-interval")
            .arg(POLL_INTERVAL)
            .arg("--grace")
            .arg(format!("{:.3}", setup.grace.as_secs_f64()))
            .current_dir(&setup.cwd)
            .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // The terminal's Ctrl-C is fleetdeck's to pass on, not the server's.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", python.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut first = String::new();
        let mut stdout = BufReader::new(stdout);
        match tokio::time::timeout(READY_LIMIT, stdout.read_line(&mut first)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => bail!("reading the server's first line: {err}"),
            Err(_) => {
                let _ = child.start_kill();
                bail!("the server was not ready after {}s", READY_LIMIT.as_secs());
            }
        }
        let (word, json) = first.trim().split_once(' ').unwrap_or((first.trim(), "{}"));
        match word {
            "READY" => {
                let ready: Ready = serde_json::from_str(json).context("the server's READY line")?;
                let versions = [ready.ansible_dir.join("release.py"), ready.python.clone()]
                    .into_iter()
                    .map(|path| {
                        let stamp = stamp(&path);
                        (path, stamp)
                    })
                    .collect();
                let server = Server {
                    child,
                    stdin,
                    socket,
                    _dir: dir,
                    config,
                    versions,
                };
                Ok((server, ready))
            }
            "UNAVAILABLE" => {
                let _ = child.wait().await;
                let why: Unavailable = serde_json::from_str(json).unwrap_or(Unavailable {
                    reason: json.into(),
                });
                bail!("{}", why.reason)
            }
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                bail!(
                    "the server did not start (see {})",
                    setup.stderr_log.display()
                )
            }
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn is_current(&self, config: &ConfigPrint) -> bool {
        self.config == *config
            && self
                .versions
                .iter()
                .all(|(path, seen)| stamp(path) == *seen)
    }

    /// No new runs; the server exits once its runs have ended, then its stdin and socket
    /// folder go (closing stdin earlier would interrupt those runs).
    fn retire(self) {
        let Server {
            mut child,
            stdin,
            socket,
            _dir,
            ..
        } = self;
        tokio::spawn(async move {
            if let Ok(mut stream) = UnixStream::connect(&socket).await {
                let _ = stream.write_all(b"{\"cmd\": \"shutdown\"}\n").await;
            }
            let _ = child.wait().await;
            drop(stdin);
            drop(_dir);
        });
    }
}

/// The Python that runs `program`: the interpreter of its `#!` line. A program that is not a
/// Python script (a wrapper, a stand-in) cannot be preloaded.
fn python_of(program: &Path) -> Result<PathBuf> {
    let path =
        resolve(program).with_context(|| format!("{} not found on PATH", program.display()))?;
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let Some(shebang) = first.strip_prefix("#!") else {
        bail!("{} is not a Python script", path.display());
    };
    let mut words = shebang.split_whitespace();
    let interpreter = match words.next() {
        Some(env) if env.ends_with("/env") => {
            words.find(|w| !w.starts_with('-')).map(PathBuf::from)
        }
        other => other.map(PathBuf::from),
    };
    let Some(interpreter) = interpreter.filter(|i| {
        i.file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("python"))
    }) else {
        bail!(
            "{} is not a Python script ({})",
            path.display(),
            first.trim()
        );
    };
    resolve(&interpreter).with_context(|| format!("{} not found", interpreter.display()))
}

fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// What ansible read at import: its config file (as ansible looks for it) and `ANSIBLE_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ConfigPrint {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    env: Vec<(String, String)>,
}

impl ConfigPrint {
    fn read(cwd: &Path) -> ConfigPrint {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(path) = std::env::var_os("ANSIBLE_CONFIG") {
            candidates.push(PathBuf::from(path));
        }
        candidates.push(cwd.join("ansible.cfg"));
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".ansible.cfg"));
        }
        candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
        let files = candidates
            .into_iter()
            .map(|path| {
                let content = std::fs::read(&path).ok();
                (path, content)
            })
            .collect();
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(key, _)| key.starts_with("ANSIBLE_"))
            .collect();
        env.sort();
        ConfigPrint { files, env }
    }
}

/// One run inside the server: its pid, its end, and a control line to signal it.
pub struct WarmRun {
    pub pid: i32,
    lines: Lines<BufReader<OwnedReadHalf>>,
    control: OwnedWriteHalf,
}

/// How a warm run ended.
pub enum WarmExit {
    Status(ExitStatus),
    /// The server went away before saying: the run's fate is unknown.
    ServerLost,
}

#[derive(Deserialize)]
struct Reply {
    event: String,
    #[serde(default)]
    pid: i32,
    #[serde(default)]
    status: i32,
}

impl WarmRun {
    async fn connect(
        socket: &Path,
        args: &[String],
        cwd: &Path,
        env: &[(String, String)],
        pipes: [&OwnedFd; 3],
    ) -> std::result::Result<WarmRun, Refused> {
        let before = |error: anyhow::Error| Refused { sent: false, error };
        let after = |error: anyhow::Error| Refused { sent: true, error };
        let stream = UnixStream::connect(socket)
            .await
            .with_context(|| format!("connecting to {}", socket.display()))
            .map_err(before)?;
        let request = serde_json::json!({
            "argv": args,
            "cwd": cwd,
            "env": env.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "fds": ["stdout", "stderr", "events"],
        });
        let mut line = serde_json::to_vec(&request)
            .context("encoding the request")
            .map_err(before)?;
        line.push(b'\n');
        let fds: Vec<RawFd> = pipes.iter().map(|fd| fd.as_raw_fd()).collect();
        send_with_fds(&stream, &line, &fds).await.map_err(after)?;
        let (read, control) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let started = lines
            .next_line()
            .await
            .context("reading the server's answer")
            .map_err(after)?
            .context("the warm runner closed the connection before starting the run")
            .map_err(after)?;
        let reply: Reply = serde_json::from_str(&started)
            .context("the server's answer")
            .map_err(after)?;
        if reply.event != "started" || reply.pid <= 0 {
            return Err(after(anyhow::anyhow!("the warm runner answered {started}")));
        }
        Ok(WarmRun {
            pid: reply.pid,
            lines,
            control,
        })
    }

    /// Cancel-safe: it can lose a `select!` and be called again.
    pub async fn wait(&mut self) -> WarmExit {
        loop {
            match self.lines.next_line().await {
                Ok(Some(line)) => {
                    if let Ok(reply) = serde_json::from_str::<Reply>(&line)
                        && reply.event == "exit"
                    {
                        return WarmExit::Status(ExitStatus::from_raw(reply.status));
                    }
                }
                Ok(None) | Err(_) => return WarmExit::ServerLost,
            }
        }
    }

    /// INT, TERM, KILL (the main process) or KILLTREE (every worker's group too). The server
    /// signals only a run it has not reaped, so the pid cannot name another process.
    pub async fn signal(&mut self, which: &str) {
        let line = format!("{{\"signal\": \"{which}\"}}\n");
        let _ = self.control.write_all(line.as_bytes()).await;
    }
}

/// The request line with the run's pipes attached (SCM_RIGHTS).
async fn send_with_fds(stream: &UnixStream, line: &[u8], fds: &[RawFd]) -> Result<()> {
    let mut sent = 0;
    while sent < line.len() {
        stream.writable().await?;
        let result = stream.try_io(tokio::io::Interest::WRITABLE, || {
            let iov = [IoSlice::new(&line[sent..])];
            // The descriptors travel with the first bytes only.
            let rights = [ControlMessage::ScmRights(fds)];
            let cmsgs: &[ControlMessage] = if sent == 0 { &rights } else { &[] };
            sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
                .map_err(std::io::Error::from)
        });
        match result {
            Ok(n) => sent += n,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err).context("sending the run to the warm runner"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_python_behind_a_program_comes_from_its_shebang() {
        let dir = tempfile::tempdir().unwrap();
        let python = script(dir.path(), "python3.11", "");
        let direct = script(
            dir.path(),
            "direct",
            &format!("#!{}\nimport ansible\n", python.display()),
        );
        assert_eq!(python_of(&direct).unwrap(), python);
        let with_env = script(dir.path(), "with-env", "#!/usr/bin/env -S python3 -u\n");
        // `env python3` is looked up on PATH, as the kernel's exec would.
        let found = python_of(&with_env);
        assert_eq!(found.ok(), resolve(Path::new("python3")));
    }

    #[test]
    fn a_program_that_cannot_be_preloaded_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "shell",
                "#!/bin/bash\nexec true\n",
                "is not a Python script",
            ),
            ("binary", "\x7fELF\x02\x01", "is not a Python script"),
            (
                "gone",
                "#!/nonexistent/python3\n",
                "/nonexistent/python3 not found",
            ),
        ];
        for (name, text, expected) in cases {
            let program = script(dir.path(), name, text);
            let err = format!("{:#}", python_of(&program).unwrap_err());
            assert!(err.contains(expected), "{name}: {err}");
        }
        let err = format!(
            "{:#}",
            python_of(Path::new("no-such-program-here")).unwrap_err()
        );
        assert!(err.contains("not found on PATH"), "{err}");
    }

    #[test]
    fn runner_modes_read_as_the_header_shows_them() {
        assert_eq!(RunnerMode::Fresh.label(), "fresh");
        assert_eq!(RunnerMode::WarmIdle.label(), "warm");
        let warm = RunnerMode::Warm {
            ansible_version: "2.19.14".into(),
        };
        assert_eq!(warm.label(), "warm · ansible-core 2.19.14");
        let fallback = RunnerMode::FreshFallback {
            reason: "no python".into(),
        };
        assert_eq!(fallback.label(), "fresh (warm unavailable)");
    }
}
