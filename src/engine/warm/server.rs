//! The warm runner's server process: finding the Python behind the program, starting the
//! server and waiting for its READY line, noticing a configuration it froze has changed, and
//! letting an old server drain.

use super::WarmSetup;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin};

/// Importing and preloading ansible takes about a second; a loaded machine may take longer.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// ansible's default `internal_poll_interval` (0.001 s) costs ~5 % of a core per waiting run.
const POLL_INTERVAL: &str = "0.02";

pub(super) struct Server {
    pub(super) child: Child,
    /// Closing it tells the server that fleetdeck is gone.
    stdin: ChildStdin,
    pub(super) socket: PathBuf,
    _dir: tempfile::TempDir,
    config: ConfigPrint,
    versions: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
}

impl Server {
    /// Closes its stdin (fleetdeck is done) and waits for it: it interrupts what still runs,
    /// waits `grace`, then kills; after that, we kill it.
    pub(super) async fn close(self, grace: Duration) {
        let Server {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let limit = grace + Duration::from_secs(2);
        if tokio::time::timeout(limit, child.wait()).await.is_err() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Ready {
    pub(super) ansible_version: String,
    ansible_dir: PathBuf,
    pub(super) python: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Unavailable {
    reason: String,
}

impl Server {
    pub(super) async fn start(setup: &WarmSetup, config: ConfigPrint) -> Result<(Server, Ready)> {
        let python = python_of(&setup.program)?;
        // Frozen at import: the project's callbacks (ansible.cfg as it is now) and ours.
        let mut env = setup.env.clone();
        crate::engine::runner::ansible_cfg::enable_with_project_callbacks(&mut env, &setup.cwd);
        // Private: whoever can reach the socket can run playbooks as us.
        let dir = tempfile::Builder::new()
            .prefix("fleetdeck-warm-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .context("creating the warm runner's socket folder")?;
        let socket = dir.path().join("s");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
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
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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

    pub(super) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(super) fn is_current(&self, config: &ConfigPrint) -> bool {
        self.config == *config
            && self
                .versions
                .iter()
                .all(|(path, seen)| stamp(path) == *seen)
    }

    /// No new runs; the server exits once its runs have ended, then its stdin and socket
    /// folder go (closing stdin earlier would interrupt those runs).
    pub(super) fn retire(self) {
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

/// Fleetdeck's `ANSIBLE_*` variables, sorted, read once: they never change while it runs, and
/// reading the whole environment at every run showed in the profile.
fn ansible_settings() -> &'static [(String, String)] {
    static SETTINGS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(key, _)| key.starts_with("ANSIBLE_"))
            .collect();
        env.sort();
        env
    })
}

/// What ansible read at import: its config file (as ansible looks for it) and `ANSIBLE_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ConfigPrint {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    env: Vec<(String, String)>,
}

impl ConfigPrint {
    pub(super) fn read(cwd: &Path) -> ConfigPrint {
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
        ConfigPrint {
            files,
            env: ansible_settings().to_vec(),
        }
    }
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
}
