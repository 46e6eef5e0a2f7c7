//! A run's log: kept up to the log limit, streamed live to any number of readers.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::mask::Masker;
use crate::outcome::{LogLevel, LogLine};

/// Lines a slow live reader may fall behind before it skips some.
const LIVE_CAPACITY: usize = 1024;
/// What a kept line costs beyond its message (timestamp, level, bookkeeping),
/// so that a flood of empty lines is bounded too.
pub(crate) const LINE_OVERHEAD_BYTES: usize = 64;

/// Collects one run's log lines.
///
/// Each kept line counts its message bytes plus [`LINE_OVERHEAD_BYTES`]
/// towards the limit. Once a line would pass the limit, that line and every
/// later one are only counted; [`LogSink::finish`] then appends one marker
/// line saying how many were dropped. The memory held is bounded by the
/// limit, however much a script logs.
pub(crate) struct LogSink {
    state: Mutex<LogState>,
    limit_bytes: usize,
    /// The run's secrets, masked in every line before it is kept or streamed.
    mask: Masker,
}

struct LogState {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// `None` once the run has finished: live readers then see the end.
    live: Option<broadcast::Sender<LogLine>>,
}

impl LogSink {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        Self {
            state: Mutex::new(LogState {
                lines: Vec::new(),
                bytes: 0,
                dropped_lines: 0,
                dropped_bytes: 0,
                live: Some(broadcast::channel(LIVE_CAPACITY).0),
            }),
            limit_bytes,
            mask: Masker::default(),
        }
    }

    /// The secrets of the run this log belongs to.
    pub(crate) fn masker(&self) -> &Masker {
        &self.mask
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // Plain data: consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, level: LogLevel, message: String) {
        let message = self.mask.text(&message);
        let mut state = self.lock();
        let size = message.len();
        let cost = size.saturating_add(LINE_OVERHEAD_BYTES);
        if state.dropped_lines > 0 || state.bytes.saturating_add(cost) > self.limit_bytes {
            state.dropped_lines += 1;
            state.dropped_bytes += size as u64;
            return;
        }
        state.bytes += cost;
        let line = LogLine {
            ts: jiff::Timestamp::now(),
            level,
            message,
        };
        if let Some(live) = &state.live {
            // No receiver is not an error: nobody is watching.
            let _ = live.send(line.clone());
        }
        state.lines.push(line);
    }

    /// The lines so far, then every later one as it is written.
    pub(crate) fn subscribe(&self) -> LogStream {
        let state = self.lock();
        LogStream {
            backlog: state.lines.iter().cloned().collect(),
            live: state.live.as_ref().map(broadcast::Sender::subscribe),
        }
    }

    /// Ends the log: appends the truncation marker if lines were dropped,
    /// closes live streams and returns the kept lines. The sink keeps them
    /// too, so a stream opened after the end still replays the whole log;
    /// a second call returns the same lines.
    pub(crate) fn finish(&self) -> Vec<LogLine> {
        let mut state = self.lock();
        if state.live.is_none() {
            return state.lines.clone();
        }
        if state.dropped_lines > 0 {
            let line = LogLine {
                ts: jiff::Timestamp::now(),
                level: LogLevel::Warn,
                message: format!(
                    "… {} log lines ({} bytes) dropped: the log limit is {} bytes",
                    state.dropped_lines, state.dropped_bytes, self.limit_bytes
                ),
            };
            if let Some(live) = &state.live {
                let _ = live.send(line.clone());
            }
            state.lines.push(line);
        }
        state.live = None;
        state.lines.clone()
    }
}

/// A live view of a run's log: the lines written so far, then each new line,
/// ending when the run ends. A reader more than 1,024 lines behind skips
/// ahead and is told how many lines it missed.
#[derive(Debug)]
pub struct LogStream {
    backlog: VecDeque<LogLine>,
    live: Option<broadcast::Receiver<LogLine>>,
}

impl LogStream {
    /// The next line, or `None` once the run has ended and every line was read.
    pub async fn next(&mut self) -> Option<LogLine> {
        if let Some(line) = self.backlog.pop_front() {
            return Some(line);
        }
        let live = self.live.as_mut()?;
        match live.recv().await {
            Ok(line) => Some(line),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(LogLine {
                ts: jiff::Timestamp::now(),
                level: LogLevel::Warn,
                message: format!("… {missed} log lines skipped: this reader fell behind"),
            }),
            Err(broadcast::error::RecvError::Closed) => {
                self.live = None;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_lines_are_bounded_too() {
        let sink = LogSink::new(100 * LINE_OVERHEAD_BYTES);
        for _ in 0..1000 {
            sink.push(LogLevel::Info, String::new());
        }
        let lines = sink.finish();
        assert_eq!(lines.len(), 101);
        assert!(
            lines[100]
                .message
                .starts_with("… 900 log lines (0 bytes) dropped")
        );
    }

    #[tokio::test]
    async fn stream_replays_backlog_then_follows_until_finish() {
        let sink = LogSink::new(1000);
        sink.push(LogLevel::Info, "one".into());
        let mut stream = sink.subscribe();
        sink.push(LogLevel::Warn, "two".into());
        assert_eq!(stream.next().await.unwrap().message, "one");
        assert_eq!(stream.next().await.unwrap().message, "two");
        let lines = sink.finish();
        assert_eq!(lines.len(), 2);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_opened_after_the_end_replays_the_log_and_ends() {
        let sink = LogSink::new(2 * LINE_OVERHEAD_BYTES + 6);
        sink.push(LogLevel::Info, "one".into());
        sink.push(LogLevel::Info, "two".into());
        sink.push(LogLevel::Info, "dropped".into());
        let lines = sink.finish();
        assert_eq!(lines.len(), 3, "two lines and the marker");
        let mut stream = sink.subscribe();
        for line in &lines {
            assert_eq!(stream.next().await.as_ref(), Some(line));
        }
        assert!(stream.next().await.is_none());
        assert_eq!(sink.finish(), lines, "finishing twice adds no marker");
    }

    #[tokio::test]
    async fn lines_beyond_the_limit_become_one_marker() {
        let limit = 2 * LINE_OVERHEAD_BYTES + 10;
        let sink = LogSink::new(limit);
        sink.push(LogLevel::Info, "12345".into());
        sink.push(LogLevel::Info, "123456".into());
        sink.push(LogLevel::Info, "1".into());
        let lines = sink.finish();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1].message,
            format!("… 2 log lines (7 bytes) dropped: the log limit is {limit} bytes")
        );
        assert_eq!(lines[1].level, LogLevel::Warn);
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_missed() {
        let sink = LogSink::new(usize::MAX);
        let mut stream = sink.subscribe();
        for i in 0..LIVE_CAPACITY + 5 {
            sink.push(LogLevel::Info, i.to_string());
        }
        let first = stream.next().await.unwrap();
        assert_eq!(
            first.message,
            "… 5 log lines skipped: this reader fell behind"
        );
        assert_eq!(stream.next().await.unwrap().message, "5");
    }
}
