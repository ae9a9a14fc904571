//! What a face hears from the engine. The state is a latest-value channel: a face that is busy
//! drawing skips the snapshots it had no time for instead of queueing them (at 10,000 short runs
//! the engine makes hundreds a second). Events that must not be lost (a run finished, the
//! engine is idle or stopped) come through a bounded channel, which holds the engine back when
//! a face falls that far behind, rather than growing without end.

use super::{EngineEvent, Snapshot};
use tokio::sync::{mpsc, watch};

/// How many must-not-lose events may wait for a face before the engine waits for it.
pub const EVENT_BACKLOG: usize = 4096;

pub struct Feed {
    events: mpsc::Receiver<EngineEvent>,
    state: watch::Receiver<Snapshot>,
    /// An Idle or Stopped kept back while the snapshot before it is handed out first.
    held_back: Option<EngineEvent>,
}

impl Feed {
    pub(super) fn new(
        events: mpsc::Receiver<EngineEvent>,
        state: watch::Receiver<Snapshot>,
    ) -> Feed {
        Feed {
            events,
            state,
            held_back: None,
        }
    }

    /// The next event: news first (none is ever skipped), else the latest state when it changed
    /// (`EngineEvent::Snapshot`). `None` once the engine is gone and everything was read.
    pub async fn recv(&mut self) -> Option<EngineEvent> {
        if let Some(event) = self.held_back.take() {
            return Some(event);
        }
        tokio::select! {
            biased;
            event = self.events.recv() => event.map(|event| self.after_its_state(event)),
            Ok(()) = self.state.changed() => Some(self.latest_marked()),
        }
    }

    /// Takes every event already waiting, without awaiting: a face folds them all, then draws.
    pub fn try_recv(&mut self) -> Option<EngineEvent> {
        if let Some(event) = self.held_back.take() {
            return Some(event);
        }
        match self.events.try_recv() {
            Ok(event) => Some(self.after_its_state(event)),
            Err(_) if self.state.has_changed().unwrap_or(false) => Some(self.latest_marked()),
            Err(_) => None,
        }
    }

    /// The state as the engine last published it.
    pub fn latest(&self) -> Snapshot {
        self.state.borrow().clone()
    }

    /// "Idle" and "stopped" describe the state: a newer state is handed out first, and they
    /// are kept back until the next call.
    fn after_its_state(&mut self, event: EngineEvent) -> EngineEvent {
        let describes_state = matches!(event, EngineEvent::Idle | EngineEvent::Stopped);
        if describes_state && self.state.has_changed().unwrap_or(false) {
            self.held_back = Some(event);
            return self.latest_marked();
        }
        event
    }

    fn latest_marked(&mut self) -> EngineEvent {
        EngineEvent::Snapshot(Box::new(self.state.borrow_and_update().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(finished: u32) -> Snapshot {
        Snapshot {
            finished,
            ..Snapshot::default()
        }
    }

    #[tokio::test]
    async fn a_busy_face_gets_the_latest_state_every_event_and_the_state_before_idle() {
        let (events, events_rx) = mpsc::channel(EVENT_BACKLOG);
        let (states, states_rx) = watch::channel(state(0));
        let mut feed = Feed::new(events_rx, states_rx);
        // The engine published three states and one piece of news while the face drew.
        for finished in 1..=3 {
            states.send_replace(state(finished));
        }
        events.send(EngineEvent::Stopped).await.unwrap();
        let Some(EngineEvent::Snapshot(latest)) = feed.recv().await else {
            panic!("the state comes before the stop it led to");
        };
        assert_eq!(latest.finished, 3, "only the latest state, not three");
        assert_eq!(feed.recv().await, Some(EngineEvent::Stopped));
        drop((events, states));
        assert_eq!(
            feed.recv().await,
            None,
            "nothing more once the engine is gone"
        );
        assert_eq!(feed.latest().finished, 3);
    }
}
