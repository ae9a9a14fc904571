//! A made-up but realistic journal: sessions of provision → deploy → check chains over a fleet,
//! with failures (and the links they skip), retries that repoint their dependents, health
//! checks, reprioritised and cancelled entries, a paused session, and at the end work still
//! queued, held chains and runs cut by a crash. The scale bench and the compaction tests share
//! it, so what is timed is what is checked.

use super::{Journal, Record};
use crate::engine::model::{Action, Item, ItemId, Outcome, Purpose, Recap};
use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::io::{BufWriter, Write};
use std::path::Path;

/// A tiny deterministic generator: the same arguments always give the same journal.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        // xorshift64*: good enough to spread outcomes, and no dependency for it.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % sides
    }
}

struct Writer<W: Write> {
    out: W,
    lines: usize,
    next_id: ItemId,
    now: DateTime<Utc>,
    dice: Dice,
}

impl<W: Write> Writer<W> {
    fn put(&mut self, record: &Record) -> Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    fn tick(&mut self) -> DateTime<Utc> {
        self.now += Duration::milliseconds(1 + self.dice.roll(2000) as i64);
        self.now
    }

    fn enqueue(&mut self, server: &str, action: Action, after: Option<ItemId>) -> Result<Item> {
        let id = self.next_id;
        self.next_id += 1;
        let at = self.tick();
        let item = Item {
            id,
            server: server.into(),
            action,
            priority: self.dice.roll(3) as i32,
            tags: if action == Action::Deploy {
                vec!["release".into()]
            } else {
                Vec::new()
            },
            check_mode: self.dice.roll(20) == 0,
            attempt: 1,
            enqueued_at: at,
            after,
            purpose: Purpose::Requested,
            not_before: None,
            held: false,
        };
        self.put(&Record::Enqueued {
            at,
            item: item.clone(),
        })?;
        Ok(item)
    }

