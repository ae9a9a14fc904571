//! Small modal dialogs: queue with options, set workers, stop a run, quit. Each has a key table
//! that both handles its keys and is shown in it.

use super::app::{App, Effect, Mode};
use super::keymap::{Key, label, normalise};
use crate::config::split_tags;
use crate::engine::model::{Action as Job, ItemId, Slot};
use crate::engine::{Command, EnqueueRequest, ShutdownMode, StopMode, Target};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    Enqueue(EnqueueForm),
    /// The number being typed.
    Workers(String),
    StopRun {
        id: ItemId,
        slot: Slot,
        label: String,
    },
    Quit,
    /// A question before an action that reaches further than the screen shows.
    Confirm(Confirm),
    /// The become (sudo) password, typed masked, for the rest of the session; the servers
    /// whose runs failed for want of it are retried.
    BecomePassword {
        typed: String,
        servers: Vec<String>,
    },
}

/// "deploy 7 servers, 5 hidden by the filter: …?": `y` sends `then`, Esc sends nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub question: String,
    /// What the list under the question holds: "servers", "runs", "items".
    pub label: &'static str,
    /// Every server (or run, or item) the action reaches, listed under the question.
    pub items: Vec<String>,
    pub then: Vec<Command>,
    /// The footer's answer once it is done.
    pub notice: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Action,
    Tags,
    CheckMode,
    Priority,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnqueueForm {
    pub servers: Vec<String>,
    /// Of those, the ones the filter hid when the form opened.
    pub hidden: Vec<String>,
    pub target: Target,
    pub tags: String,
    pub check_mode: bool,
    pub priority: String,
    pub field: Field,
}

