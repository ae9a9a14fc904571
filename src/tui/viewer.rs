//! The log viewer: its keys (scroll, follow the end of a growing log, search) and reading the
//! log, a run in flight's only as far as it grew since the last read.

use super::keymap::{ModeAction, Scope};
use super::mode::{Context, ModeKeys, Reply};
use crossterm::event::{KeyCode, KeyEvent};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// A run's full log, read by the loop (not here) when opened and, while its run is in flight,
/// as it grows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Viewer {
    pub title: String,
    pub path: PathBuf,
    pub lines: Vec<String>,
    /// First line shown.
    pub scroll: usize,
    pub follow: bool,
    pub search: String,
    pub searching: bool,
    /// The last search found nothing: the viewer says so.
    pub no_match: bool,
    /// Bytes of the file read into complete lines: the next read starts here.
    pub read_to: u64,
    /// The last line had no newline yet: the next read replaces it.
    pub partial: bool,
    /// Bytes at the log's start that the window leaves out (a huge or long-growing log).
    pub hidden_bytes: u64,
    /// The first line is the note that says so.
    pub noted: bool,
}

/// Lines scrolled by a page key.
const PAGE: usize = 20;

/// The viewer holds a window of the log, not the whole file: a flood of output can make a log
/// of gigabytes, and the viewer reads in the dashboard's loop. Opening reads at most the last
/// `OPEN_BYTES`; a growing log keeps at most `KEEP_LINES`, the oldest going first.
const OPEN_BYTES: u64 = 4 << 20;
const KEEP_LINES: usize = 50_000;

impl ModeKeys for Viewer {
    /// Typing a search takes text; otherwise the viewer's keys.
    fn scope(&self) -> Scope {
        if self.searching {
            Scope::ViewerSearch
        } else {
            Scope::Viewer
        }
    }

    fn key(&mut self, bound: Option<ModeAction>, key: &KeyEvent, _: &Context) -> Reply {
        if self.searching {
            match (bound, key.code) {
                (Some(ModeAction::Confirm), _) => {
                    self.searching = false;
                    self.jump(true);
                }
                (Some(ModeAction::Close), _) => {
                    self.searching = false;
                    self.search.clear();
                }
                (Some(ModeAction::Erase), _) => {
                    self.search.pop();
                }
                (None, KeyCode::Char(c)) => self.search.push(c),
                _ => {}
            }
            return Reply::Stay;
        }
        let last = self.lines.len().saturating_sub(1);
        match bound {
            Some(ModeAction::Close) => return Reply::Close,
            Some(ModeAction::ScrollUp) => self.scroll_by(-1),
            Some(ModeAction::ScrollDown) => self.scroll_by(1),
            Some(ModeAction::PageUp) => self.scroll_by(-(PAGE as isize)),
            Some(ModeAction::PageDown) => self.scroll_by(PAGE as isize),
            Some(ModeAction::Top) => {
                self.follow = false;
                self.scroll = 0;
            }
            Some(ModeAction::Bottom) => self.scroll = last,
            Some(ModeAction::Follow) => {
                self.follow = !self.follow;
                if self.follow {
                    self.scroll = last;
                }
            }
            Some(ModeAction::Search) => {
                self.searching = true;
                self.search.clear();
            }
            Some(ModeAction::NextMatch) => self.jump(true),
            Some(ModeAction::PrevMatch) => self.jump(false),
            _ => {}
        }
        Reply::Stay
    }
}

impl Viewer {
    /// A viewer over `text`, the log's first bytes; it starts at the end, following.
    pub fn new(title: String, path: PathBuf, text: &str) -> Viewer {
        let mut viewer = Viewer {
            title,
            path,
            follow: true,
            ..Viewer::default()
        };
        viewer.append(text.as_bytes());
        viewer
    }

    /// Opens the log at `path`; a log that cannot be read says why in its one line.
    pub fn open(title: String, path: PathBuf) -> Viewer {
        let mut viewer = Viewer::new(title, path, "");
        if let Err(err) = viewer.read_more() {
            viewer.lines = vec![format!("cannot read {}: {err}", viewer.path.display())];
        }
        viewer
    }

