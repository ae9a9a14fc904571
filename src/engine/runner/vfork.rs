//! Starting a fresh run's process without copying fleetdeck. A `fork` copies the page tables of
//! the whole process and marks every page copy-on-write, which the engine then pays for in
//! faults at its next writes: profiled at 10,000 short runs, that was over half of fleetdeck's
//! own CPU (2.9 ms per run; 0.8 ms without it). `clone(CLONE_VM | CLONE_VFORK)` is what
//! `posix_spawn` does: the child borrows our memory until its `execve`, and we wait for that.
//! `posix_spawn` itself cannot do what a run needs between the two (its parent-death signal,
//! the events and password pipes kept across exec, a check that fleetdeck still lives), so the
//! child here does exactly those steps, with plain system calls on data prepared beforehand:
//! no allocation, no lock, nothing that could meet our other threads' state half-changed.

use nix::libc::{self, c_char, c_int};
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio::io::unix::AsyncFd;

/// The child's stack until its `execve`: it only makes system calls.
const STACK: usize = 64 * 1024;

thread_local! {
    /// One stack per thread, reused: the child is done with it when `clone` returns.
    static STACKS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the child does, prepared in full before it exists.
pub(super) struct Plan {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on top of fleetdeck's own environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Descriptors (close-on-exec in fleetdeck) this child alone keeps across exec.
    pub keep: Vec<RawFd>,
    /// The child's stdin; `None`: /dev/null.
    pub stdin: Option<OwnedFd>,
}

/// A started child: its pid, the read ends of its stdout and stderr, and a pidfd to await its
/// end with (the runtime's own child reaper knows nothing of it).
pub(super) struct Child {
    pub pid: i32,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    exited: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in argument"))
}

fn os_error<T>(result: nix::Result<T>) -> io::Result<T> {
    result.map_err(io::Error::from)
}

/// `program` as `execvp` would find it, on the PATH the child will have.
fn resolve(program: &Path, path: Option<&OsStr>) -> io::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// Whether this kernel gives pidfds (Linux 5.3 and later); without them, runs are forked.
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| pidfd_open(std::process::id() as i32).is_ok())
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: a plain system call; on success it returns a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and belongs to no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Fleetdeck's own environment as `KEY=value` strings, made once: it never changes while
/// fleetdeck runs (nothing here sets variables), and every run starts from it.
fn own_environment() -> &'static [(OsString, CString)] {
    static OWN: std::sync::OnceLock<Vec<(OsString, CString)>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        std::env::vars_os()
            .filter_map(|(key, value)| {
                let pair = [key.as_bytes(), b"=", value.as_bytes()].concat();
                Some((key, CString::new(pair).ok()?))
            })
            .collect()
    })
}

pub(super) fn spawn(plan: Plan) -> io::Result<Child> {
    let overridden = |key: &OsStr| plan.env.iter().any(|(k, _)| OsStr::new(k) == key);
    let ours: Vec<CString> = plan
        .env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}").as_bytes()))
        .collect::<io::Result<_>>()?;
    let path = match plan.env.iter().find(|(k, _)| k == "PATH") {
        Some((_, path)) => Some(OsString::from(path)),
        None => std::env::var_os("PATH"),
    };
    let program = cstring(
        resolve(&plan.program, path.as_deref())?
            .as_os_str()
            .as_bytes(),
    )?;
    let mut argv = vec![cstring(plan.program.as_os_str().as_bytes())?];
    for arg in &plan.args {
        argv.push(cstring(arg.as_bytes())?);
    }
    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const c_char> = own_environment()
        .iter()
        .filter(|(key, _)| !overridden(key))
        .map(|(_, pair)| pair.as_ptr())
        .chain(ours.iter().map(|pair| pair.as_ptr()))
        .collect();
    envp_ptrs.push(std::ptr::null());
    let cwd = cstring(plan.cwd.as_os_str().as_bytes())?;
    let stdin = match plan.stdin {
        Some(fd) => fd,
        None => os_error(nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ))?,
    };
    let pipe = || os_error(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC));
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let parent = std::process::id() as c_int;
    let failure = AtomicI32::new(0);
    STACKS.with_borrow_mut(|stack| stack.resize(STACK, 0));
    let (stdin_fd, out_fd, err_fd) = (
        stdin.as_raw_fd(),
        out_write.as_raw_fd(),
        err_write.as_raw_fd(),
    );

    // Signals stay blocked from before the clone until the child has reset its handlers: a
    // handler of ours must never run in the child, on our memory.
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // The run starts with no signal blocked, whatever this thread blocks (as `Command` does): a
    // blocked SIGINT would be inherited through exec and ansible would never see the interrupt.
    let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset / sigemptyset initialise `all` / `none`; pthread_sigmask fills `old`.
    let (old, none) = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::sigemptyset(none.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr());
        (old.assume_init(), none.assume_init())
    };
    let child_steps = Box::new(|| -> isize {
        // SAFETY: only system calls on data prepared above; the parent is suspended until
        // the execve or the exit (CLONE_VFORK), so nothing here changes under it.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            for signal in 1..libc::SIGRTMAX() {
                if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                    continue;
                }
                let mut current: libc::sigaction = std::mem::zeroed();
                // Ignored signals stay ignored, as across any exec; but SIGPIPE is ours, and
                // SIGINT is how a run is asked to stop: ignored by whoever started fleetdeck (a
                // script's `fleetdeck run … &`), ansible would never hear it.
                let ours = signal == libc::SIGPIPE || signal == libc::SIGINT;
                if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                    && (current.sa_sigaction != libc::SIG_IGN || ours)
                    && current.sa_sigaction != libc::SIG_DFL
                {
                    action.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &action, std::ptr::null_mut());
                }
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            let steps_done = libc::dup2(stdin_fd, 0) >= 0
                && libc::dup2(out_fd, 1) >= 0
                && libc::dup2(err_fd, 2) >= 0
                && plan
                    .keep
                    .iter()
                    .all(|fd| libc::fcntl(*fd, libc::F_SETFD, 0) == 0)
                && libc::setpgid(0, 0) == 0
                // If fleetdeck dies, ansible gets SIGTERM, which it forwards to its workers.
                && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0
                && libc::getppid() == parent
                && libc::chdir(cwd.as_ptr()) == 0;
            if steps_done {
                libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
            }
            let errno = *libc::__errno_location();
            failure.store(
                if errno == 0 { libc::ESRCH } else { errno },
                Ordering::SeqCst,
            );
            libc::_exit(127)
        }
    });
    let flags = nix::sched::CloneFlags::CLONE_VM | nix::sched::CloneFlags::CLONE_VFORK;
    // SAFETY: the child runs `child_steps` on `stack` (ours, alive until after it execs or
    // exits, since CLONE_VFORK suspends us until then) and touches nothing else of ours.
    let cloned = STACKS.with_borrow_mut(|stack| unsafe {
        nix::sched::clone(child_steps, stack, flags, Some(libc::SIGCHLD))
    });
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    let pid = os_error(cloned)?.as_raw();
    drop((out_write, err_write, stdin));
    let errno = failure.load(Ordering::SeqCst);
    if errno != 0 {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(if errno == libc::ESRCH {
            io::Error::other("fleetdeck exited while starting the run")
        } else {
            io::Error::from_raw_os_error(errno)
        });
    }
    // SAFETY: the pidfd is owned by the AsyncFd and neither replaced nor closed while it is.
    let exited = pidfd_open(pid).and_then(|fd| unsafe { Ok(AsyncFd::register(fd)?) });
    let exited = match exited {
        Ok(exited) => exited,
        Err(err) => {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(err);
        }
    };
    Ok(Child {
        pid,
        stdout: Some(out_read),
        stderr: Some(err_read),
        exited,
        status: None,
    })
}

