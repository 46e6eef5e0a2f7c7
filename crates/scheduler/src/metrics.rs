//! What the server exports at `/metrics`: runs by job and status, run
//! durations and fire lateness as fixed-bucket histograms, and the live
//! counts. Plain atomics and one small map; no metrics library.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use store::RunStatus;

/// Upper bounds (seconds) of the fire lateness buckets: start minus the
/// scheduled instant.
pub const LATENESS_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0,
];
/// Upper bounds (seconds) of the run duration buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// A histogram with fixed bucket bounds, updated with atomics.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the overflow bucket.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let per_bucket: Vec<u64> = self
            .counts
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        let mut running = 0;
        let cumulative = per_bucket
            .iter()
            .map(|count| {
                running += count;
                running
            })
            .collect::<Vec<_>>();
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            cumulative_counts: cumulative[..self.bounds.len()].to_vec(),
            count: running,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram as Prometheus exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds of the buckets, in seconds (the `le` labels).
    pub bounds: Vec<f64>,
    /// Observations at or below each bound (cumulative, one per bound).
    pub cumulative_counts: Vec<u64>,
    /// All observations (the `+Inf` bucket).
    pub count: u64,
    /// Sum of all observations, in seconds.
    pub sum_seconds: f64,
}

/// Counters this node keeps.
#[derive(Debug)]
pub(crate) struct Metrics {
    runs: Mutex<HashMap<(i64, RunStatus), u64>>,
    pub(crate) run_duration: Histogram,
    pub(crate) fire_lateness: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            runs: Mutex::new(HashMap::new()),
            run_duration: Histogram::new(DURATION_BUCKETS),
            fire_lateness: Histogram::new(LATENESS_BUCKETS),
        }
    }

    /// Counts a run of `job_id` that reached `status` on this node.
    pub(crate) fn count_run(&self, job_id: i64, status: RunStatus) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        *runs.entry((job_id, status)).or_default() += 1;
    }

    pub(crate) fn snapshot(
        &self,
        queued: u64,
        running: u64,
        running_here: u64,
    ) -> SchedulerMetrics {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut runs: Vec<RunCount> = runs
            .iter()
            .map(|(&(job_id, status), &count)| RunCount {
                job_id,
                status,
                count,
            })
            .collect();
        runs.sort_by_key(|r| (r.job_id, r.status.as_str()));
        SchedulerMetrics {
            runs,
            run_duration: self.run_duration.snapshot(),
            fire_lateness: self.fire_lateness.snapshot(),
            queued,
            running,
            running_here,
        }
    }
}

/// How many runs of a job reached a status on this node since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCount {
    /// The job.
    pub job_id: i64,
    /// The status (final ones, `skipped` and `missed`).
    pub status: RunStatus,
    /// How many.
    pub count: u64,
}

/// A snapshot of the scheduler's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerMetrics {
    /// Runs by job and status recorded by this node (a counter).
    pub runs: Vec<RunCount>,
    /// Durations of runs this node executed.
    pub run_duration: HistogramSnapshot,
    /// Start minus scheduled instant of scheduled runs this node started.
    pub fire_lateness: HistogramSnapshot,
    /// Runs queued in the whole database.
    pub queued: u64,
    /// Runs running in the whole database (all nodes).
    pub running: u64,
    /// Runs executing on this node.
    pub running_here: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_cumulatively_with_an_overflow_bucket() {
        let histogram = Histogram::new(&[0.01, 0.1]);
        for ms in [1, 10, 50, 2000] {
            histogram.observe(Duration::from_millis(ms));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.cumulative_counts, [2, 3]);
        assert_eq!(snapshot.count, 4);
        assert!((snapshot.sum_seconds - 2.061).abs() < 1e-9);
    }

    #[test]
    fn runs_are_counted_by_job_and_status() {
        let metrics = Metrics::new();
        metrics.count_run(2, RunStatus::Failed);
        metrics.count_run(1, RunStatus::Succeeded);
        metrics.count_run(1, RunStatus::Succeeded);
        let snapshot = metrics.snapshot(3, 4, 1);
        assert_eq!(
            snapshot.runs,
            [
                RunCount {
                    job_id: 1,
                    status: RunStatus::Succeeded,
                    count: 2
                },
                RunCount {
                    job_id: 2,
                    status: RunStatus::Failed,
                    count: 1
                },
            ]
        );
        assert_eq!(
            (snapshot.queued, snapshot.running, snapshot.running_here),
            (3, 4, 1)
        );
    }
}
