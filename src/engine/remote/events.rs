//! ansible-runner's job events (what its `awx_display` callback writes on a worker's stream)
//! and their meaning as the events of our own plugin (`CallbackEvent`), so a remote run feeds
//! the same progress, transcript, outcome and recap as a local one.
//!
//! runner 2.4.3 has no event of its own for a handler: it reuses `playbook_on_task_start` with
//! `is_conditional: true`, which nothing else sets (ansible passes `false` for every task).

mod msg;

use crate::engine::callback::{CallbackEvent, ResultStatus, StatsCounts};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// One job event, keeping only what fleetdeck reads. Fields of an unexpected type are read as
/// absent rather than failing the whole event.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct JobEvent {
    pub event: String,
    #[serde(default, deserialize_with = "lenient")]
    pub counter: Option<i64>,
    /// ansible's human output for this event, with runner's CRLF (it drives ansible through a
    /// pty) already turned into LF by the reader.
    #[serde(default, deserialize_with = "lf_text")]
    pub stdout: String,
    #[serde(default)]
    pub event_data: EventData,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EventData {
    #[serde(deserialize_with = "lenient")]
    pub host: Option<String>,
    /// The task's own name, or its action when it has none (never role-prefixed).
    #[serde(deserialize_with = "lenient")]
    pub task: Option<String>,
    /// On task and play starts: ansible's `get_name()` (a role task as "role : task").
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub role: Option<String>,
    /// The role's full name (a collection's role) when it differs from `role`.
    #[serde(deserialize_with = "lenient")]
    pub resolved_role: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub is_conditional: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    pub play: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub playbook: Option<String>,
    pub res: Option<Value>,
    #[serde(deserialize_with = "lenient")]
    pub ignore_errors: Option<bool>,
    /// `playbook_on_stats`: ansible's counters, one map per kind, keyed by host.
    #[serde(deserialize_with = "counts")]
    pub processed: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub ok: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub changed: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub failures: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub dark: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub skipped: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub rescued: BTreeMap<String, u32>,
    #[serde(deserialize_with = "counts")]
    pub ignored: BTreeMap<String, u32>,
}

fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

fn counts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, u32>, D::Error> {
    Ok(lenient(deserializer)?.unwrap_or_default())
}

fn lf_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text: Option<String> = lenient(deserializer)?;
    Ok(text.unwrap_or_default().replace("\r\n", "\n"))
}

/// What our plugin would have written for this event; `None` for the events it has no hook
/// for (runner_on_start, verbose output, notify, async polls, keepalives, …).
pub fn to_callback(event: &JobEvent) -> Option<CallbackEvent> {
    let data = &event.event_data;
    Some(match event.event.as_str() {
        "playbook_on_start" => CallbackEvent::PlaybookStart {
            playbook: basename(data.playbook.as_deref().unwrap_or("")).to_string(),
        },
        "playbook_on_play_start" => CallbackEvent::PlayStart {
            play: data
                .name
                .clone()
                .or_else(|| data.play.clone())
                .unwrap_or_default(),
        },
        "playbook_on_task_start" => CallbackEvent::TaskStart {
            task: data.name.clone().unwrap_or_else(|| task_name(data)),
            handler: data.is_conditional == Some(true),
        },
        "runner_on_ok" => {
            let changed = msg::truthy(data.res.as_ref().and_then(|res| res.get("changed")));
            let status = if changed {
                ResultStatus::Changed
            } else {
                ResultStatus::Ok
            };
            host_result(data, status, false)
        }
        "runner_on_failed" => {
            host_result(data, ResultStatus::Failed, data.ignore_errors == Some(true))
        }
        "runner_on_skipped" => host_result(data, ResultStatus::Skipped, false),
        "runner_on_unreachable" => host_result(data, ResultStatus::Unreachable, false),
        // The plugin writes these too, as events the transcript does not fold (`Other`).
        "runner_item_on_ok"
        | "runner_item_on_failed"
        | "runner_item_on_skipped"
        | "runner_retry"
        | "playbook_on_no_hosts_matched"
        | "playbook_on_no_hosts_remaining" => CallbackEvent::Other,
        "playbook_on_stats" => CallbackEvent::Stats { hosts: stats(data) },
        _ => return None,
    })
}

