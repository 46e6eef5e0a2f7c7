//! [`Schedule`]: a parsed expression with precomputed match tables.

use std::fmt;
use std::iter::FusedIterator;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use crate::civil::Weekday;
use crate::dst::DstRules;
use crate::error::{NeverFiresIn, ParseError, ParseErrorKind};
use crate::spec::{MonthShape, Spec};
use crate::{describe, parse};

/// A valid cron expression that fires at least once: a fixed set of instants
/// in any time zone.
///
/// Parsing precomputes a bit set per field and, for each of the 28 month
/// shapes (weekday of the 1st × length), the set of matching days, so the
/// search skips whole months and days in a few instructions. Searching never
/// allocates.
///
/// The set of instants does not depend on where a search starts:
/// [`next_after`](Schedule::next_after) returns its first member strictly
/// after the given instant. DST gaps and folds follow
/// [`dst_rules`](Schedule::dst_rules).
///
/// # Examples
///
/// The normal case:
///
/// ```
/// use cron::{format_instant, Schedule};
/// use jiff::{tz::TimeZone, Timestamp};
///
/// let schedule: Schedule = "0 9 * * MON-FRI".parse()?;
/// let berlin = TimeZone::get("Europe/Berlin")?;
/// let from: Timestamp = "2026-06-05T12:00:00Z".parse()?; // a Friday
/// let next = schedule.next_after(from, &berlin).unwrap();
/// assert_eq!(format_instant(&next), "2026-06-08T09:00:00+02:00");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// In a spring-forward gap a fixed time fires once, at the transition
/// instant (02:30 does not exist in New York on 2026-03-08):
///
/// ```
/// # use cron::{format_instant, Schedule};
/// # use jiff::{tz::TimeZone, Timestamp};
/// let schedule: Schedule = "30 2 * * *".parse()?;
/// let new_york = TimeZone::get("America/New_York")?;
/// let from: Timestamp = "2026-03-07T12:00:00Z".parse()?;
/// let next: Vec<String> = schedule
///     .iter_after(from, &new_york)
///     .take(2)
///     .map(|zoned| format_instant(&zoned))
///     .collect();
/// assert_eq!(next, ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// In a fall-back fold a fixed time fires at its first occurrence only,
/// while a schedule whose hour field is interval-like fires in both:
///
/// ```
/// # use cron::{format_instant, Schedule};
/// # use jiff::{tz::TimeZone, Timestamp};
/// let new_york = TimeZone::get("America/New_York")?;
/// let from: Timestamp = "2026-11-01T05:00:00Z".parse()?; // 01:00 EDT
/// let fixed: Schedule = "30 1 * * *".parse()?;
/// let hourly: Schedule = "30 * * * *".parse()?;
/// let first = |schedule: &Schedule| {
///     schedule.iter_after(from, &new_york).take(2).map(|z| format_instant(&z)).collect::<Vec<_>>()
/// };
/// assert_eq!(first(&fixed), ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]);
/// assert_eq!(first(&hourly), ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    pub(crate) spec: Spec,
    /// `day_table[first weekday][length - 28]`: matching days (bits 1..=31)
    /// of a month of that shape, month field not applied.
    day_table: [[u32; 4]; 7],
    dst: DstRules,
}

impl Schedule {
    /// Parses an expression (README §2) and rejects one that can never fire.
    ///
    /// Where the test vectors leave a choice open, this parser:
    /// * rejects a step larger than the field's span (`*/90` in minutes
    ///   would silently mean "minute 0", not "every 90 minutes");
    /// * accepts `l`, `w` and `lw` like `L`, `W` and `LW`, since names are
    ///   case-insensitive too;
    /// * accepts macros in lower case only (`@DAILY` is an unknown macro).
    ///
    /// "Never fires" is decided exactly at parse time: every combination of
    /// month, month length and weekday of the 1st occurs in the 400-year
    /// Gregorian cycle, so an expression fires iff one of its months has a
    /// matching day in one of its shapes.
    ///
    /// ```
    /// use cron::Schedule;
    ///
    /// let schedule = Schedule::parse("*/15 9-17 * * MON-FRI")?;
    /// assert_eq!(schedule.source(), "*/15 9-17 * * MON-FRI");
    ///
    /// let err = Schedule::parse("0 0 30 2 *").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the expression never fires: no day in February matches its day fields",
    /// );
    /// # Ok::<(), cron::ParseError>(())
    /// ```
    pub fn parse(source: &str) -> Result<Schedule, ParseError> {
        let spec = parse::parse(source)?;
        let mut day_table = [[0; 4]; 7];
        for (first_weekday, row) in (0..).zip(day_table.iter_mut()) {
            for (length, days) in (28..).zip(row.iter_mut()) {
                *days = spec.matching_days(MonthShape {
                    first_weekday,
                    length,
                });
            }
        }
        let schedule = Schedule {
            source: source.to_owned(),
            dst: DstRules::from_fields(spec.minute_interval_like, spec.hour_interval_like),
            spec,
            day_table,
        };
        schedule.check_fires()?;
        Ok(schedule)
    }