impl Child {
    /// Cancel-safe: the pidfd turns readable when the child ends; then it is reaped.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Ok(status);
            }
            let mut ready = self.exited.readable().await?;
            let mut raw: c_int = 0;
            // SAFETY: waits for our own child, without blocking.
            let reaped = unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) };
            if reaped == self.pid {
                self.status = Some(ExitStatus::from_raw(raw));
            } else if reaped < 0 {
                return Err(io::Error::last_os_error());
            } else {
                ready.clear_ready();
            }
        }
    }
}

impl Drop for Child {
    /// A child dropped before its end (its tree is being killed) is still reaped, by a thread
    /// of its own, so it never stays a zombie.
    fn drop(&mut self) {
        if self.status.is_none() {
            let pid = nix::unistd::Pid::from_raw(self.pid);
            std::thread::spawn(move || nix::sys::wait::waitpid(pid, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn run_sh(
        script: &str,
        keep: Vec<RawFd>,
        env: Vec<(String, String)>,
    ) -> (ExitStatus, String, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut child = spawn(Plan {
                program: "sh".into(),
                args: vec!["-c".into(), script.into()],
                env,
                cwd: "/tmp".into(),
                keep,
                stdin: None,
            })
            .unwrap();
            let status = child.wait().await.unwrap();
            let read = |fd: Option<OwnedFd>| {
                let mut text = String::new();
                std::fs::File::from(fd.unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                text
            };
            let (out, err) = (read(child.stdout.take()), read(child.stderr.take()));
            (status, out, err)
        })
    }

    #[test]
    fn the_child_gets_its_own_group_cwd_env_output_and_exit_code() {
        let script = "echo \"$PWD $GREETING\"; echo oops >&2; \
                      [ \"$(ps -o pgid= $$ | tr -d ' ')\" = \"$$\" ] || exit 9; \
                      yes | head -n 1 >/dev/null; exit 3";
        let env = vec![("GREETING".into(), "hello".into())];
        let (status, out, err) = run_sh(script, Vec::new(), env);
        assert_eq!(out, "/tmp hello\n");
        assert_eq!(
            err, "oops\n",
            "SIGPIPE is back to its default: `yes` dies quietly"
        );
        assert_eq!(
            status.code(),
            Some(3),
            "3, not 9: it leads a process group of its own"
        );
    }

    #[test]
    fn only_the_descriptors_named_cross_the_exec() {
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (_kept_read, kept) = pipe();
        let (_other_read, other) = pipe();
        let script = format!(
            "[ -e /proc/self/fd/{} ] || exit 4; [ -e /proc/self/fd/{} ] && exit 5; exit 0",
            kept.as_raw_fd(),
            other.as_raw_fd()
        );
        let (status, _, err) = run_sh(&script, vec![kept.as_raw_fd()], Vec::new());
        assert_eq!(status.code(), Some(0), "{err}");
    }

    #[test]
    fn a_program_that_is_not_there_is_not_found() {
        let plan = Plan {
            program: "fleetdeck-no-such-program".into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: "/tmp".into(),
            keep: Vec::new(),
            stdin: None,
        };
        let err = spawn(plan).err().expect("nothing to start");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let plan = Plan {
            program: "/bin/sh".into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: "/no/such/dir".into(),
            keep: Vec::new(),
            stdin: None,
        };
        let err = spawn(plan).err().expect("no such working directory");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
