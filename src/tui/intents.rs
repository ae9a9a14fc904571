//! What an operator's action aims at, and how it answers: the servers it applies to, the
//! confirmation when that is more than one server or includes servers the filter hides, and the
//! footer line naming what was done. Pure: no terminal, no clock, no I/O.

use super::app::{App, Effect, Mode, Pane};
use super::dialogs::{Confirm, Dialog};
use crate::engine::model::{Action as Job, ItemId};
use crate::engine::{Command, EnqueueRequest, Target};
use std::collections::BTreeSet;

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
        let what = target_word(request.target, request.check_mode);
        let many = request.servers.len() > 1 && request.target != Target::Action(Job::Check);
        if hidden.is_empty() && !(many && self.confirm_actions) {
            return self.send_request(request);
        }
        let count = request.servers.len();
        let mut question = format!("{what} {count} server{}", plural(count));
        if !hidden.is_empty() {
            question.push_str(&format!(
                ", {} hidden by the filter: {}",
                hidden.len(),
                names(&hidden)
            ));
        }
        question.push('?');
        let notice = queued_notice(&what, &request.servers);
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question,
            servers: request.servers.clone(),
            then: vec![Command::Enqueue(request)],
            notice,
        }));
        Vec::new()
    }

    fn send_request(&mut self, request: EnqueueRequest) -> Vec<Effect> {
        let what = target_word(request.target, request.check_mode);
        self.notice = Some(queued_notice(&what, &request.servers));
        vec![Effect::Engine(Command::Enqueue(request))]
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
            if !self.selected.is_empty() {
                self.notice = Some(format!(
                    "filter cleared; {} server{} still selected (Esc again clears)",
                    self.selected.len(),
                    plural(self.selected.len())
                ));
            }
        } else if !self.selected.is_empty() {
            let count = self.selected.len();
            self.selected.clear();
            self.notice = Some(format!(
                "selection of {count} server{} cleared",
                plural(count)
            ));
        }
    }

    /// `r`: requeues the failures the journal records (this session's and earlier ones'),
    /// of the selection or of every server, and names them.
    pub(super) fn retry(&mut self) -> Vec<Effect> {
        let scope: Option<Vec<String>> =
            (!self.selected.is_empty()).then(|| self.selected.iter().cloned().collect());
        let failing: Vec<String> = self
            .status
            .iter()
            .filter(|(server, _)| scope.as_ref().is_none_or(|s| s.contains(server)))
            .flat_map(|(server, runs)| {
                runs.iter()
                    .filter(|(_, last)| last.outcome.went_wrong())
                    .map(move |(job, _)| format!("{job} on {server}"))
            })
            .collect();
        if failing.is_empty() {
            self.notice = Some(match scope {
                Some(_) => "nothing to retry: no failed run among the selection".into(),
                None => "nothing to retry: no server's latest run failed".into(),
            });
            return Vec::new();
        }
        self.notice = Some(format!("retrying {}", names(&failing)));
        vec![Effect::Engine(Command::RetryFailed { servers: scope })]
    }

    /// `x` in the queue: a chain link takes its later links with it, so that is asked first.
    pub(super) fn cancel_queued(&mut self) -> Vec<Effect> {
        let Some(queued) = self.snapshot.queue.get(self.cursor(Pane::Queue)) else {
            return Vec::new();
        };
        let item = &queued.item;
        let label = format!("{} on {} (#{})", item.action, item.server, item.id);
        let later = self.later_links(item.id);
        let command = Command::Cancel(item.id);
        if later.is_empty() {
            self.notice = Some(format!("cancelled {label}"));
            return vec![Effect::Engine(command)];
        }
        let links: Vec<String> = later
            .iter()
            .filter_map(|id| self.snapshot.queue.iter().find(|q| q.item.id == *id))
            .map(|q| format!("{} #{}", q.item.action, q.item.id))
            .collect();
        self.mode = Mode::Dialog(Dialog::Confirm(Confirm {
            question: format!(
                "cancel {label}? Its later link{} will be skipped: {}",
                plural(links.len()),
                links.join(", ")
            ),
            servers: Vec::new(),
            then: vec![command],
            notice: format!("cancelled {label}; skipped {}", links.join(", ")),
        }));
        Vec::new()
    }

    /// Queued items that wait, directly or through others, for `id`.
    fn later_links(&self, id: ItemId) -> Vec<ItemId> {
        let mut found = vec![id];
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            found.extend(
                self.snapshot
                    .queue
                    .iter()
                    .filter(|q| q.item.after == Some(parent))
                    .map(|q| q.item.id),
            );
            i += 1;
        }
        found.remove(0);
        found
    }

    /// The pending links of `id`'s chain, first to last (the engine moves them as one).
    pub(super) fn chain_links(&self, id: ItemId) -> Vec<ItemId> {
        let find = |id: ItemId| self.snapshot.queue.iter().find(|q| q.item.id == id);
        let mut root = id;
        while let Some(previous) = find(root)
            .and_then(|q| q.item.after)
            .filter(|p| find(*p).is_some())
        {
            root = previous;
        }
        let mut chain = vec![root];
        chain.extend(self.later_links(root));
        chain
    }

    /// Items an earlier session left, waiting for the operator.
    pub fn held_count(&self) -> usize {
        self.snapshot.queue.iter().filter(|q| q.item.held).count()
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
            servers: Vec::new(),
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

fn queued_notice(what: &str, servers: &[String]) -> String {
    format!("queued {what} on {}", names(servers))
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

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
