//! The warm runner: one preloaded ansible fork server per environment
//! (`assets/fleetdeck_warm_ansible.py`), started lazily, so that each (action, server) run stays
//! its own `ansible-playbook` (own pipes, log, outcome and cancel) without paying Python's and
//! ansible's start-up every time.
//!
//! ansible freezes its configuration at import: the server is replaced (the old one drains)
//! when `ansible.cfg`, the `ANSIBLE_*` variables, ansible-core or Python change. When no
//! server can be had (no Python behind the program, an unsupported ansible-core, a custom
//! program) runs start fresh, and the reason is said once.

use serde::Deserialize;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The server as shipped inside the binary; written next to the callback plugin.
pub const SERVER_SCRIPT: &str = include_str!("../../assets/fleetdeck_warm_ansible.py");
pub const SERVER_FILE: &str = "fleetdeck_warm_ansible.py";
/// A server answers `started` within milliseconds of a request; this much means it is stuck.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);
/// A server that could not start is tried again after this long (a loaded machine, a fixed
/// install), and at once when the configuration changes.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(300);

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

    /// Fleetdeck is done with the server: it is told so (its stdin closes) and awaited, so that
    /// nothing of ours outlives fleetdeck, not even for the moment the server takes to notice.
    pub async fn close(&self) {
        let server = {
            let mut state = self.state.lock().await;
            match std::mem::replace(&mut *state, State::NotStarted) {
                State::Up(server) => Some(server),
                other => {
                    *state = other;
                    None
                }
            }
        };
        if let Some(server) = server {
            server.close(self.setup.grace).await;
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

    /// Starts one run through the server with these pipes (stdout, stderr, events) and the
    /// password pipes, which the run finds at `WarmRun::fd_of` their kind.
    pub async fn launch(
        &self,
        args: &[String],
        env: &[(String, String)],
        pipes: [&OwnedFd; 3],
        secrets: &[(crate::secrets::Kind, &OwnedFd)],
    ) -> std::result::Result<WarmRun, LaunchError> {
        let socket = self
            .current_server()
            .await
            .map_err(LaunchError::Unavailable)?;
        let connect = WarmRun::connect(&socket, args, &self.setup.cwd, env, pipes, secrets);
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

mod run;
mod server;

use run::Refused;
pub use run::{WarmExit, WarmRun};
use server::{ConfigPrint, Server};

#[cfg(test)]
mod tests {
    use super::*;

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
