//! The controller's reader of an `ansible-runner worker`'s output: JSON lines (status lines
//! and job events), then a length-prefixed base64 zip of the artifacts, then `{"eof": true}`
//! (wire format: `../shared/lab/execution-nodes/README.md` §5).
//!
//! The worker's first status line carries its whole environment (`env`, secrets included):
//! status lines are read into a struct without that field, so it is never kept. From the
//! artifacts only `rc` and `status` are read, never `command` (which holds the same env).

use super::events::JobEvent;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::io::{Read, Seek, SeekFrom, Write};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A longer line (an event of a task that printed megabytes) is skipped, not buffered.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// The line buffer's capacity kept between lines.
const LINE_KEPT_BYTES: usize = 64 << 10;
/// The artifacts zip (the run's whole stdout among others) is refused beyond this.
pub const MAX_ZIP_BYTES: u64 = 1 << 30;
/// The decoded zip stays in memory up to this size, then spills to a temporary file.
const ZIP_IN_MEMORY_BYTES: usize = 4 << 20;
/// How much of the `rc` and `status` files is read.
const SMALL_FILE_BYTES: u64 = 256;

#[derive(Debug, PartialEq)]
pub enum Frame {
    Status(StatusLine),
    Event(Box<JobEvent>),
    Artifacts(Artifacts),
    /// `{"eof": true}`: the worker said everything.
    Eof,
}

/// A status line, without the worker's `env`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StatusLine {
    pub status: RunnerStatus,
    #[serde(default)]
    pub rc: Option<i32>,
    #[serde(default)]
    pub job_explanation: Option<String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunnerStatus {
    Starting,
    Running,
    Successful,
    Failed,
    Canceled,
    Timeout,
    Error,
    Other(String),
}

impl<'de> Deserialize<'de> for RunnerStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "starting" => RunnerStatus::Starting,
            "running" => RunnerStatus::Running,
            "successful" => RunnerStatus::Successful,
            "failed" => RunnerStatus::Failed,
            "canceled" => RunnerStatus::Canceled,
            "timeout" => RunnerStatus::Timeout,
            "error" => RunnerStatus::Error,
            other => RunnerStatus::Other(other.to_string()),
        })
    }
}

/// What the artifacts zip says of the run's end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub rc: Option<i32>,
    pub status: Option<String>,
}

/// Which frame a line is, read without materialising anything else (an `env` above all).
#[derive(Deserialize)]
struct Probe {
    zipfile: Option<u64>,
    eof: Option<IgnoredAny>,
    status: Option<IgnoredAny>,
    event: Option<serde_json::Value>,
}

pub struct StreamReader<R> {
    input: BufReader<R>,
    bytes_read: u64,
    lines_read: u64,
    oversized_lines: u64,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> StreamReader<R> {
    pub fn new(input: R) -> StreamReader<R> {
        StreamReader {
            input: BufReader::with_capacity(64 << 10, input),
            bytes_read: 0,
            lines_read: 0,
            oversized_lines: 0,
            line: Vec::new(),
        }
    }

    /// The rest of the input, for reading it to its end after a frame went wrong.
    pub fn into_inner(self) -> tokio::io::BufReader<R> {
        self.input
    }

    /// Bytes taken from the input so far (a transport that failed before any byte is retried
    /// elsewhere; one that failed later is not).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Lines longer than [`MAX_LINE_BYTES`] skipped so far.
    pub fn oversized_lines(&self) -> u64 {
        self.oversized_lines
    }

    /// The next frame; `None` at a clean end of the input (between two frames). An end in the
    /// middle of a line or of the zip is an error: the stream broke.
    pub async fn next(&mut self) -> Result<Option<Frame>> {
        loop {
            if !self.read_line().await? {
                return Ok(None);
            }
            let number = self.lines_read;
            let probe: Probe = serde_json::from_slice(&self.line).map_err(|err| {
                anyhow!(
                    "line {number} of the worker's output ({} bytes) is not a JSON object ({err}): \
                     does something on the node (a login script?) print to stdout?",
                    self.line.len()
                )
            })?;
            if let Some(size) = probe.zipfile {
                return self
                    .read_artifacts(size)
                    .await
                    .map(|a| Some(Frame::Artifacts(a)));
            }
            if probe.eof.is_some() {
                return Ok(Some(Frame::Eof));
            }
            if probe.status.is_some() {
                let status = serde_json::from_slice(&self.line)
                    .with_context(|| format!("reading status line {number} of the worker"))?;
                return Ok(Some(Frame::Status(status)));
            }
            match probe.event {
                Some(serde_json::Value::String(name)) if name == "keepalive" => continue,
                Some(_) => {
                    let event = serde_json::from_slice(&self.line)
                        .with_context(|| format!("reading event line {number} of the worker"))?;
                    return Ok(Some(Frame::Event(Box::new(event))));
                }
                // A frame a later runner may add: nothing of it is ours to read.
                None => continue,
            }
        }
    }

    /// Reads the next line (without its newline) into `self.line`; false at a clean end.
    async fn read_line(&mut self) -> Result<bool> {
        self.line.clear();
        // One long event must not keep megabytes per run in flight for the rest of the run.
        self.line.shrink_to(LINE_KEPT_BYTES);
        let mut oversized = false;
        loop {
            let buffer = self
                .input
                .fill_buf()
                .await
                .context("reading the worker's output")?;
            if buffer.is_empty() {
                if self.line.is_empty() && !oversized {
                    return Ok(false);
                }
                bail!(
                    "the worker's stream broke: it ended in the middle of a line, after {} bytes",
                    self.bytes_read
                );
            }
            let (taken, complete) = match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (at, true),
                None => (buffer.len(), false),
            };
            if !oversized && self.line.len() + taken > MAX_LINE_BYTES {
                oversized = true;
                self.line.clear();
            }
            if !oversized {
                self.line.extend_from_slice(&buffer[..taken]);
            }
            let consumed = taken + usize::from(complete);
            self.input.consume(consumed);
            self.bytes_read += consumed as u64;
            if complete {
                self.lines_read += 1;
                if !oversized {
                    return Ok(true);
                }
                self.oversized_lines += 1;
                log::warn!(
                    "skipped line {} of a worker's output: longer than {MAX_LINE_BYTES} bytes",
                    self.lines_read
                );
                oversized = false;
            }
        }
    }

