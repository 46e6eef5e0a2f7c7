//! Console runs: an ad hoc script (the script console, the editor's Test
//! run) run now, in the same environment as a job's runs — sites, storage,
//! egress — and never stored in run history. [`ConsoleRuns`] owns the
//! executor and the environment; one call turns the script, language,
//! params, time limit and optional job into a started [`RunHandle`]; the
//! caller streams the run's log and outcome from the handle and cancels it
//! through the handle's [`runtime::RunControl`].

use std::sync::Arc;

use runtime::{Executor, JobInfo, KvStore, RunHandle, RunInfo, Services, Sites};
use serde_json::Value;
use store::{Job, JobSpec};

use crate::run_spec::{RunIdentity, run_spec};

/// What a console run reaches outside its sandbox. `clockwork serve`
/// implements it over the same sites, storage and egress client as its
/// scheduled runs.
pub trait ConsoleEnvironment: Send + Sync {
    /// The sites and services of one console run; `job` is the job whose
    /// `run_as` credential it borrows, when the request names one.
    fn prepare(&self, job: Option<&JobSpec>) -> (Sites, Services);
}

/// One console run as asked for.
#[derive(Debug, Clone)]
pub struct ConsoleRun<'a> {
    /// The JavaScript or TypeScript source.
    pub script: String,
    /// Its language.
    pub language: runtime::Language,
    /// `context.params`; `None`: the job's, or `{}` without a job.
    pub params: Option<Value>,
    /// Wall-clock limit in seconds.
    pub timeout_seconds: u32,
    /// The job it runs as: its `run_as` credential, memory limit, handler,
    /// `process.env` and (unless `params` is given) its params.
    pub job: Option<&'a Job>,
}

impl ConsoleRun<'_> {
    /// The job's spec with the console's script, language and timeout; a
    /// script of no job runs with every default.
    fn job_spec(&self) -> JobSpec {
        let language = crate::to_store::script_language(self.language);
        match self.job {
            Some(job) => JobSpec {
                script: self.script.clone(),
                language,
                timeout_seconds: self.timeout_seconds,
                ..job.spec.clone()
            },
            None => JobSpec {
                language,
                timeout_seconds: self.timeout_seconds,
                ..JobSpec::new("console", self.script.clone())
            },
        }
    }

    /// `context.job` and `context.run` of a console run: the job's
    /// identity, or `console`; the run is always `console`, attempt 1,
    /// triggered manually.
    fn identity(&self) -> RunIdentity {
        RunIdentity {
            job: match self.job {
                Some(job) => JobInfo {
                    id: job.id.to_string(),
                    name: job.spec.name.clone(),
                    version: u32::try_from(job.version).unwrap_or(u32::MAX),
                },
                None => JobInfo {
                    id: "console".to_owned(),
                    name: "console".to_owned(),
                    version: 0,
                },
            },
            run: RunInfo {
                id: "console".to_owned(),
                attempt: 1,
                trigger: "manual".to_owned(),
                scheduled_for: None,
            },
            params: self.params.clone(),
            state: None,
            event: None,
        }
    }
}

/// Runs console scripts on the process's executor in its environment.
/// Cheap to clone.
#[derive(Clone)]
pub struct ConsoleRuns {
    executor: Arc<Executor>,
    environment: Arc<dyn ConsoleEnvironment>,
}

impl ConsoleRuns {
    /// Console runs on `executor` in `environment` (the same as the
    /// scheduler's runs get).
    pub fn new(executor: Arc<Executor>, environment: Arc<dyn ConsoleEnvironment>) -> Self {
        Self {
            executor,
            environment,
        }
    }

    /// Starts `run` now. `storage` wraps the environment's storage for this
    /// run (the server audits the secrets a console run reads under the
    /// user who ran it).
    pub fn start(
        &self,
        run: &ConsoleRun<'_>,
        storage: impl FnOnce(Arc<dyn KvStore>) -> Arc<dyn KvStore>,
    ) -> RunHandle {
        let job_spec = run.job_spec();
        let (sites, mut services) = self.environment.prepare(run.job.map(|job| &job.spec));
        services.kv = storage(services.kv);
        let spec = run_spec(&job_spec, run.identity(), sites, services);
        self.executor.start(spec)
    }
}

impl std::fmt::Debug for ConsoleRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleRuns").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job() -> Job {
        let mut spec = JobSpec::new("nightly", "return 0");
        spec.memory_limit_mb = 64;
        spec.params = json!({"from": "job"});
        spec.run_as = Some("ops".into());
        Job {
            id: 7,
            version: 3,
            spec,
            next_fire_at: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
            last_run: None,
        }
    }

    #[test]
    fn a_run_of_a_job_keeps_the_jobs_settings_but_the_consoles_script_and_limit() {
        let job = job();
        let run = ConsoleRun {
            script: "return 1".into(),
            language: runtime::Language::TypeScript,
            params: None,
            timeout_seconds: 5,
            job: Some(&job),
        };
        let spec = run.job_spec();
        assert_eq!(spec.script, "return 1");
        assert_eq!(spec.language, store::Language::TypeScript);
        assert_eq!(spec.timeout_seconds, 5);
        assert_eq!(spec.memory_limit_mb, 64);
        assert_eq!(spec.run_as.as_deref(), Some("ops"));
        let identity = run.identity();
        assert_eq!(identity.job.id, "7");
        assert_eq!(identity.job.name, "nightly");
        assert_eq!(identity.job.version, 3);
        assert_eq!(identity.run.id, "console");
        assert_eq!(identity.run.trigger, "manual");
        assert_eq!(identity.params, None);
    }

    #[test]
    fn a_run_of_no_job_is_named_console_and_gets_every_default() {
        let run = ConsoleRun {
            script: "return 1".into(),
            language: runtime::Language::JavaScript,
            params: Some(json!({"x": 1})),
            timeout_seconds: 60,
            job: None,
        };
        let spec = run.job_spec();
        let defaults = JobSpec::new("console", "return 1");
        assert_eq!(spec.name, "console");
        assert_eq!(spec.memory_limit_mb, defaults.memory_limit_mb);
        assert_eq!(spec.run_as, None);
        let identity = run.identity();
        assert_eq!(identity.job.id, "console");
        assert_eq!(identity.job.version, 0);
        assert_eq!(identity.params, Some(json!({"x": 1})));
    }
}
