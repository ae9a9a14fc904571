//! Reports from the journal: JUnit XML for CI and one self-contained HTML page for people,
//! both drawn from the same `Timeline` the dashboard's views use.

pub mod html;
pub mod junit;

use crate::cli::{ReportArgs, SessionArg};
use crate::project::Environment;
use crate::timeline::{Timeline, Window};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a report covers: the environment, the window of its journal, and what ran in it.
pub struct Report {
    pub env: String,
    pub window: Window,
    pub timeline: Timeline,
    /// When the report was made: the end of bars still running.
    pub made_at: DateTime<Utc>,
    /// The inventory's servers, in its order (the matrix's rows); empty when it could not be
    /// read, and then the servers the journal names are the rows.
    pub servers: Vec<String>,
}

impl Report {
    /// The environment's journal cut to `window`, and its inventory's servers. Only reads:
    /// a dashboard or a run may hold the environment meanwhile.
    pub fn load(env: &Environment, window: Window) -> Result<Report> {
        let journal = env.journal_path();
        let mut timeline = Timeline::read(&journal, Window::All)
            .with_context(|| format!("reading {}", journal.display()))?;
        // Nobody running on the environment: what the journal shows running was cut by a crash
        // no restart has marked yet (as `status` says), not still running.
        if crate::engine::journal::holder(&journal).is_none() {
            timeline.close_abandoned();
        }
        timeline.end_cut_runs_at_their_logs();
        let timeline = timeline.within(window);
        // The rows of the matrix only: a report of what ran is still worth having without them.
        let servers = match env.load_inventory_cached() {
            Ok((inventory, _)) => inventory.hosts.keys().cloned().collect(),
            Err(err) => {
                log::warn!(target: "engine", "the report lists only the servers the journal names: {err:#}");
                Vec::new()
            }
        };
        Ok(Report {
            env: env.name.clone(),
            window,
            timeline,
            made_at: Utc::now(),
            servers,
        })
    }
}

/// Where the reports go; either may be absent.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub junit: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.junit.is_none() && self.html.is_none()
    }

    /// Writes each asked-for report; the first that cannot be written is the error, named
    /// by its file.
    pub fn write(&self, report: &Report) -> Result<()> {
        if let Some(path) = &self.junit {
            write_file(path, |out| junit::write(report, out))?;
        }
        if let Some(path) = &self.html {
            write_file(path, |out| html::write(report, out))?;
        }
        Ok(())
    }
}

/// `fleetdeck report`: the window the flags ask for, the reports written.
pub fn command(env: &Environment, args: &ReportArgs) -> Result<ExitCode> {
    let window = match (args.since, args.session) {
        (_, Some(SessionArg::Last)) => Window::LastSession,
        (Some(since), None) => Window::Since(
            Utc::now() - chrono::Duration::from_std(since).context("--since is too long")?,
        ),
        (None, None) => Window::All,
    };
    if !env.journal_path().exists() {
        eprintln!("fleetdeck: no runs recorded for {} yet", env.name);
    }
    let report = Report::load(env, window)?;
    let outputs = Outputs {
        junit: args.junit.clone(),
        html: args.html.clone(),
    };
    outputs.write(&report)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file beside `path`, renamed over it once whole: a reader (a CI
/// job, a browser) never sees half a report, and a failed write leaves the old one.
fn write_file(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = || -> Result<()> {
        let mut out = BufWriter::new(File::create(&temporary)?);
        fill(&mut out)?;
        out.into_inner()
            .map_err(|err| err.into_error())?
            .sync_all()?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    };
    let result = written();
    if result.is_err() {
        // Nothing to clean when it was never created.
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
