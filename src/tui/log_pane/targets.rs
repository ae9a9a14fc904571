//! The log pane's target list, kept here rather than by tui-logger's target widget: that widget
//! lists every target the logger ever saw (it has no call to forget one), so a drained worker
//! would stay listed forever, and hiding it there (level Off) would hide its lines too. Here the
//! list is the engine and the workers now in the pool; the selection, `f` focus and ←/→ levels
//! are expressed as tui-logger display levels, so the log widget filters the lines as before and
//! a drained worker's lines stay in the "all" view.

use crate::engine::core::{ENGINE_TARGET, worker_target};
use crate::engine::model::Slot;
use log::LevelFilter;
use std::collections::{BTreeMap, BTreeSet};
use tui_logger::{TuiWidgetEvent, TuiWidgetState};

pub struct LogPane {
    /// The log widget's state: scrolling, and the display levels `sync` writes.
    pub widget: TuiWidgetState,
    targets: Vec<String>,
    selected: usize,
    focus: bool,
    list_hidden: bool,
    /// The operator's ←/→ choices; a target not here shows Info.
    levels: BTreeMap<String, LevelFilter>,
    /// Every target given a level in the widget's config, to reset when the focus moves.
    configured: BTreeSet<String>,
}

impl Default for LogPane {
    fn default() -> LogPane {
        let mut pane = LogPane {
            widget: TuiWidgetState::new(),
            targets: vec![ENGINE_TARGET.to_string()],
            selected: 0,
            focus: false,
            list_hidden: false,
            levels: BTreeMap::new(),
            configured: BTreeSet::new(),
        };
        pane.sync();
        pane
    }
}

impl LogPane {
    /// The list: the engine, then the worker slots now in the pool (draining ones until their
    /// run ends). The selection stays on its target when it is still listed.
    pub fn follow(&mut self, slots: impl IntoIterator<Item = Slot>) {
        let targets = listed(slots);
        if targets == self.targets {
            return;
        }
        let selected = self.selected_target().map(str::to_string);
        self.selected = selected
            .and_then(|name| targets.iter().position(|t| *t == name))
            .unwrap_or(self.selected.min(targets.len() - 1));
        self.targets = targets;
        self.sync();
    }

    pub fn transition(&mut self, event: TuiWidgetEvent) {
        use TuiWidgetEvent::*;
        match event {
            UpKey if !self.list_hidden => self.selected = self.selected.saturating_sub(1),
            DownKey if !self.list_hidden => {
                self.selected = (self.selected + 1).min(self.targets.len() - 1)
            }
            LeftKey => self.step_level(less),
            RightKey => self.step_level(more),
            FocusKey => self.focus = !self.focus,
            HideKey => self.list_hidden = !self.list_hidden,
            UpKey | DownKey => return,
            other => return self.widget.transition(other),
        }
        self.sync();
    }

    /// `h` hid the target list: the pane shows only the log.
    pub fn list_hidden(&self) -> bool {
        self.list_hidden
    }

