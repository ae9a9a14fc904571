//! The JSON-lines events of our callback plugin (`assets/callback_plugins/fleetdeck_events.py`),
//! folded into a transcript from which each host's outcome is read.

use super::model::{Outcome, Recap};
use super::{HostStatus, RunEvent};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One line of the plugin's event stream.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallbackEvent {
    PlaybookStart {
        #[serde(default)]
        playbook: String,
    },
    PlayStart {
        #[serde(default)]
        play: String,
    },
    TaskStart {
        task: String,
        #[serde(default)]
        handler: bool,
    },
    HostResult {
        host: String,
        #[serde(default)]
        task: String,
        status: ResultStatus,
        #[serde(default)]
        ignored: bool,
        #[serde(default)]
        msg: String,
    },
    Stats {
        hosts: BTreeMap<String, StatsCounts>,
    },
    /// Loop items, retries, "no hosts matched" and whatever a later plugin adds.
    #[serde(other)]
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatsCounts {
    pub ok: u32,
    pub changed: u32,
    pub failures: u32,
    pub unreachable: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

impl From<StatsCounts> for Recap {
    fn from(s: StatsCounts) -> Recap {
        Recap {
            ok: s.ok,
            changed: s.changed,
            failed: s.failures,
            unreachable: s.unreachable,
            skipped: s.skipped,
            rescued: s.rescued,
            ignored: s.ignored,
        }
    }
}

impl CallbackEvent {
    pub fn parse(line: &[u8]) -> Option<CallbackEvent> {
        serde_json::from_slice(line).ok()
    }

    /// What the engine hears of this event while the run goes on: a task started, or one
    /// host's result. The same for local and remote runs.
    pub fn progress(&self) -> Option<RunEvent> {
        match self {
            CallbackEvent::TaskStart { task, .. } => {
                Some(RunEvent::TaskStarted { name: task.clone() })
            }
            other => other
                .host_status()
                .map(|status| RunEvent::HostResult { status }),
        }
    }

    /// The live-progress meaning of this event, if any.
    pub fn host_status(&self) -> Option<HostStatus> {
        let CallbackEvent::HostResult {
            status, ignored, ..
        } = self
        else {
            return None;
        };
        Some(match (status, ignored) {
            (ResultStatus::Failed, true) => HostStatus::Ignored,
            (ResultStatus::Failed, false) => HostStatus::Failed,
            (ResultStatus::Ok, _) => HostStatus::Ok,
            (ResultStatus::Changed, _) => HostStatus::Changed,
            (ResultStatus::Skipped, _) => HostStatus::Skipped,
            (ResultStatus::Unreachable, _) => HostStatus::Unreachable,
        })
    }
}

/// How the ansible-playbook process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// Who ended the run, when it was not the playbook itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    Itself,
    Timeout,
    Cancel,
}

/// Everything the event stream told about one run.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub events_seen: bool,
    pub current_task: Option<String>,
    failures: BTreeMap<String, (String, String)>,
    unreachable: BTreeMap<String, String>,
    stats: Option<BTreeMap<String, StatsCounts>>,
}

impl Transcript {
    pub fn record(&mut self, event: &CallbackEvent) {
        self.events_seen = true;
        match event {
            CallbackEvent::TaskStart { task, .. } => self.current_task = Some(task.clone()),
            CallbackEvent::HostResult {
                host,
                task,
                status,
                ignored,
                msg,
            } => match status {
                ResultStatus::Failed if !ignored => {
                    self.failures
                        .insert(host.clone(), (task.clone(), msg.clone()));
                }
                ResultStatus::Unreachable => {
                    self.unreachable.insert(host.clone(), msg.clone());
                }
                _ => {}
            },
            CallbackEvent::Stats { hosts } => self.stats = Some(hosts.clone()),
            _ => {}
        }
    }

    pub fn recap(&self, host: &str) -> Option<Recap> {
        self.stats.as_ref()?.get(host).copied().map(Recap::from)
    }

    /// The outcome for `host`. Per-host facts come from the events; the exit code decides only
    /// what the events cannot (a run that never got to a task, a signal, a syntax error).
    pub fn outcome(&self, host: &str, exit: Exit, ended_by: EndedBy, stderr_tail: &str) -> Outcome {
        let during_task = self.current_task.clone();
        // A run stopped too late to matter (it exited by itself with its final stats) keeps
        // its real outcome; otherwise the stop is what ended it.
        let finished_anyway = matches!(exit, Exit::Code(0 | 2 | 4))
            && self
                .stats
                .as_ref()
                .is_some_and(|stats| stats.contains_key(host));
        match ended_by {
            EndedBy::Timeout if !finished_anyway => return Outcome::TimedOut { during_task },
            EndedBy::Cancel if !finished_anyway => return Outcome::Cancelled { during_task },
            _ => {}
        }
        if let Some(message) = self.unreachable.get(host) {
            return Outcome::Unreachable {
                message: with_a_reason(message),
            };
        }
        let rc = match exit {
            Exit::Code(rc) => Some(rc),
            Exit::Signal(_) => None,
        };
        if let Some((task, message)) = self.failures.get(host) {
            return Outcome::Failed {
                rc,
                task: Some(task.clone()),
                message: message.clone(),
            };
        }
        match exit {
            Exit::Code(0) => {
                let missing = self
                    .stats
                    .as_ref()
                    .is_some_and(|stats| !stats.contains_key(host));
                if missing {
                    let message = format!("no hosts matched: {host} is not in the play's hosts");
                    Outcome::Failed {
                        rc,
                        task: None,
                        message,
                    }
                } else {
                    Outcome::Succeeded
                }
            }
            Exit::Code(4) => Outcome::Unreachable {
                message: last_line(stderr_tail),
            },
            Exit::Code(99) => Outcome::Cancelled { during_task },
            Exit::Code(_) => Outcome::Failed {
                rc,
                task: during_task,
                message: last_line(stderr_tail),
            },
            Exit::Signal(signal) => {
                let name = nix::sys::signal::Signal::try_from(signal)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| format!("signal {signal}"));
                Outcome::Failed {
                    rc: None,
                    task: during_task,
                    message: format!("killed by {name}"),
                }
            }
        }
    }
}

/// ssh gives no reason when an open connection (a ControlPersist master) is lost: ansible's
/// message then ends at "via ssh:". Say what that means instead of showing nothing.
fn with_a_reason(message: &str) -> String {
    if message.trim_end().ends_with(':') {
        format!(
            "{} (ssh gave no reason: the connection to the server was lost mid-run; is the server up?)",
            message.trim_end()
        )
    } else {
        message.to_string()
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::with_a_reason;

    #[test]
    fn an_unreachable_message_with_no_reason_gets_one() {
        assert_eq!(
            with_a_reason("Task failed: Failed to connect to the host via ssh: "),
            "Task failed: Failed to connect to the host via ssh: (ssh gave no reason: the connection \
             to the server was lost mid-run; is the server up?)"
        );
        let said = "Failed to connect to the host via ssh: Connection refused";
        assert_eq!(with_a_reason(said), said);
    }
}
