//! Starting a run's main process: through the environment's warm runner when there is one,
//! else as a fresh `ansible-playbook` child. Either way the run gets its own session, our
//! pipes (stdout, stderr, events) and the same supervision.

use super::*;
use crate::engine::warm::{LaunchError, WarmExit, WarmRun};
use crate::secrets::{Kind, Secret};

pub(super) type Reader = Box<dyn AsyncRead + Send + Unpin>;

pub(super) struct Launched {
    pub process: Process,
    pub pid: i32,
    pub stdout: Option<Reader>,
    pub stderr: Option<Reader>,
    /// The pipes' inodes, to find whoever else holds them.
    pub pipes: BTreeSet<u64>,
    /// For the log header: how this run was started.
    pub runner: String,
    /// Options added to the run's argv (where its passwords are read from: a pipe's
    /// `/dev/fd/N`, never the password).
    pub extra_args: Vec<String>,
}

pub(super) enum Process {
    /// Started without copying fleetdeck (`vfork.rs`).
    Fresh(vfork::Child),
    /// Forked, where the kernel has no pidfds.
    Forked(tokio::process::Child),
    Warm(WarmRun),
}

/// How the main process ended.
pub(super) enum Waited {
    Exit(std::process::ExitStatus),
    /// Reaped, but the status could not be read.
    Unknown,
    /// The warm runner went away before telling: what is left of the run must be killed.
    RunnerLost,
}

impl Process {
    /// Cancel-safe, so it can sit in a `select!`.
    pub async fn wait(&mut self) -> Waited {
        match self {
            Process::Fresh(child) => match child.wait().await {
                Ok(status) => Waited::Exit(status),
                Err(_) => Waited::Unknown,
            },
            Process::Forked(child) => match child.wait().await {
                Ok(status) => Waited::Exit(status),
                Err(_) => Waited::Unknown,
            },
            Process::Warm(run) => match run.wait().await {
                WarmExit::Status(status) => Waited::Exit(status),
                WarmExit::ServerLost => Waited::RunnerLost,
            },
        }
    }

    /// A signal to the main process (which forwards INT and TERM to its workers).
    pub async fn signal(&mut self, pid: i32, signal: Signal) {
        match self {
            Process::Fresh(_) | Process::Forked(_) => proctree::signal(pid, signal),
            Process::Warm(run) => {
                let name = match signal {
                    Signal::SIGINT => "INT",
                    Signal::SIGTERM => "TERM",
                    _ => "KILLTREE",
                };
                run.signal(name).await;
            }
        }
    }
}

/// A pipe's read end, read without blocking a runtime thread.
fn pipe_reader(fd: OwnedFd) -> Option<Reader> {
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()?;
    Some(Box::new(pipe))
}

/// `--vault-password-file /dev/fd/N` and the like, for passwords at these fd numbers.
/// The become password is read from stdin (`-`): ansible resolves a become password file's
/// path, and a pipe's `/dev/fd/N` resolves to no path at all.
fn secret_args(passed: &[(Kind, i32)]) -> Vec<String> {
    passed
        .iter()
        .flat_map(|(kind, fd)| {
            let from = match kind {
                Kind::Vault => format!("/dev/fd/{fd}"),
                Kind::Become => "-".to_string(),
            };
            [kind.option().to_string(), from]
        })
        .collect()
}