    /// `{"zipfile": N}` is followed by exactly 4*ceil(N/3) bytes of base64, then the next line.
    async fn read_artifacts(&mut self, size: u64) -> Result<Artifacts> {
        if size > MAX_ZIP_BYTES {
            bail!("the worker's artifacts zip is {size} bytes, more than the {MAX_ZIP_BYTES} read");
        }
        let encoded = size.div_ceil(3) * 4;
        let mut zip = tempfile::SpooledTempFile::new(ZIP_IN_MEMORY_BYTES);
        let mut quads: Vec<u8> = Vec::new();
        let mut decoded = Vec::new();
        let mut left = encoded;
        while left > 0 {
            let buffer = self
                .input
                .fill_buf()
                .await
                .context("reading the worker's artifacts zip")?;
            if buffer.is_empty() {
                bail!(
                    "the worker's stream broke in the middle of the artifacts zip \
                     ({} of {encoded} base64 bytes)",
                    encoded - left
                );
            }
            let taken = buffer
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            quads.extend_from_slice(&buffer[..taken]);
            self.input.consume(taken);
            self.bytes_read += taken as u64;
            left -= taken as u64;
            // Padding only ends the last quad, so whole quads decode on their own.
            let whole = quads.len() / 4 * 4;
            decoded.clear();
            base64::engine::general_purpose::STANDARD
                .decode_vec(&quads[..whole], &mut decoded)
                .context("the worker's artifacts zip is not valid base64")?;
            zip.write_all(&decoded)
                .context("buffering the worker's artifacts zip")?;
            quads.drain(..whole);
        }
        if !quads.is_empty() {
            bail!("the worker's artifacts zip is not valid base64 (a partial last quad)");
        }
        zip.seek(SeekFrom::Start(0))
            .context("buffering the worker's artifacts zip")?;
        read_rc_and_status(zip)
    }
}

