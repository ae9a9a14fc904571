//! What keys do: in normal mode a key becomes an `Action` through the key table, and an action
//! becomes engine commands and UI effects; in a mode the mode answers and its reply is applied
//! here. Pure: no terminal, no clock, no I/O.

use super::app::{App, PAGE, Pane};
use super::command_line::CommandLine;
use super::dialogs::{Dialog, EnqueueForm};
use super::filter::FilterInput;
use super::help::Help;
use super::keymap::{self, Action};
use super::matrix_view::MatrixView;
use super::mode::{self, Context, Effect, Mode, Reply, Request};
use super::timeline_view::TimelineView;
use super::viewer::Viewer;
use super::{commands, rollouts};
use crate::engine::model::{Action as Job, ItemId};
use crate::engine::{Command, ShutdownMode, StopMode, Target};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.notice = None;
        // Ctrl-C always reaches quit, even where keys are text (filter, dialog fields, search):
        // whatever is open closes, then it quits the way `q` does (asking while runs are in
        // flight).
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            self.mode = Mode::Normal;
            return self.act(Action::Quit);
        }
        let cx = Context {
            servers: &self.servers,
            filter: &self.filter,
            timeline: &self.timeline,
            now: self.clock,
            width: self.screen.0,
            height: self.screen.1,
        };
        if let Some(mode) = self.mode.keys() {
            let reply = mode::press(mode, &key, &cx);
            return self.answer(reply);
        }
        match keymap::lookup(keymap::NORMAL, self.focus.scope(), &key) {
            Some(binding) => self.act(binding.action),
            None => Vec::new(),
        }
    }

    /// Applies a mode's reply: the one place a mode's answer changes the dashboard.
    pub fn answer(&mut self, reply: Reply) -> Vec<Effect> {
        let effects = self.apply_reply(reply);
        // Back on the panes: a become password question that waited comes now.
        self.ask_waiting_become();
        effects
    }

    fn apply_reply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::Stay => Vec::new(),
            Reply::Say(notice) => {
                self.notice = Some(notice);
                Vec::new()
            }
            Reply::Effects(effects) => effects,
            Reply::Live(request) => self.carry_out(request),
            Reply::Close => {
                self.close_mode();
                Vec::new()
            }
            Reply::CloseSaying(notice) => {
                self.close_mode();
                self.notice = Some(notice);
                Vec::new()
            }
            Reply::Done { notice, effects } => {
                self.mode = Mode::Normal;
                self.notice = Some(notice);
                effects
            }
            Reply::Request(request) => {
                self.mode = Mode::Normal;
                self.carry_out(request)
            }
        }
    }

    /// Back to the panes, or, leaving a log opened from a view, back to that view.
    fn close_mode(&mut self) {
        self.mode = match (&self.mode, self.behind_viewer.take()) {
            (Mode::Viewer(_), Some(view)) => view,
            _ => Mode::Normal,
        };
    }

    /// Opens a log in the viewer; a view it was opened from waits behind it.
    pub fn open_viewer(&mut self, viewer: Viewer) {
        let behind = std::mem::replace(&mut self.mode, Mode::Viewer(viewer));
        self.behind_viewer =
            matches!(behind, Mode::Timeline(_) | Mode::Matrix(_)).then_some(behind);
    }

    /// Work done between folding events and drawing: an open matrix catches up with the
    /// timeline once per frame, not once per event.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if let Mode::Matrix(view) = &mut self.mode {
            view.refresh(&self.timeline, &self.servers, now);
        }
    }

    pub(super) fn carry_out(&mut self, request: Request) -> Vec<Effect> {
        match request {
            // The filter is the servers pane's: typed with `/` (which focused it) or `:filter`.
            Request::Filter(text) => {
                self.filter = text;
                self.cursor.insert(Pane::Servers, 0);
                self.focus = Pane::Servers;
                self.say_if_no_match();
                Vec::new()
            }
            Request::Resize(workers) => self.resize(workers),
            Request::Enqueue { request, hidden } => self.request(request, hidden),
            Request::Stop(id, mode) => self.stop(id, mode),
            Request::Quit(mode) => {
                self.quitting = Some(mode);
                vec![Effect::Engine(Command::Shutdown(mode))]
            }
            Request::Command(text) => commands::run(self, &text),
        }
    }

    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            // In the log pane the arrows choose a target (a worker) for `f` and ←/→.
            Action::Up if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::UpKey)];
            }
            Action::Down if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::DownKey)];
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::PrevPageKey)];
            }
            Action::PageDown if self.focus == Pane::Log => {
                return vec![Effect::Log(tui_logger::TuiWidgetEvent::NextPageKey)];
            }
            Action::PageUp => self.move_cursor(-(PAGE as isize)),
            Action::PageDown => self.move_cursor(PAGE as isize),
            Action::Top => self.move_cursor(isize::MIN / 2),
            Action::Bottom => self.move_cursor(isize::MAX / 2),
            Action::NextPane => self.focus = self.focus.step(1),
            Action::PrevPane => self.focus = self.focus.step(-1),
            Action::Filter => {
                self.focus = Pane::Servers;
                self.mode = Mode::Filter(FilterInput);
            }
            Action::Back => {
                self.back();
                // In the log pane Esc also leaves the widget's page mode.
                if self.focus == Pane::Log {
                    return vec![Effect::Log(tui_logger::TuiWidgetEvent::EscapeKey)];
                }
            }
            Action::ToggleSelect => {
                if let Some(server) = self.cursor_server() {
                    let verb = if self.selected.remove(&server) {
                        "unselected"
                    } else {
                        self.selected.insert(server.clone());
                        "selected"
                    };
                    self.notice = Some(format!(
                        "{verb} {server} ({} selected)",
                        self.selected.len()
                    ));
                }
            }
            Action::SelectAll => self.select_all_visible(),
            Action::SelectGroup => {
                let group = self
                    .visible_servers()
                    .get(self.cursor(Pane::Servers))
                    .and_then(|row| row.groups.first().cloned());
                if let Some(group) = group {
                    let members: Vec<String> = self
                        .servers
                        .iter()
                        .filter(|r| r.groups.contains(&group))
                        .map(|r| r.name.clone())
                        .collect();
                    self.notice = Some(format!(
                        "selected group {group} ({} servers)",
                        members.len()
                    ));
                    self.selected.extend(members);
                }
            }
            Action::Provision => {
                return self.enqueue(Target::Action(Job::Provision), None, false, 0);
            }
            Action::Deploy => return self.enqueue(Target::Action(Job::Deploy), None, false, 0),
            Action::Check => return self.enqueue(Target::Action(Job::Check), None, false, 0),
            Action::Chain => return self.enqueue(Target::Chain, None, false, 0),
            Action::EnqueueWithOptions => {
                if !self.targets().is_empty() {
                    let form = EnqueueForm::new(self.targets(), self.hidden_selected());
                    self.mode = Mode::Dialog(Dialog::Enqueue(form));
                }
            }
            // Sequential (0) already runs one at a time: one more worker makes two.
            Action::WorkersUp => return self.resize(self.workers_target().max(1) + 1),
            Action::WorkersDown => return self.resize(self.workers_target().saturating_sub(1)),
            Action::SetWorkers => self.mode = Mode::Dialog(Dialog::Workers(String::new())),
            Action::Cancel => return self.cancel(),
            Action::RaisePriority => return self.reprioritise(1),
            Action::LowerPriority => return self.reprioritise(-1),
            Action::TogglePause => {
                // Holding an earlier session's items: P runs them, after asking. Paused: P
                // resumes. Otherwise P pauses.
                if self.held_count() > 0 {
                    return self.resume_held();
                }
                let command = if self.snapshot.paused.is_some() {
                    self.notice = Some("resumed".into());
                    Command::Resume { release_held: true }
                } else {
                    self.notice = Some("paused: running runs finish, nothing new starts".into());
                    Command::Pause
                };
                return vec![Effect::Engine(command)];
            }
            Action::Retry => return self.retry(),
            Action::DiscardHeld => return self.discard_held(),
            Action::ContinueRollout => return rollouts::continue_rollout(self),
            Action::AbortRollout => return rollouts::abort_rollout(self),
            Action::ReloadInventory => {
                self.notice = Some("reading the inventory again…".into());
                return vec![Effect::ReloadInventory];
            }
            Action::CommandLine => self.mode = Mode::Command(CommandLine::default()),
            Action::Open => return self.open_log(),
            Action::Details => self.details = !self.details,
            Action::Help => self.mode = Mode::Help(Help::default()),
            Action::Timeline => {
                self.mode = Mode::Timeline(TimelineView::fitted(
                    self.zone,
                    &self.timeline,
                    self.clock,
                    self.screen.0,
                ))
            }
            Action::Matrix => {
                let mut view = MatrixView::new();
                view.refresh(&self.timeline, &self.servers, self.clock);
                self.mode = Mode::Matrix(Box::new(view));
            }
            Action::Quit => {
                if self.snapshot.active > 0 {
                    self.mode = Mode::Dialog(Dialog::Quit);
                } else {
                    self.quitting = Some(ShutdownMode::Wait);
                    return vec![Effect::Engine(Command::Shutdown(ShutdownMode::Wait))];
                }
            }
            Action::LogMore => return vec![Effect::Log(tui_logger::TuiWidgetEvent::RightKey)],
            Action::LogLess => return vec![Effect::Log(tui_logger::TuiWidgetEvent::LeftKey)],
            Action::LogTargets => return vec![Effect::Log(tui_logger::TuiWidgetEvent::HideKey)],
            Action::LogFocus => return vec![Effect::Log(tui_logger::TuiWidgetEvent::FocusKey)],
        }
        Vec::new()
    }

    fn move_cursor(&mut self, by: isize) {
        if self.focus == Pane::Log {
            return;
        }
        let len = self.pane_len(self.focus);
        let current = self.cursor(self.focus) as isize;
        let next = (current.saturating_add(by)).clamp(0, len.saturating_sub(1) as isize) as usize;
        self.cursor.insert(self.focus, next);
    }

    /// The target the engine has, or will have once it reads the last request.
    pub fn workers_target(&self) -> u32 {
        self.requested_workers
            .unwrap_or(self.snapshot.target_workers)
    }

    pub(super) fn resize(&mut self, asked: u32) -> Vec<Effect> {
        let to = asked.min(crate::engine::MAX_WORKERS);
        self.requested_workers = Some(to);
        self.notice = Some(if to < asked {
            format!("workers → {to} (the most fleetdeck runs at once; {asked} asked)")
        } else {
            format!("workers → {to}")
        });
        vec![Effect::Engine(Command::SetWorkers(to))]
    }

    fn cancel(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Queue => self.cancel_queued(),
            Pane::Workers => {
                let worker = self.snapshot.workers.get(self.cursor(Pane::Workers));
                if let Some(run) = worker.and_then(|w| w.run.as_ref()) {
                    let slot = worker.map(|w| w.slot).unwrap_or(0);
                    // A remote run is stopped through its node's guard: the operator sees where.
                    let label = match &run.node {
                        Some(node) => format!("{} · on {node}", run.item.describe()),
                        None => run.item.describe(),
                    };
                    self.mode = Mode::Dialog(Dialog::StopRun {
                        id: run.item.id,
                        slot,
                        label,
                    });
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn reprioritise(&mut self, by: i32) -> Vec<Effect> {
        let Some(item) = self.snapshot.queue.nth(self.cursor(Pane::Queue)) else {
            return Vec::new();
        };
        let priority = item.priority.saturating_add(by);
        let chain = if self.chain_links(item.id).len() > 1 {
            " with its chain"
        } else {
            ""
        };
        self.notice = Some(format!(
            "{} on {} (#{}){chain} → priority {priority:+}",
            item.action, item.server, item.id
        ));
        self.follow_queued = Some((item.id, priority));
        vec![Effect::Engine(Command::SetPriority {
            id: item.id,
            priority,
        })]
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

    /// Stop mode chosen in the stop dialog.
    pub fn stop(&mut self, id: ItemId, mode: StopMode) -> Vec<Effect> {
        let (command, verb) = match mode {
            StopMode::Graceful => (Command::Cancel(id), "interrupting"),
            StopMode::Kill => (Command::Kill(id), "killing"),
        };
        let run = self
            .snapshot
            .workers
            .iter()
            .filter_map(|w| Some((w.slot, w.run.as_ref()?)))
            .find(|(_, run)| run.item.id == id);
        let Some((slot, run)) = run else {
            // Finished while the dialog was open: nothing is sent for a run that is gone.
            self.notice = Some("that run already finished: nothing to stop".into());
            return Vec::new();
        };
        let mut notice = format!(
            "{verb} {} on {} (worker {slot})",
            run.item.action, run.item.server
        );
        let later: Vec<String> = self
            .later_links(id)
            .iter()
            .filter_map(|link| self.snapshot.queue.get(*link))
            .map(|item| format!("{} #{}", item.action, item.id))
            .collect();
        if !later.is_empty() {
            notice.push_str(&format!(
                "; its later links will be skipped: {}",
                later.join(", ")
            ));
        }
        self.notice = Some(notice);
        vec![Effect::Engine(command)]
    }
}