/// The event's part of the run's log (ansible's human output, LF line ends); the caller ends
/// each part with a newline, as runner's own `stdout` artifact does.
pub fn log_text(event: &JobEvent) -> Option<&str> {
    (!event.stdout.is_empty()).then_some(event.stdout.as_str())
}

fn host_result(data: &EventData, status: ResultStatus, ignored: bool) -> CallbackEvent {
    CallbackEvent::HostResult {
        host: data.host.clone().unwrap_or_default(),
        task: task_name(data),
        status,
        ignored,
        // runner sends no result with a skip; the plugin's message for one is empty too
        // unless the module said something.
        msg: data.res.as_ref().map(msg::short_msg).unwrap_or_default(),
    }
}

/// ansible's `Task.get_name()`, which our plugin reports: a role's task is "role : task".
fn task_name(data: &EventData) -> String {
    let task = data.task.clone().unwrap_or_default();
    match data.resolved_role.as_deref().or(data.role.as_deref()) {
        Some(role) if !role.is_empty() => format!("{role} : {task}"),
        _ => task,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn stats(maps: &EventData) -> BTreeMap<String, StatsCounts> {
    let of = |map: &BTreeMap<String, u32>, host: &str| map.get(host).copied().unwrap_or(0);
    maps.processed
        .keys()
        .map(|host| {
            let counts = StatsCounts {
                ok: of(&maps.ok, host),
                changed: of(&maps.changed, host),
                failures: of(&maps.failures, host),
                unreachable: of(&maps.dark, host),
                skipped: of(&maps.skipped, host),
                rescued: of(&maps.rescued, host),
                ignored: of(&maps.ignored, host),
            };
            (host.clone(), counts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> JobEvent {
        serde_json::from_str(json).expect("a job event")
    }

    #[test]
    fn a_role_task_is_named_as_ansible_names_it() {
        let failed = event(
            r#"{"event": "runner_on_failed", "event_data": {"host": "web-01", "task": "Install",
                "role": "web", "resolved_role": "acme.site.web", "res": {"msg": "no"}}}"#,
        );
        assert_eq!(
            to_callback(&failed),
            Some(CallbackEvent::HostResult {
                host: "web-01".into(),
                task: "acme.site.web : Install".into(),
                status: ResultStatus::Failed,
                ignored: false,
                msg: "no".into(),
            })
        );
    }

    #[test]
    fn a_handler_start_is_a_task_start_marked_as_handler() {
        let start = event(
            r#"{"event": "playbook_on_task_start", "event_data": {"task": "Reload",
                "name": "Reload", "is_conditional": true}}"#,
        );
        assert_eq!(
            to_callback(&start),
            Some(CallbackEvent::TaskStart {
                task: "Reload".into(),
                handler: true
            })
        );
    }

    #[test]
    fn odd_field_types_are_read_as_absent_and_crlf_becomes_lf() {
        let odd = event(
            r#"{"event": "runner_on_ok", "counter": "x", "stdout": "a\r\nb",
                "event_data": {"host": 7, "ok": [1], "res": {"changed": 1}}}"#,
        );
        assert_eq!(odd.counter, None);
        assert_eq!(odd.event_data.host, None);
        assert_eq!(log_text(&odd), Some("a\nb"));
        assert!(matches!(
            to_callback(&odd),
            Some(CallbackEvent::HostResult {
                status: ResultStatus::Changed,
                ..
            })
        ));
    }

    #[test]
    fn events_without_a_plugin_hook_map_to_nothing() {
        for name in [
            "runner_on_start",
            "verbose",
            "playbook_on_notify",
            "keepalive",
        ] {
            let event = event(&format!(r#"{{"event": "{name}", "stdout": ""}}"#));
            assert_eq!(to_callback(&event), None, "{name}");
            assert_eq!(log_text(&event), None, "{name}");
        }
    }
}