    /// Starts `item` and opens its log; `end` finishes it unless the run is to be cut short.
    fn run(&mut self, item: &Item, end: Option<Outcome>) -> Result<()> {
        let (id, at) = (item.id, self.tick());
        let slot = 1 + self.dice.roll(8) as u32;
        self.put(&Record::Started {
            at,
            id,
            slot,
            node: None,
        })?;
        let log = format!("logs/{}/{}-{id}.log", item.server, item.action).into();
        self.put(&Record::LogOpened { at, id, log })?;
        if let Some(outcome) = end {
            let ok = outcome.is_success();
            let recap = Recap {
                ok: 5,
                changed: self.dice.roll(3) as u32,
                failed: u32::from(!ok),
                ..Recap::default()
            };
            let ms = 500 + self.dice.roll(60_000);
            self.finish(item, outcome, Some(recap), Some(ms))?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        item: &Item,
        outcome: Outcome,
        recap: Option<Recap>,
        ms: Option<u64>,
    ) -> Result<()> {
        let at = self.tick();
        self.put(&Record::Finished {
            at,
            id: item.id,
            server: item.server.clone(),
            action: item.action,
            outcome,
            recap,
            duration_ms: ms,
            log: None,
            retried: false,
        })
    }

    fn outcome(&mut self) -> Outcome {
        match self.dice.roll(40) {
            0 => Outcome::Failed {
                rc: Some(2),
                task: Some("Verify release checksum".into()),
                message: "checksum mismatch".into(),
            },
            1 => Outcome::Unreachable {
                message: "ssh: connect to host: Connection timed out".into(),
            },
            2 => Outcome::Cancelled { during_task: None },
            _ => Outcome::Succeeded,
        }
    }

    /// One server's chain, run to its end: a failed link is retried once (its dependents
    /// repointed to the retry); a link that still failed skips the rest.
    fn chain(&mut self, server: &str) -> Result<()> {
        let mut links = Vec::new();
        for action in Action::ALL {
            let after = links.last().map(|item: &Item| item.id);
            links.push(self.enqueue(server, action, after)?);
        }
        if self.dice.roll(10) == 0 {
            let priority = 5 + self.dice.roll(5) as i32;
            let (at, id) = (self.tick(), links[0].id);
            self.put(&Record::Reprioritized { at, id, priority })?;
        }
        let mut broken = false;
        for index in 0..links.len() {
            let mut item = links[index].clone();
            if broken {
                let reason = "upstream failed".to_string();
                self.finish(&item, Outcome::Skipped { reason }, None, None)?;
                continue;
            }
            let outcome = self.outcome();
            let failed = outcome.is_failure();
            self.run(&item, Some(outcome))?;
            if failed {
                let mut again = self.enqueue(server, item.action, None)?;
                again.attempt = 2;
                if let Some(next) = links.get_mut(index + 1) {
                    let (at, old, new) = (self.tick(), item.id, again.id);
                    self.put(&Record::Repointed { at, old, new })?;
                    next.after = Some(new);
                }
                item = again;
                let outcome = self.outcome();
                broken = !outcome.is_success();
                self.run(&item, Some(outcome))?;
            }
            if item.action == Action::Deploy && !broken && self.dice.roll(4) == 0 {
                let (at, deploy) = (self.tick(), item.id);
                let healthy = self.dice.roll(10) != 0;
                let server = server.to_string();
                self.put(&Record::Health {
                    at,
                    deploy,
                    server,
                    healthy,
                })?;
            }
        }
        Ok(())
    }
}

/// Writes about `lines` lines of history over `servers` servers into the journal at `path`
/// (replacing it), ending with queued chains (some waiting on a success), chains whose first
/// link was running when the process died, a cancelled queue entry and a failure. Returns the number of lines written.
pub fn write_history(path: &Path, servers: usize, lines: usize) -> Result<usize> {
    drop(Journal::open(path)?);
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut w = Writer {
        out,
        lines: 0,
        next_id: 1,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        dice: Dice(0x9E37_79B9_7F4A_7C15 ^ lines as u64 ^ ((servers as u64) << 32)),
    };
    let names: Vec<String> = (0..servers).map(|n| format!("srv-{n:05}")).collect();
    let tail = 40 + servers / 10;
    let mut session = 0u64;
    while w.lines + tail * 4 < lines {
        let at = w.tick();
        w.put(&Record::Session {
            at,
            pid: 1000 + session as u32,
            workers: 8,
        })?;
        if session % 3 == 1 {
            let (at, reason) = (w.tick(), "failure rate above 20%".to_string());
            w.put(&Record::Paused { at, reason })?;
            let at = w.tick();
            w.put(&Record::Resumed { at })?;
            w.put(&Record::Resized {
                at,
                from: 8,
                to: 12,
            })?;
        }
        let batch = 1 + w.dice.roll(servers as u64) as usize;
        let first = w.dice.roll(servers as u64) as usize;
        for n in 0..batch {
            let server = &names[(first + n) % servers];
            w.chain(server)?;
            if w.lines + tail * 4 >= lines {
                break;
            }
        }
        session += 1;
    }
    // The last session died: chains left queued, some waiting on a link that succeeded long
    // ago or is still queued, one running when it died, one cancelled before it ran.
    let at = w.tick();
    w.put(&Record::Session {
        at,
        pid: 99_999,
        workers: 8,
    })?;
    for n in 0..tail {
        let server = names[(n * 7) % servers].clone();
        let provision = w.enqueue(&server, Action::Provision, None)?;
        match n % 5 {
            0 => {
                w.run(&provision, Some(Outcome::Succeeded))?;
                let deploy = w.enqueue(&server, Action::Deploy, Some(provision.id))?;
                w.enqueue(&server, Action::Check, Some(deploy.id))?;
            }
            1 => {
                w.run(&provision, None)?;
                w.enqueue(&server, Action::Deploy, Some(provision.id))?;
            }
            2 => {
                let outcome = Outcome::Cancelled { during_task: None };
                w.finish(&provision, outcome, None, None)?;
            }
            3 => {
                let message = "Missing sudo password".to_string();
                let outcome = Outcome::Failed {
                    rc: Some(2),
                    task: None,
                    message,
                };
                w.run(&provision, Some(outcome))?;
                // A server new to the fleet: its skipped deploy is all there is to show.
                let fresh = w.enqueue(&format!("new-{n:05}"), Action::Deploy, None)?;
                let reason = "upstream failed".to_string();
                w.finish(&fresh, Outcome::Skipped { reason }, None, None)?;
            }
            _ => {
                w.enqueue(&server, Action::Deploy, Some(provision.id))?;
            }
        }
    }
    w.out.flush()?;
    Ok(w.lines)
}

/// Writes a journal of about `lines` lines over `servers` servers into `work`, then starts on it
/// twice as the engine does (`open_and_replay`, the first compacting), and prints lines, sizes
/// and times. Figures only: shared machines are too noisy to assert times on.
pub fn time_starts(work: &Path, servers: usize, lines: usize) -> Result<()> {
    let path = work.join("scale").join("journal.jsonl");
    let clock = Clock::start();
    let written = write_history(&path, servers, lines)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "journal: {written} lines, {:.1} MB over {servers} servers (written in {})",
        size as f64 / 1e6,
        clock.read()
    );
    // What start cost before: every line its own allocation, decoded through `Record`.
    let clock = Clock::start();
    let mut decoded = 0usize;
    let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
    for line in std::io::BufRead::split(reader, b'\n') {
        decoded += usize::from(serde_json::from_slice::<Record>(&line?).is_ok());
    }
    println!(
        "  decoding alone, the old way ({decoded} records): {}",
        clock.read()
    );
    let clock = Clock::start();
    let text = std::fs::read(&path)?;
    let mut decoded = 0usize;
    super::wire::for_each_line(&text, 1, |line| {
        decoded += usize::from(matches!(line, super::wire::Line::Read(_)));
    });
    println!(
        "  decoding alone, now ({decoded} records): {}",
        clock.read()
    );
    for threads in [0, super::wire::threads()] {
        let clock = Clock::start();
        let replay = super::replay::replay_on(&path, threads)?;
        let took = clock.read();
        drop(replay);
        println!("  replay alone, now, {threads} decoding thread(s) beside: {took}");
    }
    for start in ["first start (compacts)", "second start"] {
        let clock = Clock::start();
        let (journal, replay) = super::open_and_replay(&path)?;
        let took = clock.read();
        drop(journal);
        let after = std::fs::read(&path)?;
        let lines = after.iter().filter(|b| **b == b'\n').count();
        println!(
            "  {start}: {took}; now {lines} lines, {:.1} MB",
            after.len() as f64 / 1e6,
        );
        // What `Engine::start` and the faces derive from it before the first frame.
        let clock = Clock::start();
        let (pending, interrupted) = (replay.pending(), replay.interrupted());
        let status = crate::status::derive(&replay);
        let etas = crate::status::last_durations(&replay);
        let derived = clock.read();
        println!(
            "    then derived {} pending, {} interrupted, {} servers' status, {} ETAs in {derived}",
            pending.len(),
            interrupted.len(),
            status.len(),
            etas.len()
        );
    }
    Ok(())
}

/// Wall time and this process's CPU time (all threads) since it started: on a shared machine
/// the CPU time says what the work costs, the wall time what a user waits.
struct Clock {
    wall: std::time::Instant,
    cpu: std::time::Duration,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: std::time::Instant::now(),
            cpu: cpu_time(),
        }
    }

    fn read(&self) -> String {
        let cpu = cpu_time().saturating_sub(self.cpu);
        format!("{:.2?} (CPU {:.2?})", self.wall.elapsed(), cpu)
    }
}

fn cpu_time() -> std::time::Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return std::time::Duration::ZERO;
    };
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    std::time::Duration::from_micros(micros(usage.user_time()) + micros(usage.system_time()))
}

#[cfg(test)]
mod tests {
    /// `FLEETDECK_LINES=1000000 cargo test --lib synth -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_starts() {
        let lines = std::env::var("FLEETDECK_LINES")
            .ok()
            .and_then(|v| v.parse().ok());
        let work = tempfile::tempdir().unwrap();
        super::time_starts(work.path(), 10_000, lines.unwrap_or(1_000_000)).unwrap();
    }
}
