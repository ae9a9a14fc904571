//! A dashboard in a real terminal (tmux), for the benchmarks that watch it as an operator would.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached session `bench` of `width`×`height` running `command`.
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("fleetdeck-bench-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "bench",
            "-x",
            &w,
            "-y",
            &h,
            command,
        ]);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "bench"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "bench"])
    }

    pub fn pid(&self) -> String {
        self.run(&["display", "-p", "-t", "bench", "#{pane_pid}"])
            .trim()
            .to_string()
    }

    /// Opens and closes the help `rounds` times: each key's delay until the screen shows it,
    /// sorted.
    pub fn key_delays(&self, rounds: usize) -> Vec<Duration> {
        let mut delays = Vec::new();
        for _ in 0..rounds {
            self.keys(&["?"]);
            delays.push(self.wait_for("help", Duration::from_secs(10), |s| {
                s.contains("any key closes")
            }));
            self.keys(&["Escape"]);
            delays.push(self.wait_for("help gone", Duration::from_secs(10), |s| {
                !s.contains("any key closes")
            }));
        }
        delays.sort();
        delays
    }

    /// Polls the terminal (the only way to watch another program's screen) until `pred` holds.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> Duration {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}
