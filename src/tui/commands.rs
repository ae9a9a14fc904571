//! What a `:` command line does: every command goes through the same actions as the keys.

use super::app::{App, ServerRow};
use super::command_line::COMMANDS;
use super::keymap::Action;
use super::mode::{Effect, Request};
use crate::engine::model::Action as Job;
use crate::engine::{Command, EnqueueRequest, Target};

/// Runs one command line; mistakes answer in the footer and change nothing.
pub(super) fn run(app: &mut App, text: &str) -> Vec<Effect> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&command, args)) = words.split_first() else {
        return Vec::new();
    };
    let target = match command {
        "provision" => Some(Target::Action(Job::Provision)),
        "deploy" => Some(Target::Action(Job::Deploy)),
        "check" => Some(Target::Action(Job::Check)),
        "chain" => Some(Target::Chain),
        _ => None,
    };
    match (command, args) {
        (_, []) if target.is_some() => app.enqueue(target.unwrap_or(Target::Chain), None, false, 0),
        (_, names) if target.is_some() => match resolve(&app.servers, names) {
            Ok(servers) => {
                // A group may hold servers the filter hides: those are named and asked
                // for, as with the keys.
                let shown: Vec<String> = app
                    .visible_servers()
                    .iter()
                    .map(|row| row.name.clone())
                    .collect();
                let hidden = servers
                    .iter()
                    .filter(|server| !shown.contains(server))
                    .cloned()
                    .collect();
                let request = EnqueueRequest {
                    servers,
                    target: target.unwrap_or(Target::Chain),
                    tags: None,
                    check_mode: false,
                    priority: 0,
                };
                app.request(request, hidden)
            }
            Err(message) => say(app, message),
        },
        ("select", names) if !names.is_empty() => match resolve(&app.servers, names) {
            Ok(servers) => {
                let count = servers.len();
                app.selected.extend(servers);
                say(app, format!("selected {count} server(s)"))
            }
            Err(message) => say(app, message),
        },
        ("workers", [n]) => match n.parse::<u32>() {
            Ok(n) => app.resize(n),
            Err(_) => say(app, format!("`{n}` is not a number of workers")),
        },
        ("pause", []) if app.snapshot.paused.is_some() => say(app, "already paused".into()),
        ("pause", []) => vec![Effect::Engine(Command::Pause)],
        ("resume", []) => vec![Effect::Engine(Command::Resume { release_held: true })],
        ("retry", [] | ["failed"]) => app.act(Action::Retry),
        ("discard", ["held"]) => app.act(Action::DiscardHeld),
        ("filter", words) => app.carry_out(Request::Filter(words.join(" "))),
        ("help", []) => app.act(Action::Help),
        ("quit" | "q", []) => app.act(Action::Quit),
        _ => {
            let usage = COMMANDS
                .iter()
                .find(|(name, _)| *name == command)
                .map(|(name, args)| format!("usage: {name} {args}"));
            say(
                app,
                usage.unwrap_or_else(|| {
                    format!("unknown command `{command}`: Tab lists the commands")
                }),
            )
        }
    }
}

/// Servers named directly or through their group, in the order typed (a rolling deploy's
/// canary is the first): each once. An unknown name is an error.
fn resolve(rows: &[ServerRow], names: &[&str]) -> Result<Vec<String>, String> {
    let mut servers: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let matching: Vec<String> = rows
            .iter()
            .filter(|row| row.name == *name || row.groups.iter().any(|g| g == name))
            .map(|row| row.name.clone())
            .collect();
        if matching.is_empty() {
            return Err(format!("no server or group named `{name}`"));
        }
        servers.extend(matching.into_iter().filter(|s| seen.insert(s.clone())));
    }
    Ok(servers)
}

fn say(app: &mut App, message: String) -> Vec<Effect> {
    app.notice = Some(message);
    Vec::new()
}
