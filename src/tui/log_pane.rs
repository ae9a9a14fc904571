//! The log pane: tui-logger's target list and log, one target per worker and one for the
//! engine. Put together here rather than with tui-logger's smart widget, which writes its own
//! rate counter ("[log=7000.0/s]") into the title. Lines are laid out by `wrap` (no word cut
//! in two); the targets of drained workers leave the list (`WorkerTargets`).

pub mod wrap;

use crate::engine::model::Slot;
use log::LevelFilter;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::Block;
use std::collections::BTreeSet;
use tui_logger::{TuiLoggerTargetWidget, TuiLoggerWidget, TuiWidgetEvent, TuiWidgetState};

/// What the pane shows besides the log itself.
pub struct PaneLook {
    /// The worker slots now in the pool (draining ones included until their run ends).
    pub slots: usize,
    pub targets_hidden: bool,
    pub focused: bool,
    pub border: Style,
}

pub fn draw(frame: &mut Frame, area: Rect, look: &PaneLook, state: &TuiWidgetState) {
    let formatter = wrap::WrappingFormatter {
        style: Style::new().fg(Color::Gray),
        style_error: Style::new().fg(Color::Red),
        style_warn: Style::new().fg(Color::Yellow),
    };
    let log = TuiLoggerWidget::default()
        .block(Block::bordered().title(" Log ").border_style(look.border))
        .formatter(Box::new(formatter))
        .state(state);
    if look.targets_hidden {
        frame.render_widget(log, area);
        return;
    }
    // As wide as the longest target ("worker-12") plus the level columns and borders.
    let longest = "worker-".len() + look.slots.max(1).to_string().len();
    let [targets_area, log_area] =
        Layout::horizontal([Constraint::Length(longest as u16 + 8), Constraint::Min(10)])
            .areas(area);
    let targets = TuiLoggerTargetWidget::default()
        .block(
            Block::bordered()
                .title(" Targets ")
                .border_style(look.border),
        )
        .state(state);
    frame.render_widget(targets, targets_area);
    frame.render_widget(log, log_area);
}

/// The pane's state as the dashboard starts: Info shown, and targets set to Off left out of
/// the list, which is how a drained worker's target goes away (tui-logger keeps every target
/// it ever saw and has no call to forget one).
pub fn new_state() -> TuiWidgetState {
    let state = TuiWidgetState::new().set_default_display_level(LevelFilter::Info);
    state.transition(TuiWidgetEvent::SpaceKey);
    state
}

pub fn worker_target(slot: Slot) -> String {
    format!("worker-{slot}")
}

/// Which worker targets the list shows: those of the slots in the pool. A slot that leaves
/// (its drained run ended) is turned Off, so it leaves the list and its lines the log; one that
/// comes back (the workers raised again) is shown at Info again.
#[derive(Default)]
pub struct WorkerTargets {
    shown: BTreeSet<Slot>,
}

impl WorkerTargets {
    /// The display levels to set for the slots now in the pool; nothing when they did not change.
    pub fn follow(&mut self, slots: impl IntoIterator<Item = Slot>) -> Vec<(String, LevelFilter)> {
        let now: BTreeSet<Slot> = slots.into_iter().collect();
        if now == self.shown {
            return Vec::new();
        }
        let gone = self
            .shown
            .difference(&now)
            .map(|s| (worker_target(*s), LevelFilter::Off));
        let back = now
            .difference(&self.shown)
            .map(|s| (worker_target(*s), LevelFilter::Info));
        let changes = gone.chain(back).collect();
        self.shown = now;
        changes
    }

    /// Applies `follow` to the widget state (tui-logger's setter takes the state by value).
    pub fn apply(&mut self, slots: impl IntoIterator<Item = Slot>, state: &mut TuiWidgetState) {
        for (target, level) in self.follow(slots) {
            *state = std::mem::take(state).set_level_for_target(&target, level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(changes: Vec<(String, LevelFilter)>) -> Vec<(&'static str, LevelFilter)> {
        changes
            .into_iter()
            .map(|(t, l)| (&*String::leak(t), l))
            .collect()
    }

    #[test]
    fn drained_slots_go_off_and_raised_ones_come_back() {
        let mut targets = WorkerTargets::default();
        assert_eq!(
            levels(targets.follow(1..=4)),
            vec![
                ("worker-1", LevelFilter::Info),
                ("worker-2", LevelFilter::Info),
                ("worker-3", LevelFilter::Info),
                ("worker-4", LevelFilter::Info),
            ]
        );
        // 4 → 2 while worker 4 still runs: only worker 3 goes.
        assert_eq!(
            levels(targets.follow([1, 2, 4])),
            vec![("worker-3", LevelFilter::Off)]
        );
        assert_eq!(
            levels(targets.follow([1, 2])),
            vec![("worker-4", LevelFilter::Off)]
        );
        assert!(targets.follow([1, 2]).is_empty());
        assert_eq!(
            levels(targets.follow(1..=3)),
            vec![("worker-3", LevelFilter::Info)]
        );
    }
}
