//! The headless face's logger: one plain line per record, `HH:MM:SS [target] message`.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct ConsoleLog {
    to_stderr: bool,
}

impl Log for ConsoleLog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR ",
            Level::Warn => "WARN ",
            _ => "",
        };
        let line = format!(
            "{} [{}] {level}{}\n",
            chrono::Local::now().format("%H:%M:%S"),
            record.target(),
            record.args()
        );
        // A closed pipe (`| head`) must not kill the run; the journal keeps the record anyway.
        let _ = if self.to_stderr {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            std::io::stdout().lock().write_all(line.as_bytes())
        };
    }

    fn flush(&self) {}
}

/// Installs the logger once; `to_stderr` keeps stdout clean for `--json`.
pub fn init(to_stderr: bool) {
    if log::set_boxed_logger(Box::new(ConsoleLog { to_stderr })).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
