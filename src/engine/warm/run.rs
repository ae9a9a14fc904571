//! One run through the warm runner: the request with the run's pipes (SCM_RIGHTS), the
//! `started` and `exit` answers, and control lines that signal the run.

use crate::secrets::Kind;
use anyhow::{Context, Result};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use serde::Deserialize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

pub(super) struct Refused {
    /// Whether the request left: the run may have started.
    pub(super) sent: bool,
    pub(super) error: anyhow::Error,
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
    /// Where a forked run finds a password pipe (the server's protocol: stdout, stderr, events
    /// at 1, 2, 3; vault at 4; become on stdin, 0).
    pub fn fd_of(kind: Kind) -> i32 {
        match kind {
            Kind::Vault => 4,
            Kind::Become => 0,
        }
    }

    pub(super) async fn connect(
        socket: &Path,
        args: &[String],
        cwd: &Path,
        env: &[(String, String)],
        pipes: [&OwnedFd; 3],
        secrets: &[(Kind, &OwnedFd)],
    ) -> std::result::Result<WarmRun, Refused> {
        let before = |error: anyhow::Error| Refused { sent: false, error };
        let after = |error: anyhow::Error| Refused { sent: true, error };
        let stream = UnixStream::connect(socket)
            .await
            .with_context(|| format!("connecting to {}", socket.display()))
            .map_err(before)?;
        let names: Vec<&str> = ["stdout", "stderr", "events"]
            .into_iter()
            .chain(secrets.iter().map(|(kind, _)| match kind {
                Kind::Vault => "vault",
                Kind::Become => "become",
            }))
            .collect();
        let request = serde_json::json!({
            "argv": args,
            "cwd": cwd,
            "env": env.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "fds": names,
        });
        let mut line = serde_json::to_vec(&request)
            .context("encoding the request")
            .map_err(before)?;
        line.push(b'\n');
        let fds: Vec<RawFd> = pipes
            .iter()
            .map(|fd| fd.as_raw_fd())
            .chain(secrets.iter().map(|(_, fd)| fd.as_raw_fd()))
            .collect();
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
