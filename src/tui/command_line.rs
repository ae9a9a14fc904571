//! The `:` command line, as in k9s and ansible-navigator: `deploy web`, `check db-01`,
//! `workers 5`, `pause`, `retry failed`, `discard held`, `filter failed`, `quit`. Tab completes
//! the word under the cursor. Every command goes through the same actions as the keys.

use super::app::{App, Effect, Mode, Pane};
use super::keymap::Action;
use crate::engine::model::Action as Job;
use crate::engine::{Command, EnqueueRequest, Target};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::BTreeSet;

/// Every command, with what it takes, for completion and for the help line.
pub const COMMANDS: &[(&str, &str)] = &[
    ("provision", "[server|group …]"),
    ("deploy", "[server|group …]"),
    ("check", "[server|group …]"),
    ("chain", "[server|group …]"),
    ("workers", "N"),
    ("pause", ""),
    ("resume", ""),
    ("retry", "failed"),
    ("discard", "held"),
    ("filter", "[text|failed|running|queued|interrupted…]"),
    ("select", "server|group …"),
    ("help", ""),
    ("quit", ""),
];

const STATUS_WORDS: &[&str] = &[
    "failed",
    "running",
    "queued",
    "held",
    "interrupted",
    "unreachable",
    "ok",
    "skipped",
    "cancelled",
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandLine {
    pub text: String,
    /// What Tab found when it could not choose alone.
    pub candidates: Vec<String>,
}

impl App {
    pub(super) fn open_command_line(&mut self) {
        self.mode = Mode::Command(CommandLine::default());
    }

    pub(super) fn command_line_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Mode::Command(line) = &mut self.mode else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let text = line.text.clone();
                self.mode = Mode::Normal;
                return self.run_command_line(&text);
            }
            KeyCode::Backspace => {
                line.text.pop();
                line.candidates.clear();
            }
            KeyCode::Tab => {
                let text = line.text.clone();
                let (completed, candidates) = self.complete(&text);
                if let Mode::Command(line) = &mut self.mode {
                    line.text = completed;
                    line.candidates = candidates;
                }
            }
            KeyCode::Char(c) => {
                line.text.push(c);
                line.candidates.clear();
            }
            _ => {}
        }
        Vec::new()
    }

    /// Completes the last word of `text`: the text as completed, and the candidates when more
    /// than one fits.
    pub fn complete(&self, text: &str) -> (String, Vec<String>) {
        let words: Vec<&str> = text.split_whitespace().collect();
        let typing_new = text.is_empty() || text.ends_with(' ');
        let (index, prefix) = if typing_new {
            (words.len(), "")
        } else {
            (words.len() - 1, *words.last().unwrap_or(&""))
        };
        let pool: Vec<String> = if index == 0 {
            COMMANDS.iter().map(|(name, _)| name.to_string()).collect()
        } else {
            match words[0] {
                "provision" | "deploy" | "check" | "chain" | "select" => self.names(),
                "retry" => vec!["failed".into()],
                "discard" => vec!["held".into()],
                "filter" => STATUS_WORDS
                    .iter()
                    .map(|w| w.to_string())
                    .chain(self.groups())
                    .collect(),
                _ => Vec::new(),
            }
        };
        let fits: Vec<String> = pool.into_iter().filter(|c| c.starts_with(prefix)).collect();
        let stem = &text[..text.len() - prefix.len()];
        match fits.as_slice() {
            [] => (text.to_string(), Vec::new()),
            [one] => (format!("{stem}{one} "), Vec::new()),
            many => (format!("{stem}{}", common_prefix(many)), many.to_vec()),
        }
    }

    /// Runs one command line; mistakes answer in the footer and change nothing.
    pub fn run_command_line(&mut self, text: &str) -> Vec<Effect> {
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
            (_, []) if target.is_some() => {
                self.enqueue(target.unwrap_or(Target::Chain), None, false, 0)
            }
            (_, names) if target.is_some() => match self.resolve(names) {
                Ok(servers) => {
                    // A group may hold servers the filter hides: those are named and asked
                    // for, as with the keys.
                    let shown: Vec<String> = self
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
                    self.request(request, hidden)
                }
                Err(message) => self.say(message),
            },
            ("select", names) if !names.is_empty() => match self.resolve(names) {
                Ok(servers) => {
                    let count = servers.len();
                    self.selected.extend(servers);
                    self.say(format!("selected {count} server(s)"))
                }
                Err(message) => self.say(message),
            },
            ("workers", [n]) => match n.parse::<u32>() {
                Ok(n) => self.resize(n),
                Err(_) => self.say(format!("`{n}` is not a number of workers")),
            },
            ("pause", []) if self.snapshot.paused.is_some() => self.say("already paused".into()),
            ("pause", []) => vec![Effect::Engine(Command::Pause)],
            ("resume", []) => vec![Effect::Engine(Command::Resume { release_held: true })],
            ("retry", [] | ["failed"]) => self.act(Action::Retry),
            ("discard", ["held"]) => self.act(Action::DiscardHeld),
            ("filter", words) => {
                self.filter = words.join(" ");
                self.cursor.insert(Pane::Servers, 0);
                self.focus = Pane::Servers;
                self.say_if_no_match();
                Vec::new()
            }
            ("help", []) => self.act(Action::Help),
            ("quit" | "q", []) => self.act(Action::Quit),
            _ => {
                let usage = COMMANDS
                    .iter()
                    .find(|(name, _)| *name == command)
                    .map(|(name, args)| format!("usage: {name} {args}"));
                self.say(usage.unwrap_or_else(|| {
                    format!("unknown command `{command}`: Tab lists the commands")
                }))
            }
        }
    }

    /// Server and group names, sorted, for completion.
    fn names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.servers.iter().map(|r| r.name.clone()).collect();
        names.extend(self.groups());
        names.into_iter().collect()
    }

    fn groups(&self) -> BTreeSet<String> {
        self.servers
            .iter()
            .flat_map(|r| r.groups.iter().cloned())
            .collect()
    }

    /// Servers named directly or through their group, in the order typed (a rolling deploy's
    /// canary is the first): each once. An unknown name is an error.
    fn resolve(&self, names: &[&str]) -> Result<Vec<String>, String> {
        let mut servers: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let matching: Vec<String> = self
                .servers
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

    fn say(&mut self, message: String) -> Vec<Effect> {
        self.notice = Some(message);
        Vec::new()
    }

    /// A filter that shows nothing says so, instead of an empty pane and silence.
    pub(super) fn say_if_no_match(&mut self) {
        if !self.filter.is_empty() && self.visible_servers().is_empty() {
            self.notice = Some(format!(
                "no server matches \"{}\" (name, group or state); Esc clears the filter",
                self.filter
            ));
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut len = first.len();
    for word in &words[1..] {
        len = len.min(
            first
                .chars()
                .zip(word.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum(),
        );
    }
    first[..len].to_string()
}
