//! The command line: `fleetdeck [-e ENV]` opens the dashboard; subcommands run headless.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "fleetdeck",
    version,
    about = "Run Ansible provision / deploy / check across a fleet, in parallel, and watch it live."
)]
pub struct Cli {
    /// Project root holding inventory/<env>/ (default: the current directory).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,
    /// Environment: a folder under inventory/ (may be omitted when there is only one).
    #[arg(short, long, global = true, value_name = "ENV")]
    pub env: Option<String>,
    /// The dashboard's passwords (`fleetdeck run` has the same flags).
    #[command(flatten)]
    pub secrets: SecretArgs,
    #[command(subcommand)]
    pub command: Option<Commands>,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// List the environments under inventory/.
    Envs,
    /// Queue actions, run them to completion without a screen, print a summary.
    ///
    /// A rolling deploy that stops on a failure leaves its waiting deploys queued (held next
    /// time): --resume-rollout continues it, --abort-rollout cancels the rest.
    ///
    /// Exit status: 0 when every run succeeded, 2 when any failed, was unreachable or was not
    /// run (a rollout left stopped included), 1 when nothing could start (a usage error, a bad
    /// config), 130 after Ctrl-C (the first interrupts running runs, the second kills them).
    Run(RunArgs),
    /// Show each server's last outcome per action, from the journal: what was interrupted, what
    /// runs now, and the logs of what is failing.
    ///
    /// Exit status: 0 (with --exit-code: 2 when any server's latest outcome is failing); 1 when
    /// the status could not be read.
    Status(StatusArgs),
    /// Write reports of what ran, from the journal: JUnit XML for CI, one HTML page for people.
    ///
    /// Reads only the journal: works while a dashboard or a run holds the environment. Exit
    /// status: 0, also when nothing ran yet; 1 when a report could not be written.
    Report(ReportArgs),
    /// List the execution nodes of config.yml: how each is reached, its ansible-runner, its
    /// capacity and its health (each node is asked over ssh, as the engine does at start).
    ///
    /// Exit status: 0 when every node can take runs, 2 when any is skipped or unreachable, 1
    /// when the config could not be read.
    Nodes,
    /// Set up an execution node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Print a completion script for a shell, e.g.
    /// `fleetdeck completions bash > ~/.local/share/bash-completion/completions/fleetdeck`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Copy fleetdeck's guard to the node (over its ssh, with config.yml's ssh_options) to
    /// where config.yml's `guard` says (default `<work_dir>/fleetdeck-guard`), then ask the
    /// node for its ansible-runner. Exit status: 0 when the node can take runs, 2 when not.
    Install {
        /// The node's name in execution_nodes.
        name: String,
    },
    /// Print the guard (one Python file, stdlib only) to install it another way, e.g. with
    /// Ansible: `fleetdeck node guard > fleetdeck-guard`.
    Guard,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    Provision,
    Deploy,
    Check,
    /// provision → deploy → check, each only after the previous succeeded.
    Chain,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to run (optional with --resume, --discard-held, --resume-rollout or
    /// --abort-rollout).
    #[arg(
        value_enum,
        required_unless_present_any = ["resume", "discard_held", "resume_rollout", "abort_rollout"]
    )]
    pub action: Option<ActionArg>,
    /// Servers or groups by name.
    #[arg(value_name = "SERVER")]
    pub servers: Vec<String>,
    /// Every server of the inventory.
    #[arg(long)]
    pub all: bool,
    /// Every server of this group (repeatable).
    #[arg(long, value_name = "G")]
    pub group: Vec<String>,
    /// Parallel runs (0 = sequential); default: max_parallel_workers from config.yml.
    #[arg(long, short = 'w', value_name = "N")]
    pub workers: Option<u32>,
    /// Tags passed as --tags (default: the action's tags from config.yml).
    #[arg(long, value_name = "a,b")]
    pub tags: Option<String>,
    /// Dry run: ansible's --check --diff.
    #[arg(long)]
    pub check: bool,
    /// Higher runs first.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "P"
    )]
    pub priority: i32,
    /// Print the summary as JSON on stdout (log lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Also run the items an earlier session left queued.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Drop the items an earlier session left queued (held) instead; `fleetdeck status` lists
    /// them.
    #[arg(long, conflicts_with = "resume")]
    pub discard_held: bool,
    /// Continue the rollouts an earlier run left stopped (deployment_strategy: rolling): they
    /// go on from where they stopped, their waiting servers let in window by window. Implies
    /// --resume (the held items run too); servers that already finished do not run again.
    #[arg(long, conflicts_with_all = ["discard_held", "abort_rollout"])]
    pub resume_rollout: bool,
    /// Abort the rollouts an earlier session left stopped or unfinished: their deploys that
    /// have not started (and the chain links after them) are cancelled, nothing more of them
    /// runs. Happens before anything this run queues; combines with --resume (the other held
    /// items run) or --discard-held (they are dropped too).
    #[arg(long)]
    pub abort_rollout: bool,
    /// Also write this run's JUnit XML report to FILE (its runs, held work it resumed
    /// included), after the summary, also when runs failed or Ctrl-C stopped it.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write this run's HTML report to FILE, like --junit.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("output").required(true).multiple(true).args(["junit", "html"]))]
pub struct ReportArgs {
    /// Only the runs that started or ended in the last DURATION (e.g. 2h, 30m, 1day).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "session")]
    pub since: Option<std::time::Duration>,
    /// Only the runs of a session: `last` is the last time fleetdeck started on the
    /// environment (held work it resumed included). Default: the whole journal.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub session: Option<SessionArg>,
    /// Write the JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SessionArg {
    /// The last session.
    Last,
}

/// Passwords for vault-encrypted variables and for become (sudo). Each is read once, kept in
/// memory, and handed to each run through a pipe: never argv, the environment or a file.
#[derive(Debug, Default, Args)]
pub struct SecretArgs {
    /// Read the vault password from FILE, once, at start (without it, fleetdeck asks at a
    /// terminal when the inventory holds vault content and ansible.cfg gives no password).
    #[arg(long, value_name = "FILE", conflicts_with = "ask_vault_pass")]
    pub vault_password_file: Option<PathBuf>,
    /// Ask for the vault password (no echo) before anything runs.
    #[arg(long)]
    pub ask_vault_pass: bool,
    /// Read the become (sudo) password from FILE, once, at start.
    #[arg(long, value_name = "FILE", conflicts_with = "ask_become_pass")]
    pub become_password_file: Option<PathBuf>,
    /// Ask for the become (sudo) password (no echo) before anything runs.
    #[arg(long)]
    pub ask_become_pass: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when any server's latest outcome is failed, unreachable, timed out, could not
    /// start, interrupted or unhealthy (for scripts); without it, status exits 0.
    #[arg(long)]
    pub exit_code: bool,
}
