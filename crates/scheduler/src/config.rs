//! How a scheduler is set up: its node identity, capacity, timings and the
//! environment runs execute in.

use std::{fmt, sync::Arc, time::Duration};

use runtime::{Services, Sites};
use store::{JobSpec, Run};

/// What a run reaches outside its sandbox: product sites with credentials,
/// storage, queues and the HTTP client. The binary provides the real one
/// (the store's key-value adapter, the egress client, configured sites);
/// the scheduler only asks for it when a run starts.
pub trait RunEnvironment: Send + Sync {
    /// The sites and services of one run of `job`.
    fn prepare(&self, job: &JobSpec, run: &Run) -> (Sites, Services);
}

/// No sites, fresh in-memory storage and queues, no HTTP: for tests and
/// for scripts that only compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsolatedEnvironment;

impl RunEnvironment for IsolatedEnvironment {
    fn prepare(&self, _job: &JobSpec, _run: &Run) -> (Sites, Services) {
        (Sites::default(), Services::in_memory())
    }
}

/// How long audit entries are kept unless configured otherwise.
pub(crate) const DEFAULT_AUDIT_DAYS: u32 = 90;

/// A scheduler's settings. [`SchedulerConfig::new`] gives the defaults.
#[derive(Clone)]
pub struct SchedulerConfig {
    /// This node's name in the database (`runs.node`): unique among the
    /// nodes sharing a database.
    pub node_id: String,
    /// Runs live at once on this node (each on a thread of its own while
    /// live); further runs wait `queued`. Default [`default_workers`].
    pub workers: usize,
    /// The memory budget of this node's live runs, in MiB: a run starts
    /// only while the `memory_limit_mb` of the live runs, its own included,
    /// add up to at most this; otherwise it waits `queued`. A run whose
    /// limit alone exceeds it ends `failed` without starting. Default
    /// [`default_total_memory_mb`].
    pub total_memory_mb: u32,
    /// How long a claimed run stays this node's without a heartbeat;
    /// heartbeats renew it every third of it. A node that cannot renew a
    /// lease stops the run itself when a third of the lease is left (the
    /// fencing margin, [`SchedulerConfig::fence_margin`]): node clocks must
    /// agree to well within that margin, or another node may see the lease
    /// expire while the run still executes here.
    pub lease: Duration,
    /// An occurrence found later than this after its instant counts as
    /// misfired (downtime, a paused process) and follows the misfire policy.
    pub misfire_threshold: Duration,
    /// Catch-up runs per job at most under misfire `run_all`.
    pub max_catch_up: usize,
    /// Occurrences claimed per transaction; runs of a claim start before the
    /// next claim is made.
    pub claim_batch: usize,
    /// How long before its instant an occurrence is claimed, so that the
    /// claim's database work is done when the instant comes and its runs
    /// start on the dot. The overlap decision sees the runs active at claim
    /// time; a claimed run is `running` (on this node) from its instant.
    pub claim_ahead: Duration,
    /// How often a running run's new log lines are stored.
    pub log_flush_interval: Duration,
    /// How long the writer waits to gather more writes into one commit.
    pub commit_window: Duration,
    /// How often everything is re-read from the database as a backstop for
    /// lost notifications (PostgreSQL only; SQLite has one node).
    pub backstop_poll: Duration,
    /// How often runs whose lease expired are looked for.
    pub sweep_interval: Duration,
    /// How often history is pruned to each job's retention.
    pub retention_interval: Duration,
    /// Runs deleted per statement while pruning.
    pub retention_batch: u32,
    /// Audit entries older than this many days are pruned with the run
    /// history (`[retention] audit_days`; default 90); `None` keeps them all.
    pub audit_days: Option<u32>,
    /// What runs reach outside their sandbox.
    pub environment: Arc<dyn RunEnvironment>,
    /// The HTTP client failure alerts are posted with; `None` disables
    /// alerts on this node (nothing is enqueued or sent).
    pub alerts: Option<egress::Client>,
    /// Notified when runs were queued outside the scheduler (a
    /// [`StoreQueue`](crate::StoreQueue) push): its workers look for them at once.
    pub runs_queued: Arc<tokio::sync::Notify>,
}

