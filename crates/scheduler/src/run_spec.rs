//! The one way a job's spec becomes what the sandbox runs
//! ([`runtime::RunSpec`]): the workers' runs, the server's console runs
//! and `clockwork run`'s one-off runs all build theirs with [`run_spec`],
//! so a job runs alike wherever it runs.

use std::time::Duration;

use runtime::{JobInfo, Limits, RunInfo, RunSpec, Services, Sites};
use serde_json::Value;
use store::{JobSpec, Run};

/// Who a run is and what it is handed besides its job's spec.
#[derive(Debug, Clone, Default)]
pub struct RunIdentity {
    /// `context.job`.
    pub job: JobInfo,
    /// `context.run`.
    pub run: RunInfo,
    /// `context.params` of this run; `None`: the job's.
    pub params: Option<Value>,
    /// A chain's saved state (`context.state`).
    pub state: Option<Value>,
    /// The queue event it consumes.
    pub event: Option<Value>,
}

impl RunIdentity {
    /// A stored run of the job named `job_name`.
    pub fn of_run(run: &Run, job_name: &str) -> Self {
        Self {
            job: JobInfo {
                id: run.job_id.to_string(),
                name: job_name.to_owned(),
                version: u32::try_from(run.job_version).unwrap_or(u32::MAX),
            },
            run: RunInfo {
                id: run.id.to_string(),
                attempt: run.attempt,
                trigger: run.trigger.as_str().to_owned(),
                scheduled_for: run.scheduled_for,
            },
            params: run.params.clone(),
            state: run.state.clone(),
            event: run.event.clone(),
        }
    }
}

/// What the sandbox runs for `identity` of `job`: its script, language,
/// limits (its timeout and memory limit; the runtime's other defaults),
/// params, handler and `process.env`, in `sites` with `services`.
pub fn run_spec(job: &JobSpec, identity: RunIdentity, sites: Sites, services: Services) -> RunSpec {
    RunSpec {
        script: job.script.clone(),
        language: crate::to_store::language(job.language),
        limits: Limits {
            timeout: Duration::from_secs(u64::from(job.timeout_seconds)),
            memory_bytes: usize::try_from(job.memory_limit_mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024),
            ..Limits::default()
        },
        params: identity.params.unwrap_or_else(|| job.params.clone()),
        state: identity.state,
        event: identity.event,
        job: identity.job,
        run: identity.run,
        sites,
        services,
        handler: job.handler.clone(),
        env: job.env.clone(),
        // The runtime names the job's file after the job.
        script_name: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_job_decides_limits_params_handler_and_env_unless_the_run_says_otherwise() {
        let mut job = JobSpec::new("nightly", "return 1");
        job.language = store::Language::TypeScript;
        job.timeout_seconds = 90;
        job.memory_limit_mb = 64;
        job.params = json!({"from": "job"});
        job.handler = Some("trigger".into());
        job.env.insert("REGION".into(), "eu".into());
        let spec = run_spec(
            &job,
            RunIdentity::default(),
            Sites::default(),
            Services::in_memory(),
        );
        assert_eq!(spec.script, "return 1");
        assert_eq!(spec.language, runtime::Language::TypeScript);
        assert_eq!(spec.limits.timeout, Duration::from_secs(90));
        assert_eq!(spec.limits.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(spec.limits.log_bytes, Limits::default().log_bytes);
        assert_eq!(spec.params, json!({"from": "job"}));
        assert_eq!(spec.handler.as_deref(), Some("trigger"));
        assert_eq!(spec.env["REGION"], "eu");

        let own = RunIdentity {
            params: Some(json!({"from": "run"})),
            state: Some(json!({"cursor": 3})),
            ..RunIdentity::default()
        };
        let spec = run_spec(&job, own, Sites::default(), Services::in_memory());
        assert_eq!(spec.params, json!({"from": "run"}));
        assert_eq!(spec.state, Some(json!({"cursor": 3})));
    }
}
