//! The dashboard in a real terminal: a tmux server per test, keys sent and the screen read the
//! way an operator would. Shared by the end-to-end tests (each uses a part of it).
#![allow(dead_code)]

use crate::common::{self, Sandbox};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Anything ansible does, on a slow shared machine.
pub const ANSIBLE: Duration = Duration::from_secs(300);
/// Work that runs one server at a time after the pool shrank to one worker.
pub const SEQUENTIAL_TAIL: Duration = Duration::from_secs(900);
/// Start-up (ansible-inventory runs first), redraws after a key or a resize.
pub const SCREEN: Duration = Duration::from_secs(60);
/// Between two looks at the screen.
pub const POLL: Duration = Duration::from_millis(200);
/// The session inside each test's tmux server.
pub const SESSION: &str = "fleetdeck";

static TERMINALS: AtomicU32 = AtomicU32::new(0);

/// One tmux server with one session running the dashboard; the server is killed on drop.
pub struct Terminal {
    socket: String,
    socket_path: Option<PathBuf>,
    /// The script that starts the dashboard, to start it again after a crash.
    launcher: PathBuf,
}

impl Terminal {
    /// `fleetdeck --root <sandbox> -e demo` in a detached `width`×`height` terminal.
    pub fn open(sandbox: &Sandbox, test: &str, width: u16, height: u16) -> Terminal {
        Terminal::open_with(sandbox, test, width, height, &[])
    }

