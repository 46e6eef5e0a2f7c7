//! Field checks shared by the endpoints, each adding [`FieldError`]s to a
//! list so one response names every invalid field at once.

use cron::Schedule;
use jiff::tz::TimeZone;

use crate::problem::FieldError;

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