/// Synchronous: the zip comes once per run, at its end, and the two files read are a few bytes.
fn read_rc_and_status(zip: impl Read + Seek) -> Result<Artifacts> {
    let mut archive =
        zip::ZipArchive::new(zip).context("the worker's artifacts are not a readable zip")?;
    let mut small_file = |name: &str| -> Result<Option<String>> {
        let Ok(file) = archive.by_name(name) else {
            return Ok(None);
        };
        let mut text = String::new();
        file.take(SMALL_FILE_BYTES)
            .read_to_string(&mut text)
            .with_context(|| format!("reading {name} from the worker's artifacts zip"))?;
        Ok(Some(text.trim().to_string()))
    };
    let rc = small_file("rc")?.and_then(|rc| rc.parse().ok());
    let status = small_file("status")?.filter(|status| !status.is_empty());
    Ok(Artifacts { rc, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(stream: &[u8]) -> Result<Vec<Frame>> {
        let mut reader = StreamReader::new(stream);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[tokio::test]
    async fn the_env_of_a_status_line_is_nowhere_in_what_is_read() {
        let line = br#"{"status": "starting", "runner_ident": "r1", "command": ["ansible-playbook", "site.yml"], "env": {"SECRET_TOKEN": "hunter2-s3cr3t", "PATH": "/usr/bin"}, "cwd": "/w"}
"#;
        let frames = frames(line).await.expect("a status line");
        let text = format!("{frames:?}");
        assert!(!text.contains("hunter2-s3cr3t"), "{text}");
        assert!(!text.contains("SECRET_TOKEN"), "{text}");
        assert_eq!(
            frames,
            vec![Frame::Status(StatusLine {
                status: RunnerStatus::Starting,
                rc: None,
                job_explanation: None,
                command: Some(vec!["ansible-playbook".into(), "site.yml".into()]),
            })]
        );
    }

    #[tokio::test]
    async fn a_status_line_that_cannot_be_read_does_not_quote_its_env() {
        let line = br#"{"status": "failed", "rc": "two", "env": {"SECRET_TOKEN": "hunter2-s3cr3t"}}
"#;
        let err = frames(line).await.expect_err("rc is no number");
        assert!(!format!("{err:#}").contains("hunter2"), "{err:#}");
    }

    #[tokio::test]
    async fn keepalives_and_unknown_frames_are_skipped() {
        let stream = b"{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}\n\
{\"something_new\": 1}\n{\"status\": \"error\", \"job_explanation\": \"bad zip\"}\n{\"eof\": true}\n";
        let frames = frames(stream).await.expect("frames");
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(
            matches!(&frames[0], Frame::Status(StatusLine { status: RunnerStatus::Error, job_explanation: Some(why), .. }) if why == "bad zip")
        );
        assert_eq!(frames[1], Frame::Eof);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_skipped_and_the_next_one_read() {
        let mut stream = b"{\"event\": \"verbose\", \"stdout\": \"".to_vec();
        stream.resize(stream.len() + MAX_LINE_BYTES + 10, b'x');
        stream.extend_from_slice(b"\"}\n{\"eof\": true}\n");
        let mut reader = StreamReader::new(&stream[..]);
        assert_eq!(reader.next().await.expect("a frame"), Some(Frame::Eof));
        assert_eq!(reader.oversized_lines(), 1);
        assert_eq!(reader.bytes_read(), stream.len() as u64);
    }

    fn zip_frame(files: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("a zip entry");
            zip.write_all(content.as_bytes()).expect("zip content");
        }
        let zip = zip.finish().expect("a zip").into_inner();
        let mut frame = format!("{{\"zipfile\": {}}}\n", zip.len()).into_bytes();
        frame.extend(
            base64::engine::general_purpose::STANDARD
                .encode(&zip)
                .into_bytes(),
        );
        frame.extend_from_slice(b"{\"eof\": true}\n");
        frame
    }

    #[tokio::test]
    async fn the_artifacts_give_rc_and_status_and_nothing_of_command() {
        let frame = zip_frame(&[
            ("rc", "2\n"),
            ("status", "failed\n"),
            ("command", r#"{"env": {"SECRET_TOKEN": "hunter2-s3cr3t"}}"#),
        ]);
        let frames = frames(&frame).await.expect("frames");
        assert!(!format!("{frames:?}").contains("hunter2"));
        let artifacts = Artifacts {
            rc: Some(2),
            status: Some("failed".into()),
        };
        assert_eq!(frames, vec![Frame::Artifacts(artifacts), Frame::Eof]);
        let without = zip_frame(&[("stdout", "hello")]);
        let frames = self::frames(&without).await.expect("frames");
        assert_eq!(frames[0], Frame::Artifacts(Artifacts::default()));
    }

    #[tokio::test]
    async fn a_zip_frame_that_is_not_base64_or_not_a_zip_is_an_error() {
        let not_base64 = b"{\"zipfile\": 3}\n!!!!{\"eof\": true}\n";
        let err = frames(not_base64).await.expect_err("not base64");
        assert!(format!("{err:#}").contains("base64"), "{err:#}");
        let not_zip = b"{\"zipfile\": 3}\nYWJj{\"eof\": true}\n";
        let err = frames(not_zip).await.expect_err("not a zip");
        assert!(format!("{err:#}").contains("not a readable zip"), "{err:#}");
    }

    #[tokio::test]
    async fn output_that_is_not_json_is_an_error_that_says_where() {
        let err = frames(b"Welcome to exec-a!\n").await.expect_err("not JSON");
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }
}
