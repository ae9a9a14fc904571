//! (7) The journal at 1,000,000 lines: a realistic history (sessions of provision → deploy →
//! check chains over 10,000 servers, failures, retries, health checks, work left queued and
//! runs cut by a crash), then two starts as the engine makes them (`open_and_replay`): the
//! first replays the whole history and compacts it, the second reads the compacted journal.
//! Prints lines, sizes and times; asserts nothing about time.

use std::path::Path;

pub const SERVERS: usize = 10_000;
pub const LINES: usize = 1_000_000;

pub fn journal_start(work: &Path) {
    println!("(7) the journal at {LINES} lines, {SERVERS} servers");
    fleetdeck::engine::journal::synth::time_starts(work, SERVERS, LINES)
        .expect("timing the journal's starts");
}
