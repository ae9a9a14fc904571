//! The strategy keys, as the origin tool's config.yml writes them: `provisioning_strategy`,
//! `deployment_strategy` and `rolling_max_unavailable` (a number or a percentage).

use crate::engine::rollout::WindowSize;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningStrategy {
    /// Provisions use the pool like any action.
    Parallel,
    /// One provision at a time, whatever the pool size.
    Sequential,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStrategy {
    AllAtOnce,
    /// A deploy of several servers goes as a rollout: canary, then a sliding window.
    Rolling,
    /// Known from the origin's files; refused with a message until it exists.
    BlueGreen,
}

/// `rolling_max_unavailable`: `2` or `"25%"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RawWindow(pub(super) WindowSize);

impl<'de> Deserialize<'de> for RawWindow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WindowVisitor;
        impl Visitor<'_> for WindowVisitor {
            type Value = RawWindow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of servers, like 2, or a percentage, like 25%")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawWindow, E> {
                u32::try_from(value)
                    .map(|n| RawWindow(WindowSize::Servers(n)))
                    .map_err(|_| E::custom(format!("{value} is too large")))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawWindow, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!(
                        "{value} is negative; write a whole number ≥ 1 or a percentage like 25%"
                    ))),
                }
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<RawWindow, E> {
                Err(E::custom(format!(
                    "{value} is not a whole number; write 2, or a percentage like 25%"
                )))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawWindow, E> {
                let text = value.trim();
                let parsed = match text.strip_suffix('%') {
                    Some(pct) => pct.trim().parse::<f64>().ok().map(WindowSize::Percent),
                    None => text.parse::<u32>().ok().map(WindowSize::Servers),
                };
                parsed.map(RawWindow).ok_or_else(|| {
                    E::custom(format!(
                        "`{value}` is neither a whole number nor a percentage like 25%"
                    ))
                })
            }
        }
        deserializer.deserialize_any(WindowVisitor)
    }
}
