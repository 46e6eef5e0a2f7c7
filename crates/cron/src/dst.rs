//! The DST decision as a value: what a schedule does with wall-clock times
//! that a zone skips or repeats (README §4).

/// What a matching wall-clock time does when the zone skips it
/// (spring-forward gap, e.g. 02:30 on 2026-03-08 in New York).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GapRule {
    /// Fire once at the first instant after the gap, i.e. the transition
    /// instant, however many skipped times matched. Used by fixed-time
    /// schedules (neither the minute nor the hour field contains `*` or
    /// `/`), so a daily job at 02:30 still runs on the day of the change.
    FireAtTransition,
    /// Produce nothing for skipped times. Used by interval-like schedules
    /// (the minute or the hour field contains `*` or `/`): their next
    /// regular occurrence follows soon anyway.
    Skip,
}

/// What a matching wall-clock time does when the zone repeats it
/// (fall-back fold, e.g. 01:30 on 2026-11-01 in New York).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FoldRule {
    /// Fire at the first (earlier) occurrence only. Used unless the hour
    /// field is interval-like, so a daily job at 01:30 runs once.
    FirstOnly,
    /// Fire at both occurrences. Used when the hour field contains `*` or
    /// `/` (`0 * * * *`, `15 */2 * * *`, `@hourly`): an hourly job keeps
    /// running every real hour.
    Both,
}

/// How a schedule treats DST gaps and folds, decided from the text of its
/// minute and hour fields (the seconds field never counts).
///
/// ```
/// use cron::{FoldRule, GapRule, Schedule};
///
/// let daily: Schedule = "30 2 * * *".parse()?;
/// assert_eq!(daily.dst_rules().gap, GapRule::FireAtTransition);
/// assert_eq!(daily.dst_rules().fold, FoldRule::FirstOnly);
///
/// let quarter_hourly_at_two: Schedule = "*/15 2 * * *".parse()?;
/// assert_eq!(quarter_hourly_at_two.dst_rules().gap, GapRule::Skip);
/// assert_eq!(quarter_hourly_at_two.dst_rules().fold, FoldRule::FirstOnly);
///
/// let hourly: Schedule = "@hourly".parse()?;
/// assert_eq!(hourly.dst_rules().fold, FoldRule::Both);
/// # Ok::<(), cron::ParseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DstRules {
    /// Skipped wall-clock times.
    pub gap: GapRule,
    /// Repeated wall-clock times.
    pub fold: FoldRule,
}

impl DstRules {
    pub(crate) fn from_fields(minute_interval_like: bool, hour_interval_like: bool) -> Self {
        DstRules {
            gap: if minute_interval_like || hour_interval_like {
                GapRule::Skip
            } else {
                GapRule::FireAtTransition
            },
            fold: if hour_interval_like {
                FoldRule::Both
            } else {
                FoldRule::FirstOnly
            },
        }
    }
}
