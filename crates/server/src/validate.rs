//! Field checks shared by the endpoints, each adding [`FieldError`]s to a
//! list so one response names every invalid field at once.

use cron::Schedule;
use jiff::{Timestamp, tz::TimeZone};
use store::{JobSpec, MAX_SCRIPT_BYTES};

use crate::problem::{ApiError, FieldError};

/// Parses a cron expression, or records why not (with its column).
pub(crate) fn cron(expr: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<Schedule> {
    match Schedule::parse(expr) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            let column = error.column().and_then(|c| u32::try_from(c).ok());
            errors.push(FieldError::new(field, error.to_string()).at(None, column));
            None
        }
    }
}

/// Looks up an IANA time zone, or records that it is unknown.
pub(crate) fn time_zone(name: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<TimeZone> {
    match cron::time_zone(name) {
        Ok(zone) => Some(zone),
        Err(error) => {
            errors.push(FieldError::new(field, error.to_string()));
            None
        }
    }
}

/// Records an expression that fires nowhere in `zone` after `now` (every
/// match in a daylight-saving gap).
pub(crate) fn fires_in(
    schedule: &Schedule,
    zone: &TimeZone,
    now: Timestamp,
    field: &str,
    errors: &mut Vec<FieldError>,
) {
    if let Err(error) = schedule.check_fires_in(now, zone) {
        errors.push(FieldError::new(field, error.to_string()));
    }
}

/// Checks a job spec as a save must: the store's bounds (name, sizes,
/// ranges), the `run_as` credential, the memory limit against the node's
/// budget, the cron expression and zone (and that
/// the expression fires in that zone after `now`), the script's syntax and
/// that it exports the named `handler`. Every
/// problem found is reported at once, each with its field path; the script's
/// with the line and column in the user's text.
pub(crate) async fn job(
    spec: &JobSpec,
    run_as_names: Option<&[String]>,
    memory_budget_mb: Option<u32>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Err(problem) = spec.check() {
        errors.push(FieldError::new(problem.field, problem.reason));
    }
    if let Some(budget) = memory_budget_mb
        && spec.memory_limit_mb > budget
    {
        errors.push(FieldError::new(
            "memory_limit_mb",
            format!(
                "{} MiB exceeds this node's memory budget for live runs ([limits] total_memory_mb = {budget} MiB): its runs could never start",
                spec.memory_limit_mb
            ),
        ));
    }
    if let (Some(name), Some(known)) = (&spec.run_as, run_as_names)
        && !known.contains(name)
    {
        let known = if known.is_empty() {
            "none is configured".to_owned()
        } else {
            format!("configured: {}", known.join(", "))
        };
        errors.push(FieldError::new(
            "run_as",
            format!("no user credential named {name:?} ({known})"),
        ));
    }
    if let Some(schedule) = &spec.schedule {
        let parsed = if has_error(&errors, "schedule.cron") {
            None
        } else {
            cron(&schedule.cron, "schedule.cron", &mut errors)
        };
        let zone = if has_error(&errors, "schedule.timezone") {
            None
        } else {
            time_zone(&schedule.timezone, "schedule.timezone", &mut errors)
        };
        if let (Some(parsed), Some(zone)) = (parsed, zone) {
            fires_in(&parsed, &zone, now, "schedule.cron", &mut errors);
        }
    }
    // An oversized script is already reported and is not worth compiling.
    if spec.script.len() <= MAX_SCRIPT_BYTES
        && let Some(error) = script_syntax(
            &spec.script,
            scheduler::to_store::language(spec.language),
            spec.handler.as_deref(),
        )
        .await?
    {
        errors.push(error);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn has_error(errors: &[FieldError], field: &str) -> bool {
    errors.iter().any(|error| error.field == field)
}

/// Compiles the script without running it, on a blocking thread (it can
/// take up to a second of CPU for a large script), and checks that a module
/// exports the job's `handler` (reported on `handler`, listing the exports).
async fn script_syntax(
    script: &str,
    language: runtime::Language,
    handler: Option<&str>,
) -> Result<Option<FieldError>, ApiError> {
    let script = script.to_owned();
    let handler_name = handler.map(str::to_owned);
    let checked = tokio::task::spawn_blocking(move || {
        runtime::check_script(&script, language).map_err(|error| ("script", error))?;
        match handler_name {
            Some(handler) => runtime::check_handler(&script, language, &handler)
                .map_err(|error| ("handler", error)),
            None => Ok(()),
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(checked
        .err()
        .map(|(field, error)| FieldError::new(field, error.message).at(error.line, error.column)))
}

/// A page size from a query: absent means the store's default; otherwise
/// 1 to [`store::MAX_LIST_LIMIT`].
pub(crate) fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(0),
        Some(limit) if (1..=store::MAX_LIST_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {}", store::MAX_LIST_LIMIT),
        )),
    }
}
