//! The `:` command line, as in k9s and ansible-navigator: `deploy web`, `check db-01`,
//! `workers 5`, `pause`, `retry failed`, `discard held`, `filter failed`, `quit`. Tab completes
//! the word under the cursor. This is the line as a mode; what a command does is `commands.rs`.

use super::app::ServerRow;
use super::keymap::{ModeAction, Scope};
use super::mode::{Context, ModeKeys, Reply, Request};
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

impl ModeKeys for CommandLine {
    fn scope(&self) -> Scope {
        Scope::CommandLine
    }

    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, cx: &Context) -> Reply {
        match (bound, key.code) {
            (Some(ModeAction::Close), _) => return Reply::Close,
            (Some(ModeAction::Confirm), _) => {
                return Reply::Request(Request::Command(std::mem::take(&mut self.text)));
            }
            (Some(ModeAction::Erase), _) => {
                self.text.pop();
                self.candidates.clear();
            }
            (Some(ModeAction::Complete), _) => {
                (self.text, self.candidates) = complete(cx.servers, &self.text);
            }
            (None, KeyCode::Char(c)) => {
                self.text.push(c);
                self.candidates.clear();
            }
            _ => {}
        }
        Reply::Stay
    }
}

/// Completes the last word of `text`: the text as completed, and the candidates when more
/// than one fits.
pub fn complete(servers: &[ServerRow], text: &str) -> (String, Vec<String>) {
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
            "provision" | "deploy" | "check" | "chain" | "select" => names(servers),
            "retry" => vec!["failed".into()],
            "discard" => vec!["held".into()],
            "filter" => STATUS_WORDS
                .iter()
                .map(|w| w.to_string())
                .chain(groups(servers))
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

/// Server and group names, sorted, for completion.
fn names(servers: &[ServerRow]) -> Vec<String> {
    let mut names: BTreeSet<String> = servers.iter().map(|r| r.name.clone()).collect();
    names.extend(groups(servers));
    names.into_iter().collect()
}

fn groups(servers: &[ServerRow]) -> BTreeSet<String> {
    servers
        .iter()
        .flat_map(|r| r.groups.iter().cloned())
        .collect()
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