pub(super) async fn launch(
    spec: &RunSpec,
    events_write: &OwnedFd,
    secrets: &[(Kind, Secret)],
) -> Result<Launched, String> {
    if !spec.cwd.is_dir() {
        return Err(format!(
            "working directory {} does not exist",
            spec.cwd.display()
        ));
    }
    let secret_pipes = secrets
        .iter()
        .map(|(kind, secret)| crate::secrets::filled_pipe(secret).map(|fd| (*kind, fd)))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|err| format!("{err:#}"))?;
    if let Some(warm) = &spec.warm {
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC);
        let (Ok((out_read, out_write)), Ok((err_read, err_write))) = (pipe(), pipe()) else {
            return Err("creating the output pipes".into());
        };
        // Without a server (the reason was said once), the run starts fresh below.
        // The forked run finds each password at the number the protocol gives its kind.
        let at_warm: Vec<(Kind, i32)> = secret_pipes
            .iter()
            .map(|(kind, _)| (*kind, WarmRun::fd_of(*kind)))
            .collect();
        let extra_args = secret_args(&at_warm);
        let mut args = spec.args.clone();
        args.extend(extra_args.iter().cloned());
        let named: Vec<(Kind, &OwnedFd)> = secret_pipes.iter().map(|(k, fd)| (*k, fd)).collect();
        let launched = warm
            .launch(
                &args,
                &spec.env,
                [&out_write, &err_write, events_write],
                &named,
            )
            .await;
        if let Err(LaunchError::Failed(message)) = launched {
            return Err(message);
        }
        if let Ok(run) = launched {
            // Only the run may hold the write ends now, so EOF means it is done writing.
            drop((out_write, err_write));
            let pipes = [&out_read, &err_read, events_write]
                .into_iter()
                .filter_map(|fd| inode(fd.as_fd()))
                .collect();
            let pid = run.pid;
            return Ok(Launched {
                process: Process::Warm(run),
                pid,
                stdout: pipe_reader(out_read),
                stderr: pipe_reader(err_read),
                pipes,
                runner: format!("warm (forked by the warm runner as pid {pid})"),
                extra_args,
            });
        }
    }
    let at_fresh: Vec<(Kind, i32)> = secret_pipes
        .iter()
        .map(|(kind, fd)| (*kind, fd.as_raw_fd()))
        .collect();
    let extra_args = secret_args(&at_fresh);
    let inherited: Vec<i32> = at_fresh
        .iter()
        .filter(|(kind, _)| *kind == Kind::Vault)
        .map(|(_, fd)| *fd)
        .collect();
    let mut secret_pipes = secret_pipes;
    let become_pipe = secret_pipes
        .iter()
        .position(|(kind, _)| *kind == Kind::Become)
        .map(|at| secret_pipes.remove(at).1);
    let not_started = |err: std::io::Error| {
        if err.kind() == std::io::ErrorKind::NotFound {
            let program = spec.program.display();
            format!("{program} not found ({NOT_FOUND_HINT})")
        } else {
            format!("could not start {}: {err}", spec.program.display())
        }
    };
    if vfork::available() {
        let mut keep = vec![events_write.as_raw_fd()];
        keep.extend_from_slice(&inherited);
        let mut env = spec.env.clone();
        env.push((
            "FLEETDECK_EVENTS_FD".into(),
            events_write.as_raw_fd().to_string(),
        ));
        let mut args = spec.args.clone();
        args.extend(extra_args.iter().cloned());
        let mut child = vfork::spawn(vfork::Plan {
            program: spec.program.clone(),
            args,
            env,
            cwd: spec.cwd.clone(),
            keep,
            stdin: become_pipe,
        })
        .map_err(not_started)?;
        drop(secret_pipes);
        let pipes = [child.stdout.as_ref(), child.stderr.as_ref()]
            .into_iter()
            .flatten()
            .chain([events_write])
            .filter_map(|fd| inode(fd.as_fd()))
            .collect();
        let pid = child.pid;
        return Ok(Launched {
            stdout: child.stdout.take().and_then(pipe_reader),
            stderr: child.stderr.take().and_then(pipe_reader),
            process: Process::Fresh(child),
            pid,
            pipes,
            runner: "fresh".into(),
            extra_args,
        });
    }
    let stdin = match become_pipe {
        Some(pipe) => Stdio::from(pipe),
        None => Stdio::null(),
    };
    let mut child = match spawn(spec, events_write, &extra_args, &inherited, stdin) {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let program = spec.program.display();
            return Err(format!("{program} not found ({NOT_FOUND_HINT})"));
        }
        Err(err) => {
            return Err(format!("could not start {}: {err}", spec.program.display()));
        }
    };
    let pid = child.id().map(|pid| pid as i32).unwrap_or(0);
    let pipes = [
        child.stdout.as_ref().and_then(|out| inode(out.as_fd())),
        child.stderr.as_ref().and_then(|err| inode(err.as_fd())),
        inode(events_write.as_fd()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let stdout = child.stdout.take().map(|out| Box::new(out) as Reader);
    let stderr = child.stderr.take().map(|err| Box::new(err) as Reader);
    Ok(Launched {
        process: Process::Forked(child),
        pid,
        stdout,
        stderr,
        pipes,
        runner: "fresh".into(),
        extra_args,
    })
}

/// `inherited`: the password pipes' read ends, which this child alone keeps across exec;
/// `stdin`: the become password's pipe, or nothing.
fn spawn(
    spec: &RunSpec,
    events_write: &OwnedFd,
    extra_args: &[String],
    inherited: &[i32],
    stdin: Stdio,
) -> std::io::Result<tokio::process::Child> {
    let events_fd = events_write.as_raw_fd();
    let parent = nix::unistd::getpid();
    let mut keep = vec![events_fd];
    keep.extend_from_slice(inherited);
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .args(extra_args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("FLEETDECK_EVENTS_FD", events_fd.to_string())
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl, prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            // The events and password pipes are close-on-exec in fleetdeck so other runs
            // never inherit them; this child alone keeps them across exec.
            for &raw in &keep {
                let fd = std::os::fd::BorrowedFd::borrow_raw(raw);
                nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )?;
            }
            // SIGINT is how a run is asked to stop: ignored by whoever started fleetdeck (a
            // script's `fleetdeck run … &`), it would be ignored by ansible too.
            nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigDfl)?;
            // If fleetdeck dies, ansible gets SIGTERM, which it forwards to its workers.
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other(
                    "fleetdeck exited while starting the run",
                ));
            }
            Ok(())
        });
    }
    command.spawn()
}
