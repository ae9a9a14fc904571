//! Reading the key table: the binding a key press triggers, and the keys' names the footer's
//! hints and the help overlay show.

use super::{Binding, Key, MODES, Scope};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The binding `event` triggers in `scope`: the pane's own first, then the global ones (the
/// `MODES` table has no global bindings: a mode answers its own keys only).
pub fn lookup<A>(
    table: &'static [Binding<A>],
    scope: Scope,
    event: &KeyEvent,
) -> Option<&'static Binding<A>> {
    let pressed = normalise(event);
    let matches = |b: &&Binding<A>| b.keys.contains(&pressed);
    table
        .iter()
        .filter(|b| b.scope == scope)
        .find(matches)
        .or_else(|| {
            table
                .iter()
                .filter(|b| b.scope == Scope::Global)
                .find(matches)
        })
}

/// Terminals report `K` as Char('K') with SHIFT, some without; the character says it all.
pub fn normalise(event: &KeyEvent) -> Key {
    let mut mods = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    if let KeyCode::Char(c) = event.code
        && c.is_ascii_uppercase()
    {
        mods.remove(KeyModifiers::SHIFT);
    }
    if event.code == KeyCode::BackTab {
        mods = KeyModifiers::NONE;
    }
    Key {
        code: event.code,
        mods,
    }
}

pub fn label(key: &Key) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Delete => "Del".into(),
        other => format!("{other:?}"),
    };
    if key.mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{}", base.to_uppercase())
    } else {
        base
    }
}

pub fn labels<A>(binding: &Binding<A>) -> String {
    binding.keys.iter().map(label).collect::<Vec<_>>().join(" ")
}

/// "Tab next field · Esc cancel": the hints of a mode's bindings, as shown at a dialog's foot or
/// in the footer while typing.
pub fn hint_line(scope: Scope) -> String {
    // A hint names a binding's first key (the help lists the others); neighbours with the
    // same hint ("← bar", "→ bar") read as one: "← → bar".
    let mut parts: Vec<(String, &str)> = Vec::new();
    for binding in MODES.iter().filter(|b| b.scope == scope) {
        let (Some(hint), Some(first)) = (binding.hint, binding.keys.first()) else {
            continue;
        };
        match parts.last_mut() {
            Some((keys, last)) if *last == hint => {
                keys.push(' ');
                keys.push_str(&label(first));
            }
            _ => parts.push((label(first), hint)),
        }
    }
    parts
        .iter()
        .map(|(keys, hint)| format!("{keys} {hint}"))
        .collect::<Vec<_>>()
        .join(" · ")
}
