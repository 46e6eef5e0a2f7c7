//! A run's log: kept up to the log limit, streamed live to any number of readers.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::mask::Masker;
use crate::outcome::{LogKind, LogLevel, LogLine};

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
///
/// Live readers ([`LogStream`]) read the kept lines in place, each at its
/// own position, and wait for more on a signal: nothing is copied for a
/// reader until it reads, and no reader, however slow, misses a line. (A
/// broadcast channel of 1,024 lines, which every run made for its log pump,
/// was about 100 KiB allocated and touched per run.)
pub(crate) struct LogSink {
    state: Mutex<LogState>,
    /// Changed after each kept line and at the end.
    grew: watch::Sender<()>,
    limit_bytes: usize,
    /// The run's secrets, masked in every line before it is kept or streamed.
    mask: Masker,
}

struct LogState {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// The run has finished: live readers end after the last kept line.
    ended: bool,
}

impl LogSink {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        Self {
            state: Mutex::new(LogState {
                lines: Vec::new(),
                bytes: 0,
                dropped_lines: 0,
                dropped_bytes: 0,
                ended: false,
            }),
            grew: watch::Sender::new(()),
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
            kind: LogKind::Output,
        };
        state.lines.push(line);
        drop(state);
        self.grew.send_replace(());
    }

    /// The lines so far, then every later one as it is written.
    pub(crate) fn subscribe(self: &Arc<Self>) -> LogStream {
        LogStream {
            grew: self.grew.subscribe(),
            sink: Arc::clone(self),
            next: 0,
        }
    }

    /// Ends the log: appends the truncation marker if lines were dropped,
    /// closes live streams and returns the kept lines. The sink keeps them
    /// too, so a stream opened after the end still replays the whole log;
    /// a second call returns the same lines.
    pub(crate) fn finish(&self) -> Vec<LogLine> {
        let mut state = self.lock();
        if state.ended {
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
                kind: LogKind::Truncated {
                    lines: state.dropped_lines,
                    bytes: state.dropped_bytes,
                },
            };
            state.lines.push(line);
        }
        state.ended = true;
        let lines = state.lines.clone();
        drop(state);
        self.grew.send_replace(());
        lines
    }
}

/// A live view of a run's log: the lines written so far, then each new line,
/// ending when the run ends. Every kept line reaches every reader, however
/// slowly it reads.
pub struct LogStream {
    sink: Arc<LogSink>,
    /// The position of the next line to hand out.
    next: usize,
    grew: watch::Receiver<()>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl LogStream {
    /// The next line, or `None` once the run has ended and every line was read.
    pub async fn next(&mut self) -> Option<LogLine> {
        loop {
            {
                let state = self.sink.lock();
                if let Some(line) = state.lines.get(self.next) {
                    self.next += 1;
                    return Some(line.clone());
                }
                if state.ended {
                    return None;
                }
            }
            // A line (or the end) kept after the look above has changed
            // the signal since this reader last waited: no wake is lost.
            // The sender lives in the sink this stream holds, so it is
            // never closed while the stream waits.
            if self.grew.changed().await.is_err() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_lines_are_bounded_too() {
        let sink = Arc::new(LogSink::new(100 * LINE_OVERHEAD_BYTES));
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
        let sink = Arc::new(LogSink::new(1000));
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
        let sink = Arc::new(LogSink::new(2 * LINE_OVERHEAD_BYTES + 6));
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
        let sink = Arc::new(LogSink::new(limit));
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
        assert_eq!(lines[1].kind, LogKind::Truncated { lines: 2, bytes: 7 });
        assert_eq!(lines[0].kind, LogKind::Output);
    }

    /// However far behind a reader is, it reads every kept line, in order,
    /// and readers opened at different moments read the same lines.
    #[tokio::test]
    async fn a_slow_reader_misses_nothing() {
        let sink = Arc::new(LogSink::new(usize::MAX));
        let mut early = sink.subscribe();
        for i in 0..5_000 {
            sink.push(LogLevel::Info, i.to_string());
        }
        let mut late = sink.subscribe();
        let writer = {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                for i in 5_000..6_000 {
                    sink.push(LogLevel::Info, i.to_string());
                    tokio::task::yield_now().await;
                }
                sink.finish();
            })
        };
        for stream in [&mut early, &mut late] {
            for i in 0..6_000 {
                assert_eq!(stream.next().await.unwrap().message, i.to_string());
            }
            assert!(stream.next().await.is_none());
        }
        writer.await.unwrap();
    }
}
