//! `GET /metrics`: the scheduler's metrics in the Prometheus text format.
//!
//! Runs by job and status (a counter of what this node recorded), run
//! duration and fire lateness (start minus scheduled instant) histograms,
//! the queued and running gauges of the whole database, and the storage
//! quota's usage and limits (one row read, kept exact by the database).

use std::fmt::Write as _;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use scheduler::{HistogramSnapshot, SchedulerMetrics};

use store::{Role, StorageQuota, StorageUsage};

use crate::{app::AppState, auth, problem::ApiError};

/// The Prometheus text exposition format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers the scrape: with a viewer's bearer token (or session), unless
/// the server was told the metrics are public (`[metrics] public = true`).
pub(crate) async fn metrics(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    if !state.metrics_public() {
        let (parts, _) = request.into_parts();
        auth::authenticate(&parts, &state, Role::Viewer).await?;
    }
    let metrics = state.scheduler()?.metrics().await?;
    let mut names = Vec::with_capacity(metrics.runs.len());
    for count in &metrics.runs {
        names.push(state.job_name(count.job_id).await);
    }
    let mut text = render(&metrics, &names);
    let usage = state
        .store()
        .storage_usage()
        .await
        .map_err(ApiError::internal)?;
    render_storage(&mut text, usage, state.store().storage_quota());
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response())
}

/// The exposition text; `names[i]` is the name of `metrics.runs[i]`'s job
/// (`None` once deleted: labelled by id only).
pub(crate) fn render(metrics: &SchedulerMetrics, names: &[Option<String>]) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "clockwork_runs_total",
        "counter",
        "Runs that reached a status on this node, by job and status.",
    );
    for (count, name) in metrics.runs.iter().zip(names) {
        let _ = writeln!(
            out,
            "clockwork_runs_total{{job=\"{}\",job_id=\"{}\",status=\"{}\"}} {}",
            escape(name.as_deref().unwrap_or("")),
            count.job_id,
            count.status,
            count.count
        );
    }
    histogram(
        &mut out,
        "clockwork_run_duration_seconds",
        "Durations of runs executed on this node.",
        &metrics.run_duration,
    );
    histogram(
        &mut out,
        "clockwork_fire_lateness_seconds",
        "Start minus scheduled instant of scheduled runs started on this node.",
        &metrics.fire_lateness,
    );
    gauge(
        &mut out,
        "clockwork_runs_queued",
        "Runs waiting for a worker, in the whole database.",
        metrics.queued,
    );
    gauge(
        &mut out,
        "clockwork_runs_running",
        "Runs executing, on every node.",
        metrics.running,
    );
    gauge(
        &mut out,
        "clockwork_runs_running_here",
        "Runs executing on this node.",
        metrics.running_here,
    );
    out
}

/// The storage gauges; a limit that is not set is left out.
pub(crate) fn render_storage(out: &mut String, usage: StorageUsage, quota: StorageQuota) {
    gauge(
        out,
        "clockwork_storage_keys",
        "Keys the scripts' entries, secrets and entity values hold (the storage quota's usage).",
        usage.keys,
    );
    gauge(
        out,
        "clockwork_storage_bytes",
        "Bytes of keys and values the scripts' entries, secrets and entity values hold.",
        usage.bytes,
    );
    if let Some(limit) = quota.max_keys {
        gauge(
            out,
            "clockwork_storage_keys_limit",
            "The storage quota's keys ([limits] storage_keys).",
            limit,
        );
    }
    if let Some(limit) = quota.max_bytes {
        gauge(
            out,
            "clockwork_storage_bytes_limit",
            "The storage quota's bytes ([limits] storage_mb).",
            limit,
        );
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, snapshot: &HistogramSnapshot) {
    header(out, name, "histogram", help);
    for (bound, count) in snapshot.bounds.iter().zip(&snapshot.cumulative_counts) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", snapshot.count);
    let _ = writeln!(out, "{name}_sum {}", snapshot.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", snapshot.count);
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use scheduler::RunCount;
    use store::RunStatus;

    use super::*;

    #[test]
    fn the_text_format_has_counters_histograms_and_gauges() {
        let metrics = SchedulerMetrics {
            runs: vec![
                RunCount {
                    job_id: 1,
                    status: RunStatus::Succeeded,
                    count: 2,
                },
                RunCount {
                    job_id: 9,
                    status: RunStatus::Failed,
                    count: 1,
                },
            ],
            run_duration: HistogramSnapshot {
                bounds: vec![0.01, 0.1],
                cumulative_counts: vec![2, 3],
                count: 4,
                sum_seconds: 2.061,
            },
            fire_lateness: HistogramSnapshot {
                bounds: vec![0.005],
                cumulative_counts: vec![1],
                count: 1,
                sum_seconds: 0.001,
            },
            queued: 3,
            running: 4,
            running_here: 1,
        };
        let text = render(&metrics, &[Some("sync \"nightly\"".into()), None]);
        let expected = [
            "# TYPE clockwork_runs_total counter",
            "clockwork_runs_total{job=\"sync \\\"nightly\\\"\",job_id=\"1\",status=\"succeeded\"} 2",
            "clockwork_runs_total{job=\"\",job_id=\"9\",status=\"failed\"} 1",
            "# TYPE clockwork_run_duration_seconds histogram",
            "clockwork_run_duration_seconds_bucket{le=\"0.01\"} 2",
            "clockwork_run_duration_seconds_bucket{le=\"0.1\"} 3",
            "clockwork_run_duration_seconds_bucket{le=\"+Inf\"} 4",
            "clockwork_run_duration_seconds_sum 2.061",
            "clockwork_run_duration_seconds_count 4",
            "clockwork_fire_lateness_seconds_bucket{le=\"0.005\"} 1",
            "clockwork_runs_queued 3",
            "clockwork_runs_running 4",
            "clockwork_runs_running_here 1",
        ];
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn storage_gauges_show_usage_and_only_the_limits_that_are_set() {
        let mut text = String::new();
        render_storage(
            &mut text,
            StorageUsage {
                keys: 12,
                bytes: 3456,
            },
            StorageQuota {
                max_keys: Some(100),
                max_bytes: None,
            },
        );
        for line in [
            "# TYPE clockwork_storage_keys gauge",
            "clockwork_storage_keys 12",
            "clockwork_storage_bytes 3456",
            "clockwork_storage_keys_limit 100",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("clockwork_storage_bytes_limit"), "{text}");
    }
}
