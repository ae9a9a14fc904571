use super::*;
use crossterm::event::KeyEvent;

fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, mods)
}

#[test]
fn pane_binding_wins_over_global_one() {
    let x = press(KeyCode::Char('x'), KeyModifiers::NONE);
    assert_eq!(
        lookup(NORMAL, Scope::Queue, &x).map(|b| b.help),
        Some("cancel the queued item")
    );
    assert_eq!(
        lookup(NORMAL, Scope::Workers, &x).map(|b| b.action),
        Some(Action::Cancel)
    );
    assert!(lookup(NORMAL, Scope::Servers, &x).is_none());
    let f = press(KeyCode::Char('f'), KeyModifiers::NONE);
    assert_eq!(
        lookup(NORMAL, Scope::Log, &f).map(|b| b.action),
        Some(Action::LogFocus)
    );
    assert_eq!(
        lookup(NORMAL, Scope::Servers, &f).map(|b| b.action),
        Some(Action::Chain)
    );
}

#[test]
fn uppercase_matches_with_or_without_shift() {
    for mods in [KeyModifiers::SHIFT, KeyModifiers::NONE] {
        let k = press(KeyCode::Char('K'), mods);
        assert_eq!(
            lookup(NORMAL, Scope::Queue, &k).map(|b| b.action),
            Some(Action::RaisePriority)
        );
    }
    let back_tab = press(KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(
        lookup(NORMAL, Scope::Servers, &back_tab).map(|b| b.action),
        Some(Action::PrevPane)
    );
    let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        lookup(NORMAL, Scope::Servers, &ctrl_c).map(|b| b.action),
        Some(Action::Quit)
    );
}

#[test]
fn no_key_is_bound_twice_in_one_scope() {
    let scopes = [
        Scope::Global,
        Scope::Servers,
        Scope::Queue,
        Scope::Workers,
        Scope::Log,
    ];
    for scope in scopes {
        let mut seen = Vec::new();
        for binding in NORMAL.iter().filter(|b| b.scope == scope) {
            for key in binding.keys {
                assert!(
                    !seen.contains(key),
                    "{} bound twice in {scope:?}",
                    label(key)
                );
                seen.push(*key);
            }
        }
    }
}

/// The README's key table is this table: a binding added here and not there fails.
#[test]
fn readme_key_table_matches_the_key_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<String> = NORMAL
        .iter()
        .map(|b| {
            let keys = b
                .keys
                .iter()
                .map(|k| format!("`{}`", label(k)))
                .collect::<Vec<_>>()
                .join(" ");
            let scope = match b.scope {
                Scope::Global => "everywhere",
                Scope::Servers => "servers",
                Scope::Queue => "queue",
                Scope::Workers => "workers",
                Scope::Log => "log",
                mode => unreachable!("{mode:?} is a mode's scope, not a pane's"),
            };
            format!("| {keys} | {scope} | {} |", b.help)
        })
        .collect();
    let missing: Vec<&String> = rows
        .iter()
        .filter(|row| !readme.contains(row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md lacks these key rows:\n{}",
        rows.join("\n")
    );
}
