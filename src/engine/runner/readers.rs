//! The run's readers: stdout and stderr copied whole to the log with the latest line offered
//! to the live view, and the plugin's JSON events folded into the transcript.

use super::*;

/// The latest output line of a run. Readers overwrite it; one notification is in flight at most,
/// so a flood of output costs the engine nothing and never slows the child.
#[derive(Default)]
pub struct LiveLine {
    latest: Mutex<Option<String>>,
    notified: AtomicBool,
}

impl LiveLine {
    pub fn take(&self) -> Option<String> {
        self.notified.store(false, Ordering::SeqCst);
        self.latest
            .lock()
            .map(|mut latest| latest.take())
            .unwrap_or(None)
    }

    /// Offers the latest line; true when the engine must be told a line waits.
    pub(crate) fn offer(&self, line: String) -> bool {
        self.set(line)
    }

    fn set(&self, line: String) -> bool {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(line);
        }
        !self.notified.swap(true, Ordering::SeqCst)
    }
}

/// Copies every byte to the log and offers the latest complete line to the live view. Returns
/// the last few KiB, for error messages.
pub(super) async fn pump(
    mut source: impl AsyncRead + Unpin,
    log: RunLog,
    live: Arc<LiveLine>,
    notify: impl Fn(),
) -> Vec<u8> {
    // Most runs print a few KiB: the buffer starts small, unzeroed, and grows (to READ_CHUNK)
    // only while reads fill it. Two zeroed 64 KiB buffers per run were an allocator hot spot.
    let mut chunk: Vec<u8> = Vec::with_capacity(4096);
    let mut partial: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut log_ok = true;
    let offer = |line: &[u8]| {
        // A line that arrived whole within one chunk never went through `partial`: cap it here.
        let text = String::from_utf8_lossy(&line[..line.len().min(LIVE_LINE_MAX)]);
        let text = text.trim_end_matches('\r').trim_end();
        if !text.trim().is_empty() && live.set(text.to_string()) {
            notify();
        }
    };
    loop {
        if chunk.len() == chunk.capacity() && chunk.capacity() < READ_CHUNK {
            chunk.reserve(chunk.capacity());
        }
        chunk.clear();
        let n = match source.read_buf(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let bytes = &chunk[..n];
        // A full disk must not stall the child: keep reading, stop writing.
        if log_ok && log.write(bytes).is_err() {
            log_ok = false;
        }
        tail.extend_from_slice(bytes);
        if tail.len() > STDERR_TAIL_MAX {
            tail.drain(..tail.len() - STDERR_TAIL_MAX);
        }
        match bytes.iter().rposition(|b| *b == b'\n') {
            Some(last) => {
                let line_start = bytes[..last].iter().rposition(|b| *b == b'\n');
                match line_start {
                    Some(start) => offer(&bytes[start + 1..last]),
                    None => {
                        extend_capped(&mut partial, &bytes[..last]);
                        offer(&partial);
                    }
                }
                partial.clear();
                extend_capped(&mut partial, &bytes[last + 1..]);
            }
            None => extend_capped(&mut partial, bytes),
        }
    }
    if !partial.is_empty() {
        offer(&partial);
    }
    tail
}

fn extend_capped(buffer: &mut Vec<u8>, bytes: &[u8]) {
    let room = LIVE_LINE_MAX.saturating_sub(buffer.len());
    buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

pub(super) async fn read_events(
    read_end: OwnedFd,
    transcript: Arc<Mutex<Transcript>>,
    tx: mpsc::UnboundedSender<RunnerMsg>,
    id: ItemId,
    tree: RunTree,
) {
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(read_end) else {
        return;
    };
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Some(event) = CallbackEvent::parse(&line) else {
            continue;
        };
        if let Ok(mut transcript) = transcript.lock() {
            transcript.record(&event);
        }
        if matches!(event, CallbackEvent::TaskStart { .. }) {
            // Workers come and go with tasks: list them while they still descend from the main
            // process (before the engine hears of the task, so tests can rely on it).
            tree.note_workers().await;
        }
        if let Some(progress) = event.progress() {
            let _ = tx.send(RunnerMsg::Event(id, progress));
        }
    }
}
