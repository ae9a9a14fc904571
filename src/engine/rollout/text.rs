//! How a rollout is named and where it is, in the words logs, screens and reports share.

use super::{Phase, Rollout};

impl Rollout {
    /// "deploy #12": how logs and screens name it.
    pub fn name(&self) -> String {
        format!("{} #{}", self.action, self.id)
    }

    /// Where it is, in a few words: `canary web-01`, `window 2/2`, `stopped: db-02 failed`.
    pub fn step_text(&self) -> String {
        let tally = self.tally();
        match &self.phase {
            Phase::Canary => {
                let canaries: Vec<&str> = self
                    .canaries()
                    .into_iter()
                    .map(|m| m.server.as_str())
                    .collect();
                if canaries.is_empty() {
                    "canary".to_string()
                } else {
                    format!("canary {}", canaries.join(", "))
                }
            }
            Phase::Window => format!("window {}/{}", tally.unavailable(), self.rules.window),
            Phase::Stopped { reason } => format!("stopped: {reason}"),
            Phase::Done => "done".to_string(),
            Phase::Aborted => "aborted".to_string(),
        }
    }

    /// `3/9 healthy · 1 deploying · 1 in health check · 1 failed · 5 waiting`
    pub fn progress_text(&self) -> String {
        let tally = self.tally();
        let mut parts = vec![format!("{}/{} healthy", tally.healthy, self.members.len())];
        if tally.deploying > 0 {
            parts.push(format!("{} deploying", tally.deploying));
        }
        if tally.awaiting_health > 0 {
            parts.push(format!("{} in health check", tally.awaiting_health));
        }
        if tally.failed > 0 {
            parts.push(format!("{} failed", tally.failed));
        }
        if tally.dropped > 0 {
            parts.push(format!("{} dropped", tally.dropped));
        }
        if tally.waiting > 0 {
            parts.push(format!("{} waiting", tally.waiting));
        }
        parts.join(" · ")
    }
}