    /// `open`, with more environment variables for the dashboard.
    pub fn open_with(
        sandbox: &Sandbox,
        test: &str,
        width: u16,
        height: u16,
        env: &[(&str, &str)],
    ) -> Terminal {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|out| out.status.success()),
            "tmux is missing: run .ci/setup (the end-to-end test needs it)"
        );
        let socket = format!(
            "fleetdeck-e2e-{}-{test}-{}",
            std::process::id(),
            TERMINALS.fetch_add(1, Ordering::Relaxed)
        );
        // Our own config, never the user's: no status line (the pane is the whole window), and
        // a pane whose program ended stays, so its exit status can be read.
        let conf = sandbox.root.with_file_name(format!("{socket}.conf"));
        std::fs::write(&conf, "set -g status off\nset -g remain-on-exit on\n").unwrap();
        // The dashboard starts from a script, so neither "ansible" nor the sandbox root is in the
        // tmux server's argv: `Sandbox::ansible_processes` would count the server otherwise.
        let launcher = sandbox.root.with_file_name(format!("{socket}.sh"));
        let mut terminal = Terminal {
            socket: socket.clone(),
            socket_path: None,
            launcher: launcher.clone(),
        };
        let quote = |value: &std::path::Path| {
            let text = value.display().to_string();
            assert!(!text.contains('\''), "{text}");
            format!("'{text}'")
        };
        std::fs::write(
            &launcher,
            format!(
                "#!/bin/sh\nexport FLEETDECK_ANSIBLE_PLAYBOOK={}\nexport FLEETDECK_DEMO_ROOT={}\n{}\
                 exec {} --root {} -e demo\n",
                quote(&common::ansible_playbook()),
                quote(&sandbox.demo_root),
                env.iter()
                    .map(|(name, value)| format!("export {name}='{value}'\n"))
                    .collect::<String>(),
                quote(std::path::Path::new(env!("CARGO_BIN_EXE_fleetdeck"))),
                quote(&sandbox.root),
            ),
        )
        .unwrap();
        let (w, h) = (width.to_string(), height.to_string());
        terminal.tmux_ok(&[
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &w,
            "-y",
            &h,
            "--",
            "sh",
            launcher.to_str().unwrap(),
        ]);
        let path = terminal.display("#{socket_path}");
        terminal.socket_path = (!path.is_empty()).then(|| PathBuf::from(path));
        terminal
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("running tmux")
    }

    pub fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys by tmux name (`a`, `+`, `Enter`, `Escape`, `PageUp`, `Tab`), in one write.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.tmux_ok(&args);
    }

    /// Text typed as is.
    pub fn type_text(&self, text: &str) {
        self.tmux_ok(&["send-keys", "-t", SESSION, "-l", text]);
    }

    pub fn screen(&self) -> String {
        self.tmux_ok(&["capture-pane", "-p", "-t", SESSION])
    }

    pub fn display(&self, format: &str) -> String {
        self.tmux_ok(&["display-message", "-p", "-t", SESSION, format])
            .trim()
            .to_string()
    }

    /// The exit status of the program in the pane once it has ended (128 + N for signal N).
    pub fn exit_status(&self) -> Option<i32> {
        let dead = self.display("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{pid}");
        let mut parts = dead.split('|');
        if parts.next() != Some("1") {
            return None;
        }
        let status = parts.next().and_then(|s| s.parse::<i32>().ok());
        let signal = parts.next().and_then(|s| s.parse::<i32>().ok());
        let ended = status.or(signal.map(|n| 128 + n));
        if ended.is_none() {
            // The pane's terminal closed but tmux has not reaped the program. Built with
            // libutempter (Debian's is), tmux can miss the SIGCHLD that arrives while utempter
            // has its own handler in (tmux/tmux#311) and then never reaps: nudge our own server.
            if let Some(server) = parts.next().and_then(|s| s.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(server),
                    nix::sys::signal::Signal::SIGCHLD,
                );
            }
        }
        ended
    }

    /// Starts the dashboard again in the pane its predecessor died in.
    pub fn restart(&self) {
        self.tmux_ok(&[
            "respawn-pane",
            "-k",
            "-t",
            SESSION,
            "sh",
            self.launcher.to_str().unwrap(),
        ]);
    }

    pub fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.tmux_ok(&["resize-window", "-t", SESSION, "-x", &w, "-y", &h]);
    }

    /// Looks at the screen every `POLL` until `pred` holds; returns that screen. Gives up after
    /// `deadline`, or as soon as the dashboard has exited, printing the last screen.
    pub fn wait_for_screen(
        &self,
        what: &str,
        deadline: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if let Some(status) = self.exit_status() {
                panic!(
                    "fleetdeck exited (status {status}) while waiting for {what}; screen:\n{screen}"
                );
            }
            if start.elapsed() > deadline {
                panic!("waited {deadline:?} for {what}; last screen:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the program in the pane to end; returns its exit status.
    pub fn wait_for_exit(&self, deadline: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            if start.elapsed() > deadline {
                panic!(
                    "waited {deadline:?} for fleetdeck to exit; {}; last screen:\n{}",
                    self.describe_pane_process(),
                    self.screen()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// What the pane's program is doing: its state and its threads', for a failure message.
    pub fn describe_pane_process(&self) -> String {
        let pid = self.display("#{pane_pid}");
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
            return format!("pane process {pid} is gone");
        };
        let state = |stat: &str| stat.rsplit(')').next().unwrap_or("").trim().chars().next();
        let mut threads = Vec::new();
        for task in std::fs::read_dir(proc.join("task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let read = |name: &str| {
                std::fs::read_to_string(task.path().join(name))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            threads.push(format!(
                "{} {:?} {:?} in {}",
                task.file_name().to_string_lossy(),
                read("comm"),
                state(&read("stat")),
                read("wchan")
            ));
        }
        format!(
            "pane process {pid} still there, state {:?}, threads: [{}]",
            state(&stat),
            threads.join("; ")
        )
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Kills the dashboard too (SIGHUP): it cancels its runs, ansible follows it.
        let _ = self.tmux(&["kill-server"]);
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

pub fn footer(screen: &str) -> &str {
    screen
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

/// What the header says of this session: "session: 26 ran, 1 failed" (or narrow: "ran 26 (1 ✗)").
pub fn session(screen: &str) -> Option<(u32, u32)> {
    let header = header(screen);
    let numbers = |text: &str| -> Vec<u32> {
        text.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let at = header.find("session: ").or_else(|| header.find("ran "))?;
    let rest: String = header[at..].chars().take_while(|c| *c != '│').collect();
    match numbers(&rest)[..] {
        [ran, failed, ..] => Some((ran, failed)),
        _ => None,
    }
}

/// The number after `word` in the header ("running 3" → 3).
pub fn count(screen: &str, word: &str) -> Option<u32> {
    let header = header(screen);
    let at = header.find(&format!("{word} "))? + word.len() + 1;
    header[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The PROV, DEPLOY, CHECK symbols of a server's row in the servers pane.
pub fn outcome_symbols(screen: &str, server: &str) -> Vec<String> {
    const SYMBOLS: [&str; 11] = ["✓", "✓!", "✗", "!", "T", "E", "⊘", "↯", "▶", "·", "-"];
    let row = screen
        .lines()
        .find(|line| {
            let mut tokens = line.split_whitespace();
            matches!(tokens.next(), Some("│" | "│●")) && tokens.next() == Some(server)
        })
        .unwrap_or_else(|| panic!("no row for {server} in the servers pane:\n{screen}"));
    row.split_whitespace()
        .skip(2) // border and mark, name (group names are no symbols)
        .take_while(|token| !token.starts_with('│'))
        .filter(|token| SYMBOLS.contains(token))
        .map(String::from)
        .collect()
}

/// The dashboard up and idle on the demo fleet.
pub fn wait_for_dashboard(term: &Terminal) -> String {
    term.wait_for_screen("the dashboard", SCREEN, |s| {
        s.contains("Servers 9/9") && s.contains("Workers") && header(s).contains("demo")
    })
}

/// Waits (bounded) until a run on `server` has its log open: the journal says so (`log_opened`,
/// the file named after the server). An earlier run's log on another server does not count. A
/// file tells nobody it grew, so this polls, on that condition.
pub fn wait_for_log_opened(sandbox: &Sandbox, server: &str) {
    let start = Instant::now();
    let prefix = format!("{server}_");
    // A line being written as we read is not JSON yet; the next turn reads it whole.
    let opened = || {
        sandbox
            .journal("demo")
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|r| {
                r["kind"] == "log_opened"
                    && r["log"]
                        .as_str()
                        .and_then(|log| std::path::Path::new(log).file_name()?.to_str())
                        .is_some_and(|name| name.starts_with(&prefix))
            })
    };
    while !opened() {
        assert!(
            start.elapsed() < ANSIBLE,
            "no run on {server} opened its log"
        );
        std::thread::sleep(POLL);
    }
}

pub fn journal_records(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .journal("demo")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a journal line is JSON"))
        .collect()
}
