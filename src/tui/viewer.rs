//! The log viewer's keys: scroll, follow the end of a growing log, search.

use super::app::{App, Effect, Mode, Viewer};
use crossterm::event::{KeyCode, KeyEvent};

pub const VIEWER_KEYS: &[(&str, &str)] = &[
    ("↑↓ PgUp PgDn Home End", "scroll"),
    ("F", "follow the end"),
    ("/", "search"),
    ("n N", "next / previous match"),
    ("Esc q", "close"),
];

/// Lines scrolled by a page key.
const PAGE: usize = 20;

impl App {
    pub(super) fn viewer_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Mode::Viewer(viewer) = &mut self.mode else {
            return Vec::new();
        };
        if viewer.searching {
            match key.code {
                KeyCode::Enter => {
                    viewer.searching = false;
                    viewer.jump(true);
                }
                KeyCode::Esc => {
                    viewer.searching = false;
                    viewer.search.clear();
                }
                KeyCode::Backspace => {
                    viewer.search.pop();
                }
                KeyCode::Char(c) => viewer.search.push(c),
                _ => {}
            }
            return Vec::new();
        }
        let last = viewer.lines.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.mode = Mode::Normal,
            KeyCode::Up | KeyCode::Char('k') => viewer.scroll_by(-1),
            KeyCode::Down | KeyCode::Char('j') => viewer.scroll_by(1),
            KeyCode::PageUp => viewer.scroll_by(-(PAGE as isize)),
            KeyCode::PageDown => viewer.scroll_by(PAGE as isize),
            KeyCode::Home => {
                viewer.follow = false;
                viewer.scroll = 0;
            }
            KeyCode::End => viewer.scroll = last,
            KeyCode::Char('F') => {
                viewer.follow = !viewer.follow;
                if viewer.follow {
                    viewer.scroll = last;
                }
            }
            KeyCode::Char('/') => {
                viewer.searching = true;
                viewer.search.clear();
            }
            KeyCode::Char('n') => viewer.jump(true),
            KeyCode::Char('N') => viewer.jump(false),
            _ => {}
        }
        Vec::new()
    }
}

impl Viewer {
    pub fn new(title: String, path: std::path::PathBuf, text: &str) -> Viewer {
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let scroll = lines.len().saturating_sub(1);
        Viewer {
            title,
            path,
            lines,
            scroll,
            follow: true,
            search: String::new(),
            searching: false,
        }
    }

    /// New content of a followed log: keep the view at its end.
    pub fn reload(&mut self, text: &str) {
        self.lines = text.lines().map(String::from).collect();
        if self.follow {
            self.scroll = self.lines.len().saturating_sub(1);
        }
    }

    fn scroll_by(&mut self, by: isize) {
        self.follow = false;
        let last = self.lines.len().saturating_sub(1) as isize;
        self.scroll = (self.scroll as isize + by).clamp(0, last) as usize;
    }

    /// Moves to the next (or previous) line containing the search text.
    fn jump(&mut self, forward: bool) {
        if self.search.is_empty() {
            return;
        }
        let needle = self.search.to_lowercase();
        let n = self.lines.len();
        let hit = (1..=n)
            .map(|step| {
                if forward {
                    (self.scroll + step) % n
                } else {
                    (self.scroll + n * 2 - step) % n
                }
            })
            .find(|i| self.lines[*i].to_lowercase().contains(&needle));
        if let Some(line) = hit {
            self.follow = false;
            self.scroll = line;
        }
    }
}