impl EnqueueForm {
    pub fn new(servers: Vec<String>, hidden: Vec<String>) -> EnqueueForm {
        EnqueueForm {
            servers,
            hidden,
            target: Target::Action(Job::Deploy),
            tags: String::new(),
            check_mode: false,
            priority: "0".into(),
            field: Field::Action,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogAction {
    Confirm,
    Close,
    NextField,
    PrevField,
    Toggle,
    Interrupt,
    Kill,
    Wait,
    CancelRuns,
    Yes,
}

const fn k(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

pub type DialogKeys = &'static [(Key, DialogAction, &'static str)];

pub const ENQUEUE_KEYS: DialogKeys = &[
    (k(KeyCode::Tab), DialogAction::NextField, "next field"),
    (
        k(KeyCode::BackTab),
        DialogAction::PrevField,
        "previous field",
    ),
    (
        k(KeyCode::Char(' ')),
        DialogAction::Toggle,
        "change action / check mode",
    ),
    (k(KeyCode::Enter), DialogAction::Confirm, "queue"),
    (k(KeyCode::Esc), DialogAction::Close, "cancel"),
];
pub const WORKERS_KEYS: DialogKeys = &[
    (k(KeyCode::Enter), DialogAction::Confirm, "set"),
    (k(KeyCode::Esc), DialogAction::Close, "cancel"),
];
pub const STOP_KEYS: DialogKeys = &[
    (
        k(KeyCode::Char('i')),
        DialogAction::Interrupt,
        "interrupt (graceful)",
    ),
    (k(KeyCode::Char('k')), DialogAction::Kill, "kill"),
    (k(KeyCode::Esc), DialogAction::Close, "keep running"),
];
pub const CONFIRM_KEYS: DialogKeys = &[
    (k(KeyCode::Char('y')), DialogAction::Yes, "yes, do it"),
    (k(KeyCode::Char('n')), DialogAction::Close, "no"),
    (k(KeyCode::Esc), DialogAction::Close, "no"),
];
pub const PASSWORD_KEYS: DialogKeys = &[
    (k(KeyCode::Enter), DialogAction::Confirm, "use it and retry"),
    (k(KeyCode::Esc), DialogAction::Close, "not now"),
];
pub const QUIT_KEYS: DialogKeys = &[
    (
        k(KeyCode::Char('w')),
        DialogAction::Wait,
        "wait for running runs, then quit",
    ),
    (
        k(KeyCode::Char('c')),
        DialogAction::CancelRuns,
        "cancel them and quit",
    ),
    (k(KeyCode::Esc), DialogAction::Close, "stay"),
];

impl Dialog {
    pub fn keys(&self) -> DialogKeys {
        match self {
            Dialog::Enqueue(_) => ENQUEUE_KEYS,
            Dialog::Workers(_) => WORKERS_KEYS,
            Dialog::StopRun { .. } => STOP_KEYS,
            Dialog::Quit => QUIT_KEYS,
            Dialog::Confirm(_) => CONFIRM_KEYS,
            Dialog::BecomePassword { .. } => PASSWORD_KEYS,
        }
    }

    /// "Tab next field · Esc cancel": the dialog's own table, as shown at its foot.
    pub fn hint(&self) -> String {
        self.keys()
            .iter()
            .map(|(key, _, help)| format!("{} {help}", label(key)))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

const FIELDS: [Field; 4] = [
    Field::Action,
    Field::Tags,
    Field::CheckMode,
    Field::Priority,
];
const TARGETS: [Target; 4] = [
    Target::Action(Job::Provision),
    Target::Action(Job::Deploy),
    Target::Action(Job::Check),
    Target::Chain,
];

impl App {
    pub(super) fn dialog_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Mode::Dialog(dialog) = &mut self.mode else {
            return Vec::new();
        };
        let pressed = normalise(&key);
        let action = dialog
            .keys()
            .iter()
            .find(|(k, _, _)| *k == pressed)
            .map(|(_, action, _)| *action);
        if let (Dialog::Enqueue(form), Some(action)) = (&*dialog, action)
            && action != DialogAction::Close
        {
            let form = form.clone();
            return self.form_action(action, form);
        }
        match (dialog, action) {
            (Dialog::Confirm(_), Some(DialogAction::Close)) => {
                self.mode = Mode::Normal;
                self.notice = Some("nothing done".into());
            }
            (Dialog::BecomePassword { typed, servers }, Some(DialogAction::Confirm)) => {
                let (typed, servers) = (std::mem::take(typed), servers.clone());
                self.mode = Mode::Normal;
                if typed.is_empty() {
                    self.notice = Some("no password typed: nothing retried".into());
                    return Vec::new();
                }
                self.notice = Some(format!(
                    "become password set for this session; retrying {}",
                    super::intents::names(&servers)
                ));
                return vec![
                    Effect::BecomePassword(typed),
                    Effect::Engine(Command::RetryFailed {
                        servers: Some(servers),
                    }),
                ];
            }
            (Dialog::BecomePassword { typed, .. }, Some(DialogAction::Close)) => {
                typed.clear();
                self.mode = Mode::Normal;
                self.notice = Some(
                    "no become password: those runs stay failed (r retries them later)".into(),
                );
            }
            (Dialog::BecomePassword { typed, .. }, None) => match key.code {
                KeyCode::Char(c) if typed.len() < 4096 => typed.push(c),
                KeyCode::Backspace => {
                    typed.pop();
                }
                _ => {}
            },
            (Dialog::Quit, Some(DialogAction::Close)) => {
                self.mode = Mode::Normal;
                self.notice = Some("staying: runs continue".into());
            }
            (Dialog::Workers(_), Some(DialogAction::Close)) => {
                self.mode = Mode::Normal;
                self.notice = Some("workers unchanged".into());
            }
            (Dialog::StopRun { .. }, Some(DialogAction::Close)) => {
                self.mode = Mode::Normal;
                self.notice = Some("kept running".into());
            }
            (_, Some(DialogAction::Close)) => self.mode = Mode::Normal,
            (Dialog::Confirm(confirm), Some(DialogAction::Yes)) => {
                let confirm = confirm.clone();
                self.mode = Mode::Normal;
                self.notice = Some(confirm.notice);
                return confirm.then.into_iter().map(Effect::Engine).collect();
            }
            (Dialog::Enqueue(form), None) => edit_form(form, &key),
            (Dialog::Workers(text), Some(DialogAction::Confirm)) => {
                let text = text.clone();
                self.mode = Mode::Normal;
                return match text.trim().parse::<u32>() {
                    Ok(n) => self.resize(n),
                    Err(_) if text.trim().is_empty() => {
                        self.notice = Some("workers unchanged: no number typed".into());
                        Vec::new()
                    }
                    Err(_) => {
                        self.notice = Some(format!("`{text}` is not a number of workers"));
                        Vec::new()
                    }
                };
            }
            (Dialog::Workers(text), None) => match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() && text.len() < 4 => text.push(c),
                KeyCode::Backspace => {
                    text.pop();
                }
                _ => {}
            },
            (Dialog::StopRun { id, .. }, Some(DialogAction::Interrupt)) => {
                let id = *id;
                return self.stop(id, StopMode::Graceful);
            }
            (Dialog::StopRun { id, .. }, Some(DialogAction::Kill)) => {
                let id = *id;
                return self.stop(id, StopMode::Kill);
            }
            (Dialog::Quit, Some(DialogAction::Wait)) => return self.quit(ShutdownMode::Wait),
            (Dialog::Quit, Some(DialogAction::CancelRuns)) => {
                return self.quit(ShutdownMode::Cancel);
            }
            _ => {}
        }
        Vec::new()
    }

    fn quit(&mut self, mode: ShutdownMode) -> Vec<Effect> {
        self.mode = Mode::Normal;
        self.quitting = Some(mode);
        vec![Effect::Engine(Command::Shutdown(mode))]
    }

    fn form_action(&mut self, action: DialogAction, form: EnqueueForm) -> Vec<Effect> {
        let Mode::Dialog(Dialog::Enqueue(live)) = &mut self.mode else {
            return Vec::new();
        };
        let step = |by: isize| {
            let i = FIELDS.iter().position(|f| *f == form.field).unwrap_or(0) as isize;
            FIELDS[(i + by).rem_euclid(FIELDS.len() as isize) as usize]
        };
        match action {
            DialogAction::NextField => live.field = step(1),
            DialogAction::PrevField => live.field = step(-1),
            DialogAction::Toggle if form.field == Field::Action => {
                let i = TARGETS.iter().position(|t| *t == form.target).unwrap_or(0);
                live.target = TARGETS[(i + 1) % TARGETS.len()];
            }
            DialogAction::Toggle if form.field == Field::CheckMode => {
                live.check_mode = !form.check_mode
            }
            DialogAction::Toggle if form.field == Field::Tags => live.tags.push(' '),
            DialogAction::Confirm => {
                let Ok(priority) = form.priority.trim().parse::<i32>() else {
                    self.notice = Some(format!(
                        "priority `{}` is not a whole number",
                        form.priority
                    ));
                    return Vec::new();
                };
                self.mode = Mode::Normal;
                let tags = (!form.tags.trim().is_empty()).then(|| split_tags(&form.tags));
                let request = EnqueueRequest {
                    servers: form.servers.clone(),
                    target: form.target,
                    tags,
                    check_mode: form.check_mode,
                    priority,
                };
                return self.request(request, form.hidden.clone());
            }
            _ => {}
        }
        Vec::new()
    }
}

fn edit_form(form: &mut EnqueueForm, key: &KeyEvent) {
    let text = match form.field {
        Field::Tags => &mut form.tags,
        Field::Priority => &mut form.priority,
        Field::Action | Field::CheckMode => return,
    };
    match key.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) if form.field == Field::Priority && (c.is_ascii_digit() || c == '-') => {
            text.push(c)
        }
        KeyCode::Char(c) if form.field == Field::Tags && !c.is_control() => text.push(c),
        _ => {}
    }
}
