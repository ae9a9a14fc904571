//! What Enter opens: the log of a worker's run or of a server's latest run, and when there is
//! none, why (an idle worker, a run that has not opened its log yet, one that ended before its
//! log was recorded). Pure: it returns the effect, the event loop opens the file.

use super::app::{App, Pane};
use super::mode::Effect;
use std::path::PathBuf;

impl App {
    /// The log of what the cursor points at: a worker's run, a server's latest run.
    pub(super) fn open_log(&mut self) -> Vec<Effect> {
        let target: Option<(String, PathBuf)> = match self.focus {
            Pane::Workers => self
                .snapshot
                .workers
                .get(self.cursor(Pane::Workers))
                .and_then(|w| w.run.as_ref())
                .and_then(|run| Some((run.item.describe(), run.log_path.clone()?))),
            Pane::Servers => self.cursor_server().and_then(|server| {
                if let Some(run) = self.running_on(&server) {
                    return Some((run.item.describe(), run.log_path.clone()?));
                }
                // The newest log on disk of any action, from this session or an earlier one.
                self.status
                    .get(&server)?
                    .iter()
                    .filter_map(|(job, last)| Some((last.at, job, last.log.clone()?)))
                    .max_by_key(|(at, _, _)| *at)
                    .map(|(_, job, log)| (format!("{job} for server {server}"), log))
            }),
            _ => None,
        };
        match target {
            Some((title, path)) => vec![Effect::OpenLog { title, path }],
            None => {
                self.notice = Some(match self.focus {
                    Pane::Servers => self.why_no_server_log(),
                    Pane::Workers => match self
                        .snapshot
                        .workers
                        .get(self.cursor(Pane::Workers))
                        .and_then(|w| w.run.as_ref())
                    {
                        Some(_) => "this run has not opened its log yet".into(),
                        None => "this worker is idle: no run log".into(),
                    },
                    _ => "Enter opens a log from the servers or workers pane".into(),
                });
                Vec::new()
            }
        }
    }

    /// A server whose runs all ended before opening a log (fleetdeck killed right as one
    /// started) has run something: the notice says which, not "nothing has run".
    fn why_no_server_log(&self) -> String {
        let newest = self.cursor_server().and_then(|server| {
            let (job, last) = self
                .status
                .get(&server)?
                .iter()
                .max_by_key(|(_, last)| last.at)?;
            Some((server, job.to_string(), last.outcome.label()))
        });
        match newest {
            Some((server, job, outcome)) => {
                format!(
                    "no run log recorded for {server}: its {job} ({outcome}) ended before one was"
                )
            }
            None => "no run log for this server yet: nothing has run on it".into(),
        }
    }
}