    /// Reads what was appended to the log since the last read (and the unfinished last line
    /// again); a log that shrank was rewritten, so it is read from the start.
    pub fn read_more(&mut self) -> std::io::Result<()> {
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        if len < self.read_to {
            self.lines.clear();
            self.read_to = 0;
            self.partial = false;
            self.scroll = 0;
            self.hidden_bytes = 0;
            self.noted = false;
        }
        if self.read_to == 0 && len > OPEN_BYTES {
            // Start at a line's beginning inside the last OPEN_BYTES.
            file.seek(SeekFrom::Start(len - OPEN_BYTES))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            let start = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
            self.read_to = len - OPEN_BYTES + start as u64;
            self.hidden_bytes = self.read_to;
            self.append(&bytes[start..]);
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.read_to))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        self.append(&bytes);
        Ok(())
    }

    /// Says what the window leaves out, as the first line.
    fn note_hidden(&mut self) {
        if self.hidden_bytes == 0 {
            return;
        }
        let note = format!(
            "… the first {} of this log are not shown here; the whole log: {}",
            human_bytes(self.hidden_bytes),
            self.path.display()
        );
        match self.lines.first_mut() {
            Some(first) if self.noted => *first = note,
            _ => {
                self.lines.insert(0, note);
                self.noted = true;
                self.scroll += 1;
            }
        }
    }

    /// The bytes that follow `read_to` in the file. Lines are cut at newlines only, so a line
    /// still being written stays `partial` and is replaced by the next read of it.
    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.partial {
            self.lines.pop();
            self.partial = false;
        }
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let (done, rest) = bytes.split_at(complete);
        self.lines
            .extend(String::from_utf8_lossy(done).lines().map(String::from));
        if !rest.is_empty() {
            self.lines.push(String::from_utf8_lossy(rest).into_owned());
            self.partial = true;
        }
        self.read_to += complete as u64;
        if self.lines.len() > KEEP_LINES {
            let drop = self.lines.len() - KEEP_LINES;
            let first_log_line = usize::from(self.noted);
            let dropped: usize = self.lines[first_log_line..first_log_line + drop]
                .iter()
                .map(|line| line.len() + 1)
                .sum();
            self.lines.drain(first_log_line..first_log_line + drop);
            self.hidden_bytes += dropped as u64;
            self.scroll = self.scroll.saturating_sub(drop);
        }
        self.note_hidden();
        let last = self.lines.len().saturating_sub(1);
        if self.follow {
            self.scroll = last;
        } else {
            self.scroll = self.scroll.min(last);
        }
    }

    fn scroll_by(&mut self, by: isize) {
        self.follow = false;
        let last = self.lines.len().saturating_sub(1) as isize;
        self.scroll = (self.scroll as isize + by).clamp(0, last) as usize;
    }

    /// Moves to the next (or previous) line containing the search text.
    fn jump(&mut self, forward: bool) {
        self.no_match = false;
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
        match hit {
            Some(line) => {
                self.follow = false;
                self.scroll = line;
            }
            None => self.no_match = true,
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_huge_log_opens_on_its_last_window_and_says_what_it_leaves_out() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let line = "x".repeat(99);
        let total = (OPEN_BYTES as usize / 100) * 3;
        for n in 0..total {
            writeln!(file, "{n:08} {}", &line[9..]).unwrap();
        }
        file.flush().unwrap();
        let viewer = Viewer::open("log".into(), file.path().to_path_buf());
        assert!(
            viewer.lines[0].starts_with("… the first 8.0 MiB"),
            "{}",
            viewer.lines[0]
        );
        assert!(viewer.lines[0].contains(&file.path().display().to_string()));
        let shown = viewer.lines.len() - 1;
        assert!(shown <= OPEN_BYTES as usize / 100 + 1, "{shown} lines read");
        assert_eq!(
            viewer.lines.last().unwrap()[..8],
            format!("{:08}", total - 1),
            "the window ends at the log's end"
        );
        assert_eq!(viewer.scroll, viewer.lines.len() - 1, "it follows the end");
        // Rewritten smaller: read from its start, and nothing is said to be left out.
        let mut viewer = viewer;
        std::fs::write(file.path(), "fresh\nlog\n").unwrap();
        viewer.read_more().unwrap();
        assert_eq!(viewer.lines, ["fresh", "log"]);
    }

    #[test]
    fn a_growing_log_keeps_its_newest_lines_and_counts_the_rest_as_left_out() {
        let mut viewer = Viewer::new("log".into(), PathBuf::from("/tmp/run.log"), "");
        let chunk: String = (0..KEEP_LINES).map(|n| format!("{n:09}\n")).collect();
        viewer.append(chunk.as_bytes());
        assert_eq!(viewer.lines.len(), KEEP_LINES, "nothing left out yet");
        viewer.append(b"newest\n");
        assert_eq!(
            viewer.lines.len(),
            KEEP_LINES + 1,
            "the note and the newest lines"
        );
        assert!(
            viewer.lines[0].starts_with("… the first 10 bytes"),
            "{}",
            viewer.lines[0]
        );
        assert_eq!(viewer.lines[1], "000000001");
        assert_eq!(viewer.lines.last().unwrap(), "newest");
    }
}
