//! fleetdeck: the table of contents. Parse the command line, open the project, hand over to the
//! dashboard or to one of the headless commands.

use anyhow::{Context, Result};
use clap::Parser;
use fleetdeck::cli::{Cli, Commands};
use fleetdeck::project::Project;
use fleetdeck::{headless, status, tui};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("fleetdeck: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let project = Project::open(&cli.root)?;
    match cli.command {
        Some(Commands::Envs) => {
            for name in project.envs()? {
                println!("{name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Commands::Run(args)) => {
            let env = project.env(&project.pick_env(cli.env.as_deref())?)?;
            runtime()?.block_on(headless::run(env, args))
        }
        Some(Commands::Status(args)) => {
            let env = project.env(&project.pick_env(cli.env.as_deref())?)?;
            status::print(&env, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let name = match (cli.env, project.envs()?) {
                (Some(name), _) => name,
                (None, envs) if envs.len() > 1 => match tui::picker::pick(&envs)? {
                    Some(name) => name,
                    None => return Ok(ExitCode::SUCCESS),
                },
                (None, _) => project.pick_env(None)?,
            };
            runtime()?.block_on(tui::run(project.env(&name)?))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}
