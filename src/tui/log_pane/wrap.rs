//! How one log record becomes the pane's lines: `HH:MM:SS:L:target:message`, wrapped at word
//! boundaries, continuation lines indented under the message. tui-logger's own formatter cuts
//! at the pane's width wherever that falls ("(act" / "ive: 4/4)") and indents under the
//! timestamp; its `LogFormatter` hook is called with the pane's width on every frame, so
//! wrapping here stays right when the terminal is resized.

use ratatui::style::Style;
use ratatui::text::Line;
use tui_logger::{ExtLogRecord, LogFormatter};

/// Continuation lines are indented under the message, but never by more than this share of
/// the width: in a narrow pane the message keeps room to be read.
const MAX_INDENT_SHARE: usize = 2;

pub struct WrappingFormatter {
    pub style: Style,
    pub style_error: Style,
    pub style_warn: Style,
}

impl LogFormatter for WrappingFormatter {
    fn min_width(&self) -> u16 {
        // Same floor as tui-logger's formatter: below it the widget draws nothing.
        13
    }

    fn format(&self, width: usize, record: &ExtLogRecord) -> Vec<Line<'_>> {
        let (style, level) = match record.level {
            log::Level::Error => (self.style_error, 'E'),
            log::Level::Warn => (self.style_warn, 'W'),
            log::Level::Info => (self.style, 'I'),
            log::Level::Debug => (self.style, 'D'),
            log::Level::Trace => (self.style, 'T'),
        };
        let prefix = format!(
            "{}:{level}:{}:",
            record.timestamp.strftime("%H:%M:%S"),
            record.target()
        );
        layout(&prefix, record.msg(), width)
            .into_iter()
            .map(|text| Line::styled(text, style))
            .collect()
    }
}

/// The rows of one record: the prefix then the message, each row at most `width` characters,
/// broken between words; a row after the first starts under the message.
pub fn layout(prefix: &str, message: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let prefix_len = prefix.chars().count();
    let indent = prefix_len.min(width / MAX_INDENT_SHARE);
    let mut rows = Vec::new();
    for (n, paragraph) in message.split('\n').enumerate() {
        let lead = if n == 0 {
            prefix.to_string()
        } else {
            " ".repeat(indent)
        };
        let lead_len = lead.chars().count();
        if lead_len >= width {
            // A prefix wider than the pane: it gets its own rows, the message starts below.
            rows.extend(wrap_words(&lead, width, width));
            rows.extend(indented(
                wrap_words(paragraph, width - indent, width - indent),
                indent,
            ));
            continue;
        }
        let mut pieces = wrap_words(paragraph, width - lead_len, width - indent).into_iter();
        rows.push(format!("{lead}{}", pieces.next().unwrap_or_default()));
        rows.extend(indented(pieces.collect(), indent));
    }
    rows
}

fn indented(rows: Vec<String>, indent: usize) -> impl Iterator<Item = String> {
    let pad = " ".repeat(indent);
    rows.into_iter().map(move |row| format!("{pad}{row}"))
}

/// Greedy word wrapping: the first row holds `first` characters, the others `rest`. Spaces at
/// a break are dropped; a word longer than a whole row is the only thing ever cut.
pub fn wrap_words(text: &str, first: usize, rest: usize) -> Vec<String> {
    let (first, rest) = (first.max(1), rest.max(1));
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut row_len = 0;
    let room = |rows: &Vec<String>| if rows.is_empty() { first } else { rest };
    for word in text.split(' ') {
        let word_len = word.chars().count();
        let gap = usize::from(row_len > 0);
        if row_len + gap + word_len <= room(&rows) {
            if gap == 1 {
                row.push(' ');
            }
            row.push_str(word);
            row_len += gap + word_len;
            continue;
        }
        if row_len > 0 {
            rows.push(std::mem::take(&mut row));
        }
        let mut chars: Vec<char> = word.chars().collect();
        while chars.len() > room(&rows) {
            let tail = chars.split_off(room(&rows));
            rows.push(chars.into_iter().collect());
            chars = tail;
        }
        row_len = chars.len();
        row = chars.into_iter().collect();
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "06:14:21:I:worker-1:";
    const PROCESSING: &str = "Worker 1 processing: deploy for server db-01 (active: 4/4)";

    #[test]
    fn a_line_that_fits_is_one_row() {
        assert_eq!(
            layout(PREFIX, PROCESSING, 200),
            vec![format!("{PREFIX}{PROCESSING}")]
        );
    }

    #[test]
    fn a_long_line_breaks_between_words_and_continues_under_the_message() {
        let rows = layout(PREFIX, PROCESSING, 51);
        assert_eq!(
            rows,
            vec![
                "06:14:21:I:worker-1:Worker 1 processing: deploy for",
                "                    server db-01 (active: 4/4)",
            ]
        );
    }

    #[test]
    fn no_row_is_wider_than_the_pane_and_no_word_is_cut() {
        for width in 30..=80 {
            let rows = layout(PREFIX, PROCESSING, width);
            assert!(
                rows.iter().all(|row| row.chars().count() <= width),
                "{width}: {rows:?}"
            );
            let words: Vec<&str> = rows.iter().flat_map(|row| row.split_whitespace()).collect();
            let mut expected = vec![PREFIX.trim_end_matches(':').to_string() + ":Worker"];
            expected.extend(PROCESSING.split(' ').skip(1).map(str::to_string));
            assert_eq!(words, expected, "width {width}");
        }
    }

    #[test]
    fn in_a_narrow_pane_the_indent_leaves_room_for_the_message() {
        let rows = layout(PREFIX, PROCESSING, 24);
        assert!(rows.iter().all(|row| row.chars().count() <= 24), "{rows:?}");
        assert!(rows[1].starts_with(&" ".repeat(12)), "{rows:?}");
        assert!(!rows[1].starts_with(&" ".repeat(13)), "{rows:?}");
    }

    #[test]
    fn only_a_word_longer_than_a_row_is_cut() {
        assert_eq!(
            wrap_words("see /var/log/fleetdeck/abcdefghij now", 10, 10),
            vec!["see", "/var/log/f", "leetdeck/a", "bcdefghij", "now"]
        );
    }

    #[test]
    fn the_first_row_has_its_own_room() {
        assert_eq!(
            wrap_words("one two three four", 3, 9),
            vec!["one", "two three", "four"]
        );
    }

    #[test]
    fn a_multi_line_message_keeps_its_lines_indented_under_the_message() {
        let rows = layout("12:00:00:W:engine:", "first\nsecond", 60);
        assert_eq!(
            rows,
            vec!["12:00:00:W:engine:first", "                  second"]
        );
    }
}