impl SchedulerConfig {
    /// The defaults for node `node_id`: [`default_workers`], a 30 s lease, a 5 s
    /// misfire threshold, 100 catch-up runs, claims 100 ms ahead, logs
    /// stored every second.
    pub fn new(node_id: impl Into<String>) -> SchedulerConfig {
        SchedulerConfig {
            node_id: node_id.into(),
            workers: default_workers(),
            total_memory_mb: default_total_memory_mb(),
            lease: Duration::from_secs(30),
            misfire_threshold: Duration::from_secs(5),
            max_catch_up: 100,
            claim_batch: 256,
            claim_ahead: Duration::from_millis(100),
            log_flush_interval: Duration::from_secs(1),
            commit_window: Duration::from_millis(1),
            backstop_poll: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(10),
            retention_interval: Duration::from_secs(300),
            retention_batch: 500,
            audit_days: Some(DEFAULT_AUDIT_DAYS),
            environment: Arc::new(IsolatedEnvironment),
            alerts: None,
            runs_queued: Arc::default(),
        }
    }

    /// The heartbeat period: a third of the lease, so two may be missed.
    pub(crate) fn heartbeat_every(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(10))
    }

    /// How long before its lease ends a run this node could not renew is
    /// stopped: a third of the lease (10 s of the default 30 s). It covers
    /// the clocks of two nodes disagreeing (a lease is judged by the
    /// sweeping node's clock) and the moment a script takes to stop.
    pub fn fence_margin(&self) -> Duration {
        self.lease / 3
    }

    /// How soon a heartbeat that failed is tried again: well within the
    /// fencing margin, so one lost answer does not stop a run.
    pub(crate) fn heartbeat_retry(&self) -> Duration {
        (self.lease / 12).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Live runs per node unless configured: 32 per core (64 on two cores).
/// A run holds a thread and an engine only while live, and CPU only while
/// its script computes, so most runs — which await HTTP — cost little; a
/// node full of scripts that never yield still shares its cores between
/// them, each ending at its time limit.
pub fn default_workers() -> usize {
    const PER_CORE: usize = 32;
    std::thread::available_parallelism().map_or(2, usize::from) * PER_CORE
}

/// The memory budget unless configured: three quarters of the memory this
/// process may use — the machine's (`MemTotal`), or its cgroup's limit when
/// lower — leaving a quarter for the process itself (its runtime, database
/// connections, engines' own overhead) and the rest of the system. Where
/// neither can be read (not Linux), there is no budget (`u32::MAX`).
pub fn default_total_memory_mb() -> u32 {
    let limits = [
        read_mem_total_mb(),
        read_cgroup_limit_mb("/sys/fs/cgroup/memory.max"),
        read_cgroup_limit_mb("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    ];
    match limits.into_iter().flatten().min() {
        Some(available) => u32::try_from(available / 4 * 3).unwrap_or(u32::MAX),
        None => u32::MAX,
    }
}

/// `MemTotal` of `/proc/meminfo`, in MiB.
fn read_mem_total_mb() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    mem_total_mb(&meminfo)
}

fn mem_total_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// A cgroup memory limit file's value in MiB; `None` when unlimited
/// (`max`, or v1's huge sentinel) or unreadable.
fn read_cgroup_limit_mb(path: &str) -> Option<u64> {
    cgroup_limit_mb(&std::fs::read_to_string(path).ok()?)
}

fn cgroup_limit_mb(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    // cgroup v1 says "unlimited" with a value near i64::MAX.
    (bytes < 1 << 62).then_some(bytes / (1024 * 1024))
}

impl fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("node_id", &self.node_id)
            .field("workers", &self.workers)
            .field("total_memory_mb", &self.total_memory_mb)
            .field("lease", &self.lease)
            .field("misfire_threshold", &self.misfire_threshold)
            .field("max_catch_up", &self.max_catch_up)
            .field("claim_batch", &self.claim_batch)
            .field("claim_ahead", &self.claim_ahead)
            .field("log_flush_interval", &self.log_flush_interval)
            .field("commit_window", &self.commit_window)
            .field("backstop_poll", &self.backstop_poll)
            .field("sweep_interval", &self.sweep_interval)
            .field("retention_interval", &self.retention_interval)
            .field("retention_batch", &self.retention_batch)
            .field("audit_days", &self.audit_days)
            .field("alerts", &self.alerts.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_reads_the_machine_and_cgroup_limits() {
        let meminfo = "MemTotal:       24684000 kB\nMemFree:        19188000 kB\n";
        assert_eq!(mem_total_mb(meminfo), Some(24_105));
        assert_eq!(mem_total_mb("MemFree: 1 kB\n"), None);
        assert_eq!(cgroup_limit_mb("max\n"), None);
        assert_eq!(cgroup_limit_mb("9223372036854771712\n"), None);
        assert_eq!(cgroup_limit_mb("2147483648\n"), Some(2048));
        let budget = default_total_memory_mb();
        assert!(budget > 0);
        if let Some(total) = read_mem_total_mb() {
            assert!(u64::from(budget) <= total / 4 * 3);
        }
    }
}
