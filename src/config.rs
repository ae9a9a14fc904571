//! `inventory/<env>/config.yml`: every key honoured, a missing key takes its default, a bad one
//! is an error naming the file, the line, the key and the fix.

use crate::engine::MAX_WORKERS;
use crate::engine::rollout::WindowSize;
use crate::engine::warm::RunnerChoice;
use anyhow::{Result, bail};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Playbooks {
    pub provision: PathBuf,
    pub deploy: PathBuf,
    pub check: PathBuf,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub max_parallel_workers: u32,
    pub inventory: PathBuf,
    pub playbooks: Playbooks,
    pub provisioning_tags: Vec<String>,
    pub deployment_tags: Vec<String>,
    pub action_timeout: Duration,
    pub cancel_grace: Duration,
    pub health_check_enabled: bool,
    pub health_check_timeout: Duration,
    pub health_check_retries: u32,
    pub auto_retry_enabled: bool,
    pub max_retries: u32,
    pub max_fail_percentage: Option<f64>,
    pub provisioning_strategy: ProvisioningStrategy,
    pub deployment_strategy: DeploymentStrategy,
    pub rolling_max_unavailable: WindowSize,
    pub rolling_canary: u32,
    pub ansible_playbook: String,
    pub runner: RunnerChoice,
    pub refresh_interval: Duration,
    pub log_retention_lines: usize,
    /// Ask before a provision / deploy / chain of several servers (the dashboard).
    pub confirm_actions: bool,
    pub execution_nodes: nodes::ExecutionNodes,
    /// Sent with each run on an execution node, for ssh to the managed hosts.
    pub hosts_ssh_key: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_parallel_workers: 0,
            inventory: "hosts.yml".into(),
            playbooks: Playbooks {
                provision: "playbooks/provision.yml".into(),
                deploy: "playbooks/deploy.yml".into(),
                check: "playbooks/check.yml".into(),
            },
            provisioning_tags: Vec::new(),
            deployment_tags: Vec::new(),
            action_timeout: Duration::from_secs(30 * 60),
            cancel_grace: Duration::from_secs(10),
            health_check_enabled: false,
            health_check_timeout: Duration::from_secs(30),
            health_check_retries: 3,
            auto_retry_enabled: false,
            max_retries: 3,
            max_fail_percentage: None,
            provisioning_strategy: ProvisioningStrategy::Parallel,
            deployment_strategy: DeploymentStrategy::AllAtOnce,
            rolling_max_unavailable: WindowSize::Servers(1),
            rolling_canary: 1,
            ansible_playbook: "ansible-playbook".into(),
            runner: RunnerChoice::Warm,
            refresh_interval: Duration::from_secs(1),
            log_retention_lines: 1000,
            confirm_actions: true,
            execution_nodes: nodes::ExecutionNodes::default(),
            hosts_ssh_key: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    max_parallel_workers: Option<i64>,
    inventory: Option<PathBuf>,
    playbooks: Option<RawPlaybooks>,
    provisioning_tags: Option<Tags>,
    deployment_tags: Option<Tags>,
    action_timeout: Option<HumanDuration>,
    cancel_grace: Option<HumanDuration>,
    health_check_enabled: Option<bool>,
    health_check_timeout: Option<HumanDuration>,
    health_check_retries: Option<u32>,
    auto_retry_enabled: Option<bool>,
    max_retries: Option<u32>,
    max_fail_percentage: Option<f64>,
    provisioning_strategy: Option<ProvisioningStrategy>,
    deployment_strategy: Option<DeploymentStrategy>,
    rolling_max_unavailable: Option<RawWindow>,
    rolling_canary: Option<u32>,
    ansible_playbook: Option<String>,
    runner: Option<RunnerChoice>,
    refresh_interval: Option<HumanDuration>,
    log_retention_lines: Option<usize>,
    confirm_actions: Option<bool>,
    execution_nodes: Option<serde_yaml_ng::Value>,
    node_for: Option<serde_yaml_ng::Value>,
    hosts_ssh_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybooks {
    provision: Option<PathBuf>,
    deploy: Option<PathBuf>,
    check: Option<PathBuf>,
}

/// A config and what was wrong with it but could be mended.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

pub fn load(path: &Path) -> Result<Loaded> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                config: Config::default(),
                warnings: Vec::new(),
            });
        }
        Err(err) => bail!("{}: cannot read: {err}", path.display()),
    };
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Loaded> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        match serde_yaml_ng::from_str::<Option<RawConfig>>(text) {
            Ok(raw) => raw.unwrap_or_default(),
            Err(err) => bail!(explain(&err, path, text)),
        }
    };
    let file = path.display();
    let invalid = |key: &str, problem: String| -> anyhow::Error {
        let line = line_of(text, key)
            .map(|n| format!(" line {n}:"))
            .unwrap_or_default();
        anyhow::anyhow!("{file}:{line} `{key}` {problem}\n  fix: {}", fix_for(key))
    };
    let mut warnings = Vec::new();
    let defaults = Config::default();
    let workers = match raw.max_parallel_workers {
        Some(n) if n < 0 => {
            warnings.push(format!(
                "{file}: max_parallel_workers is {n}; using 0 (sequential)"
            ));
            0
        }
        Some(n) if n > i64::from(MAX_WORKERS) => {
            warnings.push(format!(
                "{file}: max_parallel_workers is {n}, more than fleetdeck runs at once; using {MAX_WORKERS}"
            ));
            MAX_WORKERS
        }
        Some(n) => n as u32,
        None => 0,
    };
    if raw.health_check_retries == Some(0) {
        return Err(invalid(
            "health_check_retries",
            "is 0; a health check needs at least one attempt".into(),
        ));
    }
    if let Some(pct) = raw.max_fail_percentage
        && !(0.0..=100.0).contains(&pct)
    {
        return Err(invalid(
            "max_fail_percentage",
            format!("is {pct}, outside 0 to 100"),
        ));
    }
    if raw.deployment_strategy == Some(DeploymentStrategy::BlueGreen) {
        return Err(invalid(
            "deployment_strategy",
            "is blue_green, which fleetdeck does not implement yet; all_at_once and rolling work"
                .into(),
        ));
    }
    let rolling_max_unavailable = match raw.rolling_max_unavailable {
        None => defaults.rolling_max_unavailable,
        Some(RawWindow(window)) => match window {
            WindowSize::Servers(0) => {
                return Err(invalid(
                    "rolling_max_unavailable",
                    "is 0; a rollout that lets no server in would never deploy".into(),
                ));
            }
            WindowSize::Percent(pct) if !(pct > 0.0 && pct <= 100.0) => {
                return Err(invalid(
                    "rolling_max_unavailable",
                    format!("is {pct}%, outside 0% (not included) to 100%"),
                ));
            }
            window => window,
        },
    };
    if raw.log_retention_lines == Some(0) {
        return Err(invalid(
            "log_retention_lines",
            "is 0; keep at least one line".into(),
        ));
    }
    for (key, value) in [
        ("action_timeout", &raw.action_timeout),
        ("cancel_grace", &raw.cancel_grace),
        ("health_check_timeout", &raw.health_check_timeout),
        ("refresh_interval", &raw.refresh_interval),
    ] {
        if value.as_ref().is_some_and(|d| d.0.is_zero()) {
            return Err(invalid(key, "is zero".into()));
        }
    }
    if raw
        .ansible_playbook
        .as_deref()
        .is_some_and(|p| p.trim().is_empty())
    {
        return Err(invalid("ansible_playbook", "is empty".into()));
    }
    let execution_nodes = nodes::parse(
        raw.execution_nodes.as_ref(),
        raw.node_for.as_ref(),
        &invalid,
        &mut |warning| warnings.push(format!("{file}: {warning}")),
    )?;
    let playbooks = raw.playbooks.unwrap_or_default();
    let config = Config {
        max_parallel_workers: workers,
        inventory: raw.inventory.unwrap_or(defaults.inventory),
        playbooks: Playbooks {
            provision: playbooks.provision.unwrap_or(defaults.playbooks.provision),
            deploy: playbooks.deploy.unwrap_or(defaults.playbooks.deploy),
            check: playbooks.check.unwrap_or(defaults.playbooks.check),
        },
        provisioning_tags: raw
            .provisioning_tags
            .map_or(defaults.provisioning_tags, |t| t.0),
        deployment_tags: raw
            .deployment_tags
            .map_or(defaults.deployment_tags, |t| t.0),
        action_timeout: raw.action_timeout.map_or(defaults.action_timeout, |d| d.0),
        cancel_grace: raw.cancel_grace.map_or(defaults.cancel_grace, |d| d.0),
        health_check_enabled: raw
            .health_check_enabled
            .unwrap_or(defaults.health_check_enabled),
        health_check_timeout: raw
            .health_check_timeout
            .map_or(defaults.health_check_timeout, |d| d.0),
        health_check_retries: raw
            .health_check_retries
            .unwrap_or(defaults.health_check_retries),
        auto_retry_enabled: raw
            .auto_retry_enabled
            .unwrap_or(defaults.auto_retry_enabled),
        max_retries: raw.max_retries.unwrap_or(defaults.max_retries),
        max_fail_percentage: raw.max_fail_percentage,
        provisioning_strategy: raw
            .provisioning_strategy
            .unwrap_or(defaults.provisioning_strategy),
        deployment_strategy: raw
            .deployment_strategy
            .unwrap_or(defaults.deployment_strategy),
        rolling_max_unavailable,
        rolling_canary: raw.rolling_canary.unwrap_or(defaults.rolling_canary),
        ansible_playbook: raw.ansible_playbook.unwrap_or(defaults.ansible_playbook),
        runner: raw.runner.unwrap_or(defaults.runner),
        refresh_interval: raw
            .refresh_interval
            .map_or(defaults.refresh_interval, |d| d.0),
        log_retention_lines: raw
            .log_retention_lines
            .unwrap_or(defaults.log_retention_lines),
        confirm_actions: raw.confirm_actions.unwrap_or(defaults.confirm_actions),
        execution_nodes,
        hosts_ssh_key: raw.hosts_ssh_key,
    };
    Ok(Loaded { config, warnings })
}

