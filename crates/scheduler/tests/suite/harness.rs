//! Runs each scheduler test on a fresh SQLite file and in a fresh
//! PostgreSQL schema, with a real executor; tests wait on run events.

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use jiff::Timestamp;
use runtime::{Executor, ExecutorConfig};
use scheduler::{RunEvent, Scheduler, SchedulerConfig, SchedulerHandle};
use store::{Clock, JobSchedule, JobSpec, NewJob, RunStatus, Store, SystemClock};
use tokio::sync::broadcast;

/// Declares each listed `async fn(TestEnv)` as one test per engine.
macro_rules! scheduler_tests {
    ($($test:ident),+ $(,)?) => {
        test_support::both_databases!(async $crate::harness::on => $($test),+);
    };
}

/// Runs `test` on a fresh database of `database`'s engine.
pub(crate) async fn on<F, Fut>(database: test_support::Database, test: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match database {
        test_support::Database::Sqlite => on_sqlite(test).await,
        test_support::Database::Postgres => on_postgres(test).await,
    }
}

/// How long a test waits for an event before failing (a bound on failure,
/// not a synchronisation).
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The test database (kept for tests that connect to it directly).
#[allow(dead_code)]
pub(crate) fn postgres_url() -> String {
    test_support::postgres_url()
}

pub(crate) struct TestEnv {
    pub(crate) store: Store,
    pub(crate) executor: Arc<Executor>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestEnv {
    /// A second store on the same database (another node's connection).
    pub(crate) async fn reopen(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// The database's URL (for tests that connect to it directly).
    #[allow(dead_code)]
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Config for tests: short lease and flush intervals.
    pub(crate) fn config(&self, node: &str) -> SchedulerConfig {
        let mut config = SchedulerConfig::new(node);
        config.workers = 8;
        config.lease = Duration::from_secs(3);
        config.sweep_interval = Duration::from_millis(500);
        config.log_flush_interval = Duration::from_millis(50);
        config.backstop_poll = Duration::from_secs(2);
        config
    }

    pub(crate) async fn start(&self, config: SchedulerConfig) -> SchedulerHandle {
        self.start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub(crate) async fn start_with_clock(
        &self,
        config: SchedulerConfig,
        clock: Arc<dyn Clock>,
    ) -> SchedulerHandle {
        Scheduler::start(config, self.store.clone(), self.executor.clone(), clock)
            .await
            .unwrap()
    }

    pub(crate) async fn create_job(&self, spec: JobSpec, next: Option<Timestamp>) -> store::Job {
        self.store
            .job_create(&NewJob {
                spec,
                next_fire_at: next,
                actor: "test".into(),
            })
            .await
            .unwrap()
    }
}

/// Every run shares one in-memory storage, so a test can see what a live
/// script wrote and tell it when to go on.
pub(crate) struct SharedStorage(pub(crate) Arc<runtime::MemoryKvStore>);

impl scheduler::RunEnvironment for SharedStorage {
    fn prepare(&self, _job: &JobSpec, _run: &store::Run) -> (runtime::Sites, runtime::Services) {
        let mut services = runtime::Services::in_memory();
        services.kv = self.0.clone();
        (runtime::Sites::default(), services)
    }
}

pub(crate) fn spec(name: &str, script: &str) -> JobSpec {
    JobSpec::new(name, script)
}

/// The next whole second at least `lead` from now: where a job firing
/// every second has an occurrence, so a test's first fire is on the job's
/// own grid and not an extra one a fraction of a second before it.
pub(crate) fn next_second(lead: Duration) -> Timestamp {
    let at = Timestamp::now() + lead;
    Timestamp::from_second(at.as_second() + 1).expect("a timestamp in range")
}

pub(crate) fn scheduled(name: &str, cron: &str, script: &str) -> JobSpec {
    JobSpec {
        schedule: Some(JobSchedule {
            cron: cron.into(),
            timezone: "UTC".into(),
        }),
        ..JobSpec::new(name, script)
    }
}

/// Waits for the first event matching `wanted`.
pub(crate) async fn wait_for(
    events: &mut broadcast::Receiver<RunEvent>,
    what: &str,
    mut wanted: impl FnMut(&RunEvent) -> bool,
) -> RunEvent {
    let waiting = async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("missed {n} events"),
                Err(broadcast::error::RecvError::Closed) => panic!("events closed"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap_or_else(|_| panic!("no event: {what}"))
}

/// Waits for `count` events matching `wanted`, returning them.
pub(crate) async fn wait_for_n(
    events: &mut broadcast::Receiver<RunEvent>,
    count: usize,
    what: &str,
    mut wanted: impl FnMut(&RunEvent) -> bool,
) -> Vec<RunEvent> {
    let mut found = Vec::new();
    while found.len() < count {
        found.push(wait_for(events, what, &mut wanted).await);
    }
    found
}

pub(crate) fn is(status: RunStatus) -> impl FnMut(&RunEvent) -> bool {
    move |event| event.status == status
}

/// Waits until `check` holds on the database (for effects no event
/// announces, e.g. logs stored mid-run or pruning), looking every 20 ms.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let waiting = async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap_or_else(|_| panic!("never happened: {what}"));
}

fn executor() -> Arc<Executor> {
    Arc::new(Executor::new(ExecutorConfig { worker_threads: 2 }).unwrap())
}

pub(crate) async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("clockwork.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    test(TestEnv {
        store,
        executor: executor(),
        url,
        _dir: Some(dir),
    })
    .await;
}

pub(crate) async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestEnv) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = test_support::PgSchema::create("scheduler_test").await;
    let url = schema.url().to_owned();
    let outcome = async {
        let store = Store::open(&url).await.unwrap();
        let env = TestEnv {
            store: store.clone(),
            executor: executor(),
            url,
            _dir: None,
        };
        let outcome = tokio::spawn(test(env)).await;
        store.close().await;
        outcome
    }
    .await;
    schema.drop().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