    /// The expression exactly as given to [`parse`](Schedule::parse).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression has a leading seconds field (6 fields).
    pub fn has_seconds(&self) -> bool {
        self.spec.has_seconds_field
    }

    /// How this schedule treats DST gaps and folds.
    pub fn dst_rules(&self) -> DstRules {
        self.dst
    }

    /// An English description, e.g. `At 02:30, Monday through Friday`.
    ///
    /// ```
    /// use cron::Schedule;
    ///
    /// let describe = |text: &str| Schedule::parse(text).unwrap().describe();
    /// assert_eq!(describe("30 2 * * 1-5"), "At 02:30, Monday through Friday");
    /// assert_eq!(describe("*/15 * * * *"), "Every 15 minutes");
    /// assert_eq!(describe("0 9 * * 5L"), "At 09:00 on the last Friday of the month");
    /// ```
    pub fn describe(&self) -> String {
        describe::describe(&self.spec)
    }

    /// The first fire instant strictly after `after`, shown in `tz`; `None`
    /// when there is none within the search horizon (about 400 years, which
    /// covers the whole Gregorian cycle) or jiff's supported range.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<ZonedDateTime> {
        self.next_instant(after, tz)
            .map(|instant| instant.to_zoned_datetime(tz.clone()))
    }

    /// Whether the schedule fires at all in `tz` after `after`.
    /// [`parse`](Schedule::parse) already rejects expressions that match no
    /// day; an expression that matches only wall-clock times a zone skips
    /// (`*/30 2 * 3 SUN#2` in New York: 02:xx on the day clocks spring
    /// forward) parses, yet never fires there. See [`NeverFiresIn`].
    pub fn check_fires_in(&self, after: Timestamp, tz: &TimeZone) -> Result<(), NeverFiresIn> {
        match self.next_instant(after, tz) {
            Some(_) => Ok(()),
            None => Err(NeverFiresIn::new(
                tz.iana_name().unwrap_or("this time zone"),
            )),
        }
    }

    /// All fire instants strictly after `after`, in increasing order.
    /// Each item equals [`next_after`](Schedule::next_after) of the previous.
    pub fn iter_after(&self, after: Timestamp, tz: &TimeZone) -> Occurrences<'_> {
        Occurrences {
            schedule: self,
            tz: tz.clone(),
            cursor: Some(after),
        }
    }

    /// Matching days (bits 1..=31) of `month` in `year`, with the month field
    /// applied.
    pub(crate) fn days_in(&self, month_shape: MonthShape) -> u32 {
        let row = &self.day_table[month_shape.first_weekday as usize];
        row[(month_shape.length - 28) as usize]
    }

    /// Rejects an expression that matches no day in any month it allows.
    /// Every (month, shape) pair below occurs in the 400-year Gregorian
    /// cycle, so this is exact.
    fn check_fires(&self) -> Result<(), ParseError> {
        let months = self.spec.months;
        let fires = (1..=12u32).filter(|m| months & (1 << m) != 0).any(|month| {
            month_lengths(month).iter().any(|&length| {
                (0..7).any(|first_weekday: Weekday| {
                    self.days_in(MonthShape {
                        first_weekday,
                        length,
                    }) != 0
                })
            })
        });
        if fires {
            Ok(())
        } else {
            Err(ParseError::new(ParseErrorKind::NeverFires {
                months: describe::month_names_or(months),
            }))
        }
    }
}

/// The lengths a month can have.
fn month_lengths(month: u32) -> &'static [u32] {
    match month {
        2 => &[28, 29],
        4 | 6 | 9 | 11 => &[30],
        _ => &[31],
    }
}

impl FromStr for Schedule {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Self, Self::Err> {
        Schedule::parse(source)
    }
}

impl fmt::Display for Schedule {
    /// Writes the source text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Iterator over fire instants, from [`Schedule::iter_after`].
#[derive(Clone, Debug)]
pub struct Occurrences<'s> {
    schedule: &'s Schedule,
    tz: TimeZone,
    cursor: Option<Timestamp>,
}

impl Iterator for Occurrences<'_> {
    type Item = ZonedDateTime;

    fn next(&mut self) -> Option<ZonedDateTime> {
        let next = self.schedule.next_instant(self.cursor?, &self.tz);
        self.cursor = next;
        next.map(|instant| instant.to_zoned_datetime(self.tz.clone()))
    }
}

impl FusedIterator for Occurrences<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::{days_from_civil, days_in_month, weekday_of_days};

    #[test]
    fn every_month_shape_occurs_in_the_gregorian_cycle() {
        let mut seen = std::collections::HashSet::new();
        for year in 2000..2400 {
            for month in 1..=12 {
                let first_weekday = weekday_of_days(days_from_civil(year, month, 1));
                seen.insert((month, days_in_month(year, month), first_weekday));
            }
        }
        for month in 1..=12 {
            for &length in month_lengths(month) {
                for weekday in 0..7 {
                    assert!(seen.contains(&(month, length, weekday)));
                }
            }
        }
        assert_eq!(seen.len(), 13 * 7, "no other shapes exist");
    }
}
