//! fleetdeck: the table of contents. Parse the command line, open the project, hand over to the
//! dashboard or to one of the headless commands.

use anyhow::{Context, Result};
use clap::Parser;
use fleetdeck::cli::{Cli, Commands, NodeCommand};
use fleetdeck::headless::{EXIT_COULD_NOT_START, EXIT_FAILED};
use fleetdeck::project::Project;
use fleetdeck::{console_log, headless, node_admin, report, status, tui};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(&err),
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("fleetdeck: {err:#}");
            ExitCode::from(EXIT_COULD_NOT_START)
        }
    }
}

/// clap's own answer, printed as clap prints it; only the exit code is ours. `--help` and
/// `--version` are answers (clap's exit code 0); anything else is a usage error, which clap
/// would exit 2 for, but 2 tells scripts "a run failed": nothing started, so 1.
fn usage(err: &clap::Error) -> ExitCode {
    // Nothing useful is left to do when even the usage text cannot be written.
    let _ = err.print();
    if err.exit_code() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_COULD_NOT_START)
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Completions describe the command line, not a project: they work anywhere.
    let command = match cli.command {
        Some(Commands::Completions(args)) => return Ok(completions(args.shell)),
        other => other,
    };
    let project = Project::open(&cli.root)?;
    match command {
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
            let failing = status::print(&env, args.json)?;
            Ok(if args.exit_code && failing {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Commands::Report(args)) => {
            // Warnings to stderr: stdout may be piped somewhere.
            console_log::init(true);
            let env = project.env(&project.pick_env(cli.env.as_deref())?)?;
            report::command(&env, &args)
        }
        Some(Commands::Nodes) => {
            let env = project.env(&project.pick_env(cli.env.as_deref())?)?;
            let usable = runtime()?.block_on(node_admin::list(&env))?;
            Ok(exit_for(usable))
        }
        Some(Commands::Node(NodeCommand::Guard)) => {
            print!("{}", fleetdeck::engine::remote::guard::SOURCE);
            Ok(ExitCode::SUCCESS)
        }
        Some(Commands::Node(NodeCommand::Install { name })) => {
            let env = project.env(&project.pick_env(cli.env.as_deref())?)?;
            let usable = runtime()?.block_on(node_admin::install(&env, &name))?;
            Ok(exit_for(usable))
        }
        Some(Commands::Completions(_)) => unreachable!("answered before the project is opened"),
        None => {
            let name = match (cli.env, project.envs()?) {
                (Some(name), _) => name,
                (None, envs) if envs.len() > 1 => match tui::picker::pick(&envs)? {
                    Some(name) => name,
                    None => return Ok(ExitCode::SUCCESS),
                },
                (None, _) => project.pick_env(None)?,
            };
            runtime()?.block_on(tui::run(project.env(&name)?, &cli.secrets))
        }
    }
}

/// clap's completion script for `shell`, on stdout.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "fleetdeck", &mut std::io::stdout());
    ExitCode::SUCCESS
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// 0 when everything asked about can work, 2 when something cannot.
fn exit_for(usable: bool) -> ExitCode {
    if usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
