//! What an execution-node lab's fleetdeck did, read as an operator reads it: the journal's
//! records and runs, each (server, action)'s verdict, and the run logs.

use super::{ENV, NodeLab, wait_for};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

impl NodeLab {
    /// The journal's records; a line still being written (no newline yet) is left out.
    pub fn journal(&self) -> Vec<Value> {
        let text = self.sandbox.journal(ENV);
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        complete
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Every run the journal started, in the order they started, with how each ended.
    pub fn runs(&self) -> Vec<Ran> {
        let journal = self.journal();
        let items: HashMap<u64, &Value> = journal
            .iter()
            .filter(|record| record["kind"] == "enqueued")
            .map(|record| (record["item"]["id"].as_u64().unwrap(), &record["item"]))
            .collect();
        let finished: HashMap<u64, &Value> = journal
            .iter()
            .filter(|record| record["kind"] == "finished")
            .map(|record| (record["id"].as_u64().unwrap(), record))
            .collect();
        journal
            .iter()
            .filter(|record| record["kind"] == "started")
            .map(|record| {
                let id = record["id"].as_u64().unwrap();
                let item = items[&id];
                let end = finished.get(&id);
                Ran {
                    id,
                    server: item["server"].as_str().unwrap().to_string(),
                    action: item["action"].as_str().unwrap().to_string(),
                    attempt: item["attempt"].as_u64().unwrap(),
                    node: record["node"].as_str().map(str::to_string),
                    outcome: end.map(|end| end["outcome"].as_str().unwrap().to_string()),
                    retried: end.is_some_and(|end| end["retried"] == true),
                    finished: end.map(|end| (*end).clone()),
                }
            })
            .collect()
    }

    /// How each (server, action) ended: its last `finished` record that was not retried.
    pub fn verdicts(&self) -> HashMap<(String, String), Value> {
        let mut verdicts = HashMap::new();
        for record in self.journal() {
            if record["kind"] == "finished" && record["retried"] != true {
                let key = (
                    record["server"].as_str().unwrap().to_string(),
                    record["action"].as_str().unwrap().to_string(),
                );
                verdicts.insert(key, record);
            }
        }
        verdicts
    }

    /// The log of `server`'s `action` run once it holds `text` (bounded by `limit`).
    pub fn wait_for_log(&self, server: &str, action: &str, text: &str, limit: Duration) -> PathBuf {
        let found = wait_for(limit, || {
            let journal = self.journal();
            let ids: Vec<&Value> = journal
                .iter()
                .filter(|record| {
                    record["kind"] == "enqueued"
                        && record["item"]["server"] == server
                        && record["item"]["action"] == action
                })
                .map(|record| &record["item"]["id"])
                .collect();
            journal
                .iter()
                .filter(|record| record["kind"] == "log_opened" && ids.contains(&&record["id"]))
                .filter_map(|record| record["log"].as_str().map(PathBuf::from))
                .find(|log| {
                    std::fs::read_to_string(log).is_ok_and(|written| written.contains(text))
                })
        });
        found.unwrap_or_else(|| {
            panic!(
                "no log of {server} {action} shows {text:?} within {limit:?}; journal:\n{}",
                self.sandbox.journal(ENV)
            )
        })
    }

    /// Every run log of the environment: (path, text).
    pub fn logs(&self) -> Vec<(PathBuf, String)> {
        let dir = self.root().join("logs").join(ENV);
        let mut logs: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.is_file())
                    .map(|path| {
                        let text = std::fs::read_to_string(&path).unwrap_or_default();
                        (path, text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        logs
    }

    /// The log a run's `finished` record names.
    pub fn log_of(&self, ran: &Ran) -> String {
        let path = ran
            .finished
            .as_ref()
            .and_then(|end| end["log"].as_str())
            .unwrap_or_else(|| panic!("{ran:?} names no log"));
        std::fs::read_to_string(path).unwrap()
    }
}

/// One started run as the journal tells it.
#[derive(Clone, Debug)]
pub struct Ran {
    pub id: u64,
    pub server: String,
    pub action: String,
    pub attempt: u64,
    pub node: Option<String>,
    /// `None`: no `finished` record.
    pub outcome: Option<String>,
    pub retried: bool,
    pub finished: Option<Value>,
}

impl Ran {
    pub fn on(&self) -> &str {
        self.node.as_deref().unwrap_or("-")
    }
}