    pub fn targets(&self) -> &[String] {
        &self.targets
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn selected_target(&self) -> Option<&str> {
        self.targets.get(self.selected).map(String::as_str)
    }

    pub fn focused(&self) -> bool {
        self.focus
    }

    pub fn level(&self, target: &str) -> LevelFilter {
        self.levels
            .get(target)
            .copied()
            .unwrap_or(LevelFilter::Info)
    }

    fn step_level(&mut self, step: fn(LevelFilter) -> LevelFilter) {
        if let Some(target) = self.selected_target().map(str::to_string) {
            let level = step(self.level(&target));
            self.levels.insert(target, level);
        }
    }

    /// Writes the levels the log widget filters by: each target's own, or under focus only the
    /// selected target's (everything else Off, targets the list never named included).
    fn sync(&mut self) {
        let selected = self.selected_target().map(str::to_string);
        let default = if self.focus {
            LevelFilter::Off
        } else {
            LevelFilter::Info
        };
        let mut widget = std::mem::take(&mut self.widget).set_default_display_level(default);
        self.configured.extend(self.targets.iter().cloned());
        self.configured.extend(self.levels.keys().cloned());
        for target in &self.configured {
            let level = match &selected {
                Some(chosen) if self.focus && chosen != target => LevelFilter::Off,
                _ => self.level(target),
            };
            widget = widget.set_level_for_target(target, level);
        }
        self.widget = widget;
    }
}

/// The target list for these worker slots: the engine, then each worker by slot.
pub fn listed(slots: impl IntoIterator<Item = Slot>) -> Vec<String> {
    let mut slots: Vec<Slot> = slots.into_iter().collect();
    slots.sort_unstable();
    std::iter::once(ENGINE_TARGET.to_string())
        .chain(slots.into_iter().map(worker_target))
        .collect()
}

/// ← shows fewer levels: Info, Warn, Error, Off.
fn less(level: LevelFilter) -> LevelFilter {
    match level {
        LevelFilter::Trace | LevelFilter::Debug | LevelFilter::Info => LevelFilter::Warn,
        LevelFilter::Warn => LevelFilter::Error,
        LevelFilter::Error | LevelFilter::Off => LevelFilter::Off,
    }
}

/// → shows more, up to Info: the logger records nothing below it.
fn more(level: LevelFilter) -> LevelFilter {
    match level {
        LevelFilter::Off => LevelFilter::Error,
        LevelFilter::Error => LevelFilter::Warn,
        _ => LevelFilter::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TuiWidgetEvent::*;

    fn listed(pane: &LogPane) -> Vec<&str> {
        pane.targets().iter().map(String::as_str).collect()
    }

    #[test]
    fn the_list_follows_the_pool_and_keeps_the_selection_on_its_target() {
        let mut pane = LogPane::default();
        pane.follow(1..=4);
        assert_eq!(
            listed(&pane),
            ["engine", "worker-1", "worker-2", "worker-3", "worker-4"]
        );
        pane.transition(DownKey);
        pane.transition(DownKey);
        assert_eq!(pane.selected_target(), Some("worker-2"));
        // 4 → 2 while worker 4 still runs: worker 3 leaves at once, worker 4 after its run.
        pane.follow([1, 2, 4]);
        assert_eq!(
            listed(&pane),
            ["engine", "worker-1", "worker-2", "worker-4"]
        );
        pane.follow([1, 2]);
        assert_eq!(listed(&pane), ["engine", "worker-1", "worker-2"]);
        assert_eq!(pane.selected_target(), Some("worker-2"));
        for _ in 0..5 {
            pane.transition(DownKey);
        }
        assert_eq!(
            pane.selected_target(),
            Some("worker-2"),
            "stops at the last"
        );
    }

    #[test]
    fn a_selected_target_that_drains_hands_the_selection_to_the_last_left() {
        let mut pane = LogPane::default();
        pane.follow(1..=4);
        for _ in 0..4 {
            pane.transition(DownKey);
        }
        assert_eq!(pane.selected_target(), Some("worker-4"));
        pane.follow(1..=2);
        assert_eq!(pane.selected_target(), Some("worker-2"));
    }

    #[test]
    fn arrows_step_the_selected_targets_level_and_off_stays_listed() {
        let mut pane = LogPane::default();
        pane.follow(1..=2);
        pane.transition(DownKey);
        for _ in 0..4 {
            pane.transition(LeftKey);
        }
        assert_eq!(pane.level("worker-1"), LevelFilter::Off);
        assert_eq!(listed(&pane), ["engine", "worker-1", "worker-2"]);
        pane.transition(RightKey);
        assert_eq!(pane.level("worker-1"), LevelFilter::Error);
        for _ in 0..5 {
            pane.transition(RightKey);
        }
        assert_eq!(pane.level("worker-1"), LevelFilter::Info);
        assert_eq!(pane.level("engine"), LevelFilter::Info, "others untouched");
    }

    #[test]
    fn a_hidden_list_ignores_the_arrows() {
        let mut pane = LogPane::default();
        pane.follow(1..=2);
        pane.transition(HideKey);
        pane.transition(DownKey);
        assert_eq!(pane.selected_target(), Some("engine"));
        pane.transition(HideKey);
        pane.transition(DownKey);
        assert_eq!(pane.selected_target(), Some("worker-1"));
    }
}