/// Turns a YAML or type error into: file, line, key, problem, and the fix.
fn explain(err: &serde_yaml_ng::Error, path: &Path, text: &str) -> String {
    let message = err.to_string();
    // The location is printed by us, once, in front.
    let message = match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    let line = err.location().map(|l| l.line());
    let head = match line {
        Some(line) => format!("{}: line {line}:", path.display()),
        None => format!("{}:", path.display()),
    };
    if let Some(unknown) = message
        .split("unknown field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        let line = line
            .or_else(|| line_of(text, unknown))
            .map(|n| format!(" line {n}:"))
            .unwrap_or_default();
        let suggestion = suggest(unknown)
            .map(|key| format!("did you mean `{key}`? "))
            .unwrap_or_default();
        let valid = if message.contains("`provision`") {
            "provision, deploy, check".to_string()
        } else {
            KEYS.iter()
                .map(|(key, _, _)| *key)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return format!(
            "{}:{line} unknown key `{unknown}`\n  fix: {suggestion}valid keys: {valid}",
            path.display()
        );
    }
    let key = message
        .split(':')
        .next()
        .filter(|k| KEYS.iter().any(|(key, _, _)| key == k));
    match key {
        Some(key) => format!(
            "{head} `{key}`: {}\n  fix: {}",
            message[key.len() + 1..].trim(),
            fix_for(key)
        ),
        None => format!(
            "{head} {message}\n  fix: valid keys are {}",
            KEYS.iter()
                .map(|(k, _, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The key an operator most likely meant: one holding every word they typed, else the closest.
fn suggest(unknown: &str) -> Option<&'static str> {
    let words: Vec<&str> = unknown.split('_').filter(|w| !w.is_empty()).collect();
    let holding_all = KEYS.iter().map(|(key, _, _)| *key).find(|key| {
        let parts: Vec<&str> = key.split('_').collect();
        words.iter().all(|w| parts.contains(w))
    });
    holding_all.or_else(|| closest(unknown, KEYS.iter().map(|(key, _, _)| *key)))
}

/// The known word a typo most likely meant, if one is close enough.
fn closest(unknown: &str, known: impl IntoIterator<Item = &'static str>) -> Option<&'static str> {
    known
        .into_iter()
        .map(|key| (strsim::jaro_winkler(unknown, key), key))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, key)| key)
}

fn fix_for(key: &str) -> String {
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, what, example)| format!("{key} takes {what}, e.g. `{example}`"))
        .unwrap_or_default()
}

/// The first line that sets `key`, 1-based.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let prefix = format!("{key}:");
    text.lines()
        .position(|line| line.trim_start().starts_with(&prefix))
        .map(|i| i + 1)
}

/// A duration written with a unit: `30s`, `10m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HumanDuration(Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, like 30s or 10m")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(value.trim())
                    .map(HumanDuration)
                    .map_err(|err| {
                        E::custom(format!(
                            "`{value}` is not a duration ({err}); write it like 30s or 10m"
                        ))
                    })
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "{value} has no unit; write {value}s or {value}m"
                )))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "{value} has no unit; write it like 30s or 10m"
                )))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "{value} has no unit; write it like 30s or 10m"
                )))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// Tags as a YAML list or a comma-separated string.
#[derive(Debug, Clone, PartialEq)]
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags or a comma-separated string")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Tags, E> {
                Ok(Tags(split_tags(value)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = Vec::new();
                while let Some(tag) = seq.next_element::<String>()? {
                    tags.extend(split_tags(&tag));
                }
                Ok(Tags(tags))
            }
        }
        deserializer.deserialize_any(TagsVisitor)
    }
}

pub fn split_tags(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

mod keys;
pub mod nodes;
mod strategy;
pub use keys::KEYS;
use strategy::RawWindow;
pub use strategy::{DeploymentStrategy, ProvisioningStrategy};

#[cfg(test)]
mod tests;
