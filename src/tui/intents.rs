//! What an operator's action aims at, and how it answers: the servers it applies to, the
//! confirmation when that is more than one server or includes servers the filter hides, and the
//! footer line naming what was done. Pure: no terminal, no clock, no I/O.

use super::app::{App, Pane};
use super::dialogs::{Confirm, Dialog};
use super::mode::{Effect, Mode};
use crate::engine::model::{Action as Job, Item, ItemId};
use crate::engine::rollout::{Phase, RolloutId};
use crate::engine::{Command, EnqueueRequest, Target};
use std::collections::{BTreeMap, BTreeSet};

/// Names shown in a footer or a question before "… +N more".
const NAMES_SHOWN: usize = 4;

impl App {
    /// The servers an action applies to: the selection (hidden ones included: the confirmation
    /// names them), else the cursor server.
    pub(super) fn targets(&self) -> Vec<String> {
        if !self.selected.is_empty() {
            return self.selected.iter().cloned().collect();
        }
        self.cursor_server().into_iter().collect()
    }

    /// Selected servers the filter does not show.
    pub fn hidden_selected(&self) -> Vec<String> {
        let visible: BTreeSet<&str> = self
            .visible_servers()
            .iter()
            .map(|row| row.name.as_str())
            .collect();
        self.selected
            .iter()
            .filter(|server| !visible.contains(server.as_str()))
            .cloned()
            .collect()
    }

    /// Queues `target` on the action's servers, asking first when they include servers the
    /// filter hides (always) or when a provision / deploy / chain reaches several servers
    /// (unless `confirm_actions: false`).
    pub fn enqueue(
        &mut self,
        target: Target,
        tags: Option<Vec<String>>,
        check_mode: bool,
        priority: i32,
    ) -> Vec<Effect> {
        let servers = self.targets();
        let hidden = self.hidden_selected();
        self.request(
            EnqueueRequest {
                servers,
                target,
                tags,
                check_mode,
                priority,
            },
            hidden,
        )
    }

