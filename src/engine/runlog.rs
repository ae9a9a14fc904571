//! One log file per run: `logs/<env>/<server>_<action>_<YYYYMMDD_HHMMSS>.log`, never
//! overwritten, readable by its owner only, with a header and a footer around every byte the
//! run printed.

use super::model::{Action, Outcome, Recap, Slot};
use anyhow::{Context, Result};
use chrono::{DateTime, Local};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Shared by the stdout and stderr readers: `&File` writes need no lock.
#[derive(Clone)]
pub struct RunLog {
    path: PathBuf,
    file: Arc<File>,
}

pub struct Header<'a> {
    pub command: &'a [String],
    /// How the run was started: fresh, or forked by the warm runner.
    pub runner: &'a str,
    pub tags: &'a [String],
    pub check_mode: bool,
    pub slot: Slot,
    pub attempt: u32,
    pub started: DateTime<Local>,
}

impl RunLog {
    pub fn create(
        dir: &Path,
        server: &str,
        action: Action,
        started: DateTime<Local>,
    ) -> Result<RunLog> {
        crate::secrets::create_private_dir_all(dir)
            .with_context(|| format!("creating the log folder {}", dir.display()))?;
        let stem = format!(
            "{}_{action}_{}",
            file_safe(server),
            started.format("%Y%m%d_%H%M%S")
        );
        for n in 1u32.. {
            let name = if n == 1 {
                format!("{stem}.log")
            } else {
                format!("{stem}_{n}.log")
            };
            let path = dir.join(name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(RunLog {
                        path,
                        file: Arc::new(file),
                    });
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("creating the run log {}", path.display()));
                }
            }
        }
        unreachable!("u32 suffixes run out before the disk does")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self, header: &Header) -> Result<()> {
        let tags = if header.tags.is_empty() {
            "(all)".to_string()
        } else {
            header.tags.join(",")
        };
        let text = format!(
            "# fleetdeck run log\n# command: {}\n# runner: {}\n# tags: {tags}{}\n# worker: {}\n# attempt: {}\n# started: {}\n#\n",
            shell_words(header.command),
            header.runner,
            if header.check_mode {
                " (check mode: --check --diff)"
            } else {
                ""
            },
            header.slot,
            header.attempt,
            header.started.to_rfc3339(),
        );
        self.write(text.as_bytes())
    }

    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        (&*self.file)
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn footer(
        &self,
        outcome: &Outcome,
        rc: Option<i32>,
        duration: Duration,
        recap: Option<&Recap>,
    ) -> Result<()> {
        let rc = rc.map_or_else(
            || "none (ended by a signal)".to_string(),
            |rc| rc.to_string(),
        );
        let recap = recap.map_or_else(
            || "none (no stats from ansible)".to_string(),
            Recap::to_string,
        );
        let text = format!(
            "\n#\n# outcome: {outcome}\n# rc: {rc}\n# duration: {:.1}s\n# recap: {recap}\n",
            duration.as_secs_f64()
        );
        // No fsync: it would stall a runtime thread per run, and the page cache already
        // survives a crash of fleetdeck itself.
        self.write(text.as_bytes())
    }
}

/// Closes the log of a run that was cut by a crash of fleetdeck: the footer says so, so a reader
/// of the file alone knows why it stops mid-task. Best effort: a log that is gone stays gone.
pub fn close_interrupted(path: &Path, now: DateTime<chrono::Utc>) {
    let text = format!(
        "\n#\n# outcome: {}\n# marked at the next start of fleetdeck: {}\n",
        Outcome::Interrupted,
        now.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S")
    );
    if let Ok(mut file) = OpenOptions::new().append(true).open(path) {
        let _ = file.write_all(text.as_bytes());
    }
}

/// Server names become file names: anything but letters, digits, `.`, `-` and `_` becomes `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The argv as an operator could paste it into a shell.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./,=:@".contains(c))
            {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_second_gets_a_suffix_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let at = Local::now();
        let first = RunLog::create(dir.path(), "web-01", Action::Deploy, at).unwrap();
        let second = RunLog::create(dir.path(), "web-01", Action::Deploy, at).unwrap();
        assert_ne!(first.path(), second.path());
        assert!(second.path().to_string_lossy().ends_with("_2.log"));
    }

    #[test]
    fn log_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::create(dir.path(), "db/01", Action::Check, Local::now()).unwrap();
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        assert!(
            log.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("db_01_check_")
        );
    }

    #[test]
    fn shell_words_quotes_what_needs_it() {
        let argv = ["ansible-playbook", "--limit", "web 01", "it's"].map(String::from);
        assert_eq!(
            shell_words(&argv),
            r"ansible-playbook --limit 'web 01' 'it'\''s'"
        );
    }
}
