//! Small modal dialogs: queue with options, set workers, stop a run, quit, confirm, the become
//! password. Each is a mode: its keys are its scope's in the key table, shown at its foot; what
//! it asks for is a `Reply` that the dashboard carries out.

use super::intents::names;
use super::keymap::{self, ModeAction, Scope};
use super::mode::{Context, Effect, ModeKeys, Reply, Request};
use crate::config::split_tags;
use crate::engine::model::{Action as Job, ItemId, Slot};
use crate::engine::{Command, EnqueueRequest, ShutdownMode, StopMode, Target};
use crossterm::event::{KeyCode, KeyEvent};

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

impl Dialog {
    /// "Tab next field · Esc cancel": the dialog's keys from the key table, shown at its foot.
    pub fn hint(&self) -> String {
        keymap::hint_line(self.scope())
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

impl ModeKeys for Dialog {
    fn scope(&self) -> Scope {
        match self {
            Dialog::Enqueue(_) => Scope::EnqueueForm,
            Dialog::Workers(_) => Scope::WorkersDialog,
            Dialog::StopRun { .. } => Scope::StopDialog,
            Dialog::Quit => Scope::QuitDialog,
            Dialog::Confirm(_) => Scope::ConfirmDialog,
            Dialog::BecomePassword { .. } => Scope::PasswordDialog,
        }
    }

    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, _: &Context) -> Reply {
        use ModeAction as M;
        match (self, bound) {
            (Dialog::Enqueue(_), Some(M::Close)) => Reply::Close,
            (Dialog::Enqueue(form), Some(action)) if action != M::Erase => {
                form_action(form, action)
            }
            (Dialog::Enqueue(form), _) => {
                edit_form(form, key);
                Reply::Stay
            }
            (Dialog::Confirm(_), Some(M::Close)) => Reply::CloseSaying("nothing done".into()),
            (Dialog::Confirm(confirm), Some(M::Yes)) => Reply::Done {
                notice: confirm.notice.clone(),
                effects: confirm.then.iter().cloned().map(Effect::Engine).collect(),
            },
            (Dialog::BecomePassword { typed, servers }, Some(M::Confirm)) => {
                let typed = std::mem::take(typed);
                if typed.is_empty() {
                    return Reply::CloseSaying("no password typed: nothing retried".into());
                }
                Reply::Done {
                    notice: format!(
                        "become password set for this session; retrying {}",
                        names(servers)
                    ),
                    effects: vec![
                        Effect::BecomePassword(typed),
                        Effect::Engine(Command::RetryFailed {
                            servers: Some(servers.clone()),
                        }),
                    ],
                }
            }
            (Dialog::BecomePassword { typed, .. }, Some(M::Close)) => {
                typed.clear();
                Reply::CloseSaying(
                    "no become password: those runs stay failed (r retries them later)".into(),
                )
            }
            (Dialog::BecomePassword { typed, .. }, Some(M::Erase)) => {
                typed.pop();
                Reply::Stay
            }
            (Dialog::BecomePassword { typed, .. }, None) => {
                if let KeyCode::Char(c) = key.code
                    && typed.len() < 4096
                {
                    typed.push(c);
                }
                Reply::Stay
            }
            (Dialog::Quit, Some(M::Close)) => Reply::CloseSaying("staying: runs continue".into()),
            (Dialog::Quit, Some(M::QuitWaiting)) => {
                Reply::Request(Request::Quit(ShutdownMode::Wait))
            }
            (Dialog::Quit, Some(M::QuitCancelling)) => {
                Reply::Request(Request::Quit(ShutdownMode::Cancel))
            }
            (Dialog::Workers(_), Some(M::Close)) => Reply::CloseSaying("workers unchanged".into()),
            (Dialog::Workers(text), Some(M::Confirm)) => match text.trim().parse::<u32>() {
                Ok(n) => Reply::Request(Request::Resize(n)),
                Err(_) if text.trim().is_empty() => {
                    Reply::CloseSaying("workers unchanged: no number typed".into())
                }
                Err(_) => Reply::CloseSaying(format!("`{text}` is not a number of workers")),
            },
            (Dialog::Workers(text), Some(M::Erase)) => {
                text.pop();
                Reply::Stay
            }
            (Dialog::Workers(text), None) => {
                if let KeyCode::Char(c) = key.code
                    && c.is_ascii_digit()
                    && text.len() < 4
                {
                    text.push(c);
                }
                Reply::Stay
            }
            (Dialog::StopRun { .. }, Some(M::Close)) => Reply::CloseSaying("kept running".into()),
            (Dialog::StopRun { id, .. }, Some(M::Interrupt)) => {
                Reply::Request(Request::Stop(*id, StopMode::Graceful))
            }
            (Dialog::StopRun { id, .. }, Some(M::Kill)) => {
                Reply::Request(Request::Stop(*id, StopMode::Kill))
            }
            _ => Reply::Stay,
        }
    }
}

fn form_action(form: &mut EnqueueForm, action: ModeAction) -> Reply {
    let step = |by: isize| {
        let i = FIELDS.iter().position(|f| *f == form.field).unwrap_or(0) as isize;
        FIELDS[(i + by).rem_euclid(FIELDS.len() as isize) as usize]
    };
    match action {
        ModeAction::NextField => form.field = step(1),
        ModeAction::PrevField => form.field = step(-1),
        ModeAction::Toggle if form.field == Field::Action => {
            let i = TARGETS.iter().position(|t| *t == form.target).unwrap_or(0);
            form.target = TARGETS[(i + 1) % TARGETS.len()];
        }
        ModeAction::Toggle if form.field == Field::CheckMode => form.check_mode = !form.check_mode,
        ModeAction::Toggle if form.field == Field::Tags => form.tags.push(' '),
        ModeAction::Confirm => {
            let Ok(priority) = form.priority.trim().parse::<i32>() else {
                return Reply::Say(format!(
                    "priority `{}` is not a whole number",
                    form.priority
                ));
            };
            let tags = (!form.tags.trim().is_empty()).then(|| split_tags(&form.tags));
            let request = EnqueueRequest {
                servers: form.servers.clone(),
                target: form.target,
                tags,
                check_mode: form.check_mode,
                priority,
            };
            return Reply::Request(Request::Enqueue {
                request,
                hidden: form.hidden.clone(),
            });
        }
        _ => {}
    }
    Reply::Stay
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