    /// Sends `request`, or asks first; `hidden` are its servers the operator cannot see.
    pub(super) fn request(&mut self, request: EnqueueRequest, hidden: Vec<String>) -> Vec<Effect> {
        if request.servers.is_empty() {
            self.notice = Some("no server: select some with Space, a or g".into());
            return Vec::new();
        }
        let jobs = request.target.actions();
        if let Some(job) = jobs.iter().find(|job| self.unusable.contains_key(job)) {
            self.notice = Some(format!(
                "nothing queued: the {job} playbook cannot run (the log pane says why)"
            ));
            return Vec::new();
        }
        let what = target_word(request.target, request.check_mode);
        // All of it pending already: nothing to ask about (a rollout question would promise a
        // rollout that will not begin).
        let pending = |server: &String| self.already_pending(&request, server);
        if hidden.is_empty() && request.servers.iter().all(pending) {
            self.notice = Some(self.queued_notice(&what, &request));
            return Vec::new();
        }
        let many = request.servers.len() > 1 && request.target != Target::Action(Job::Check);
        if hidden.is_empty() && !(many && self.confirm_actions) {
            return self.send_request(request);
        }
        let count = request.servers.len();
        let mut question = format!("{what} {count} server{}", plural(count));
        let rolling = self.rollout_plan(&request);
        if let Some(plan) = &rolling {
            question.push_str(&format!(" as a rolling deploy: {plan}"));
        }
        if !hidden.is_empty() {
            question.push_str(&format!(
                "{} {} hidden by the filter: {}",
                if rolling.is_some() { ";" } else { "," },
                hidden.len(),
                names(&hidden)
            ));
        }
        question.push('?');
        let notice = self.queued_notice(&what, &request);
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question,
            label: "servers",
            items: request.servers.clone(),
            then: vec![Command::Enqueue(request)],
            notice,
        }));
        Vec::new()
    }

    fn send_request(&mut self, request: EnqueueRequest) -> Vec<Effect> {
        let what = target_word(request.target, request.check_mode);
        self.notice = Some(self.queued_notice(&what, &request));
        vec![Effect::Engine(Command::Enqueue(request))]
    }

    /// "canary db-01 first, then 2 at a time": how the engine will roll `request` out, or
    /// `None` when it goes all at once (no rolling strategy, one server, a dry run, no deploy).
    fn rollout_plan(&self, request: &EnqueueRequest) -> Option<String> {
        let rolling = self.policy.as_ref()?.rolling?;
        let deploys = matches!(request.target, Target::Action(Job::Deploy) | Target::Chain);
        let count = request.servers.len();
        if !deploys || request.check_mode || count < 2 {
            return None;
        }
        let window = rolling.max_unavailable.resolve(count);
        let canaries = &request.servers[..(rolling.canary as usize).min(count)];
        Some(match canaries {
            [] => format!("no canary, {window} at a time"),
            [canary] => format!("canary {canary} first, then {window} at a time"),
            _ => format!(
                "canaries {} first, then {window} at a time",
                names(canaries)
            ),
        })
    }

    /// What the footer says once `request` is sent: the servers it queued work on, and those
    /// whose same work was already pending (the engine merges those into the pending items,
    /// so naming them as queued would claim work that was not added).
    fn queued_notice(&self, what: &str, request: &EnqueueRequest) -> String {
        let (pending, queued): (Vec<String>, Vec<String>) = request
            .servers
            .iter()
            .cloned()
            .partition(|server| self.already_pending(request, server));
        match (queued.is_empty(), pending.is_empty()) {
            (_, true) => format!("queued {what} on {}", names(&queued)),
            (true, false) => format!(
                "nothing queued: {} already had {what} pending",
                names(&pending)
            ),
            (false, false) => format!(
                "queued {what} on {}; {} already had it pending",
                names(&queued),
                names(&pending)
            ),
        }
    }

    /// Whether the engine will find every item `request` asks of `server` already pending,
    /// as `Queue::push` decides it: an item of the latest snapshot, not held, doing the same
    /// work (`Item::same_work`). A chain's later link is the same work only after the pending
    /// earlier one, so a chain counts as pending only when each of its links is.
    fn already_pending(&self, request: &EnqueueRequest, server: &str) -> bool {
        let mut previous: Option<ItemId> = None;
        for &job in request.target.actions() {
            let tags = match &request.tags {
                Some(tags) => tags.clone(),
                None => self
                    .policy
                    .as_ref()
                    .map(|policy| policy.default_tags(job))
                    .unwrap_or_default(),
            };
            let mut wanted = Item::requested(0, server, job, self.snapshot.at);
            wanted.tags = tags;
            wanted.check_mode = request.check_mode;
            wanted.after = previous;
            let Some(pending) = self
                .snapshot
                .queue
                .of_server(server)
                .find(|item| !item.held && item.same_work(&wanted))
            else {
                return false;
            };
            previous = Some(pending.id);
        }
        true
    }

    /// `a`: selects every visible server, or (when all of them are) unselects those, leaving
    /// selections the filter hides alone.
    pub(super) fn select_all_visible(&mut self) {
        let visible: Vec<String> = self
            .visible_servers()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        if visible.is_empty() {
            self.notice = Some("no server shown to select".into());
        } else if visible.iter().all(|s| self.selected.contains(s)) {
            for server in &visible {
                self.selected.remove(server);
            }
            let kept = self.selected.len();
            self.notice = Some(if kept == 0 {
                format!(
                    "unselected {} server{}",
                    visible.len(),
                    plural(visible.len())
                )
            } else {
                format!(
                    "unselected {} shown server{}; {kept} hidden by the filter stay selected",
                    visible.len(),
                    plural(visible.len())
                )
            });
        } else {
            self.selected.extend(visible);
            self.notice = Some(format!(
                "{} server{} selected",
                self.selected.len(),
                plural(self.selected.len())
            ));
        }
    }

    /// Esc: closes the details, then clears the filter, then the selection, saying what went.
    pub(super) fn back(&mut self) {
        if self.details {
            self.details = false;
        } else if !self.filter.is_empty() {
            self.filter.clear();
            self.notice = Some(if self.selected.is_empty() {
                "filter cleared".to_string()
            } else {
                format!(
                    "filter cleared; {} server{} still selected (Esc again clears)",
                    self.selected.len(),
                    plural(self.selected.len())
                )
            });
        } else if !self.selected.is_empty() {
            let count = self.selected.len();
            self.selected.clear();
            self.notice = Some(format!(
                "selection of {count} server{} cleared",
                plural(count)
            ));
        }
    }

    /// `r`: requeues the latest failed or interrupted runs the journal records (this session's
    /// and earlier ones') of the selection, else of the servers shown; asks like an action
    /// does when that reaches hidden servers or re-runs changes on several.
    pub(super) fn retry(&mut self) -> Vec<Effect> {
        let (scope, hidden, among) = if self.selected.is_empty() {
            let shown: Vec<String> = self
                .visible_servers()
                .iter()
                .map(|row| row.name.clone())
                .collect();
            let among = if self.filter.is_empty() {
                "no server's latest run failed"
            } else {
                "no failed run among the servers shown"
            };
            (shown, Vec::new(), among)
        } else {
            let selected = self.selected.iter().cloned().collect();
            (
                selected,
                self.hidden_selected(),
                "no failed run among the selection",
            )
        };
        let failing: Vec<(String, Job)> = scope
            .iter()
            .filter_map(|server| Some((server, self.status.get(server)?)))
            .flat_map(|(server, runs)| {
                runs.iter()
                    .filter(|(_, last)| last.outcome.went_wrong())
                    .map(move |(job, _)| (server.clone(), *job))
            })
            .collect();
        if failing.is_empty() {
            self.notice = Some(format!("nothing to retry: {among}"));
            return Vec::new();
        }
        let mut servers: Vec<String> = failing.iter().map(|(s, _)| s.clone()).collect();
        servers.dedup();
        let hidden: Vec<String> = hidden
            .into_iter()
            .filter(|server| servers.contains(server))
            .collect();
        let runs: Vec<String> = failing
            .iter()
            .map(|(server, job)| format!("{job} on {server}"))
            .collect();
        let command = Command::RetryFailed {
            servers: Some(servers.clone()),
        };
        let notice = format!("retrying {}", names(&runs));
        let changes = failing.iter().any(|(_, job)| *job != Job::Check);
        if hidden.is_empty() && !(servers.len() > 1 && changes && self.confirm_actions) {
            self.notice = Some(notice);
            return vec![Effect::Engine(command)];
        }
        let mut question = format!("retry {} run{}", runs.len(), plural(runs.len()));
        if !hidden.is_empty() {
            question.push_str(&format!(
                ", on {} server{} hidden by the filter: {}",
                hidden.len(),
                plural(hidden.len()),
                names(&hidden)
            ));
        }
        question.push('?');
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question,
            label: "runs",
            items: runs,
            then: vec![command],
            notice,
        }));
        Vec::new()
    }

    /// `x` in the queue: a chain link takes its later links with it, so that is asked first.
    pub(super) fn cancel_queued(&mut self) -> Vec<Effect> {
        let Some(item) = self.snapshot.queue.nth(self.cursor(Pane::Queue)) else {
            return Vec::new();
        };
        let label = format!("{} on {} (#{})", item.action, item.server, item.id);
        let later = self.later_links(item.id);
        let command = Command::Cancel(item.id);
        if later.is_empty() {
            self.notice = Some(format!("cancelled {label}"));
            return vec![Effect::Engine(command)];
        }
        let links: Vec<String> = later
            .iter()
            .filter_map(|id| self.snapshot.queue.get(*id))
            .map(|item| format!("{} #{}", item.action, item.id))
            .collect();
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question: format!(
                "cancel {label}? Its later link{} will be skipped: {}",
                plural(links.len()),
                links.join(", ")
            ),
            label: "",
            items: Vec::new(),
            then: vec![command],
            notice: format!("cancelled {label}; skipped {}", links.join(", ")),
        }));
        Vec::new()
    }

    /// Queued items that wait, directly or through others, for `id`.
    pub(super) fn later_links(&self, id: ItemId) -> Vec<ItemId> {
        self.snapshot.queue.later_links(id)
    }

    /// The pending links of `id`'s chain, first to last (the engine moves them as one).
    pub(super) fn chain_links(&self, id: ItemId) -> Vec<ItemId> {
        let queue = &self.snapshot.queue;
        let mut root = id;
        while let Some(previous) = queue
            .get(root)
            .and_then(|item| item.after)
            .filter(|p| queue.get(*p).is_some())
        {
            root = previous;
        }
        let mut chain = vec![root];
        chain.extend(self.later_links(root));
        chain
    }

    /// Items an earlier session left, waiting for the operator.
    pub fn held_count(&self) -> usize {
        self.snapshot.queue.held_count()
    }

    /// "provision on web-03", … for each held item, in queue order.
    fn held_items(&self) -> Vec<String> {
        self.snapshot
            .queue
            .iter()
            .filter(|item| item.held)
            .map(|item| format!("{} on {}", item.action, item.server))
            .collect()
    }

    /// `P` while items from an earlier session are held: they run only after the operator has
    /// seen what they are.
    pub(super) fn resume_held(&mut self) -> Vec<Effect> {
        let held = self.held_count();
        let mut question = format!(
            "run the {held} held item{} from an earlier session?",
            plural(held)
        );
        let mut notice = format!("resumed: {held} held item{} run too", plural(held));
        // Released items of a stopped rollout stay behind its gate: "run too" alone would
        // promise work that waits for C.
        let stopped = self.held_behind_stopped_rollouts();
        if !stopped.is_empty() {
            let behind: usize = stopped.iter().map(|(_, count)| count).sum();
            let all = behind == held;
            let waits: Vec<String> = stopped
                .iter()
                .map(|(name, count)| {
                    let who = match (all && stopped.len() == 1, *count) {
                        (true, 1) => "it waits".to_string(),
                        (true, _) => "they wait".to_string(),
                        (false, 1) => "1 waits".to_string(),
                        (false, n) => format!("{n} wait"),
                    };
                    format!("{who} for stopped rollout {name} (C continues it)")
                })
                .collect();
            let waits = waits.join("; ");
            notice = if all {
                format!("released {held} held item{}, but {waits}", plural(held))
            } else {
                format!(
                    "resumed: {} of the {held} held items run; {waits}",
                    held - behind
                )
            };
            question = format!("{question} {}.", capitalise(&waits));
        }
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question,
            label: "items",
            items: self.held_items(),
            then: vec![Command::Resume { release_held: true }],
            notice,
        }));
        Vec::new()
    }

    /// Held items that a stopped rollout keeps behind its gate even once released, counted by
    /// rollout ("deploy #67", 2), oldest rollout first.
    fn held_behind_stopped_rollouts(&self) -> Vec<(String, usize)> {
        let queue = &self.snapshot.queue;
        let mut counts: BTreeMap<RolloutId, usize> = BTreeMap::new();
        for item in queue.iter().filter(|item| item.held) {
            if let Some(id) = queue.gate_of(item.id)
                && self
                    .snapshot
                    .rollout(id)
                    .is_some_and(|r| matches!(r.phase, Phase::Stopped { .. }))
            {
                *counts.entry(id).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .filter_map(|(id, count)| Some((self.snapshot.rollout(id)?.name(), count)))
            .collect()
    }

    /// `X`: drops every held item, after asking.
    pub(super) fn discard_held(&mut self) -> Vec<Effect> {
        let held = self.held_count();
        if held == 0 {
            self.notice = Some("nothing held: no item waits from an earlier session".into());
            return Vec::new();
        }
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question: format!(
                "discard the {held} held item{} from an earlier session? They will not run.",
                plural(held)
            ),
            label: "items",
            items: self.held_items(),
            then: vec![Command::DiscardHeld],
            notice: format!("discarded {held} held item{}", plural(held)),
        }));
        Vec::new()
    }
}

/// "deploy", "chain", "check (check mode)".
pub fn target_word(target: Target, check_mode: bool) -> String {
    let word = match target {
        Target::Action(job) => job.to_string(),
        Target::Chain => "chain".into(),
    };
    if check_mode {
        format!("{word} (check mode)")
    } else {
        word
    }
}

/// "web-01, web-02, web-03, web-04 … +5 more".
pub fn names(all: &[String]) -> String {
    let mut text = all
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > NAMES_SHOWN {
        text.push_str(&format!(" … +{} more", all.len() - NAMES_SHOWN));
    }
    text
}

/// "It waits …": a clause made the start of a sentence.
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
