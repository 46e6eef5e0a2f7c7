//! The meaning of a parsed expression as value sets, and the day rules of
//! README §3 evaluated for one month shape.

use crate::civil::Weekday;

/// Value sets of every field. Bit `v` set means value `v` matches.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Spec {
    /// Bits 0..=59; just bit 0 for 5-field expressions.
    pub(crate) seconds: u64,
    pub(crate) has_seconds_field: bool,
    /// Bits 0..=59.
    pub(crate) minutes: u64,
    /// Bits 0..=23.
    pub(crate) hours: u32,
    pub(crate) days_of_month: DaysOfMonth,
    /// Bits 1..=12.
    pub(crate) months: u16,
    pub(crate) days_of_week: DaysOfWeek,
    /// The minute field's text contains `*` or `/` (README §4).
    pub(crate) minute_interval_like: bool,
    /// The hour field's text contains `*` or `/` (README §4).
    pub(crate) hour_interval_like: bool,
}

/// The day-of-month field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct DaysOfMonth {
    /// Plain days, bits 1..=31.
    pub(crate) days: u32,
    /// `L`.
    pub(crate) last: bool,
    /// `LW`.
    pub(crate) last_weekday: bool,
    /// `nW`, bit n.
    pub(crate) nearest: u32,
    /// The text is not exactly `*` or `?`.
    pub(crate) restricted: bool,
}

/// The day-of-week field (0 = Sunday).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct DaysOfWeek {
    /// Plain weekdays, bits 0..=6.
    pub(crate) days: u8,
    /// `d#n`: `nth[d]` has bit n (1..=5).
    pub(crate) nth: [u8; 7],
    /// `dL`: bit d.
    pub(crate) last: u8,
    /// The text is not exactly `*` or `?`.
    pub(crate) restricted: bool,
}

/// The shape of a month as far as day rules care: the weekday of its first
/// day and its length. Every (month, shape) pair recurs in the 400-year
/// Gregorian cycle, so a rule that matches no shape never matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MonthShape {
    pub(crate) first_weekday: Weekday,
    pub(crate) length: u32,
}

impl MonthShape {
    fn weekday_of(self, day: u32) -> Weekday {
        (self.first_weekday + day - 1) % 7
    }

    /// Bits 1..=length.
    fn all_days(self) -> u32 {
        (u32::MAX >> (31 - self.length)) & !1
    }
}

impl Spec {
    /// Days of a month with this shape that match both day fields, with the
    /// Vixie OR when both are restricted (bits 1..=31).
    pub(crate) fn matching_days(&self, shape: MonthShape) -> u32 {
        let by_month = self.days_of_month.matching_days(shape);
        let by_week = self.days_of_week.matching_days(shape);
        match (self.days_of_month.restricted, self.days_of_week.restricted) {
            (false, false) => shape.all_days(),
            (true, false) => by_month,
            (false, true) => by_week,
            (true, true) => by_month | by_week,
        }
    }
}

impl DaysOfMonth {
    fn matching_days(&self, shape: MonthShape) -> u32 {
        let mut days = self.days & shape.all_days();
        if self.last {
            days |= 1 << shape.length;
        }
        if self.last_weekday {
            days |= 1 << last_weekday(shape);
        }
        for day in 1..=shape.length {
            if self.nearest & (1 << day) != 0 {
                days |= 1 << nearest_weekday(shape, day);
            }
        }
        days
    }
}

/// The last Monday-Friday of the month.
fn last_weekday(shape: MonthShape) -> u32 {
    match shape.weekday_of(shape.length) {
        6 => shape.length - 1,
        0 => shape.length - 2,
        _ => shape.length,
    }
}

/// README §3 `nW`: the Monday-Friday nearest to `day`, never leaving the
/// month (the caller guarantees `day <= length`).
fn nearest_weekday(shape: MonthShape, day: u32) -> u32 {
    match shape.weekday_of(day) {
        6 if day == 1 => 3,
        6 => day - 1,
        0 if day == shape.length => day - 2,
        0 => day + 1,
        _ => day,
    }
}

impl DaysOfWeek {
    fn matching_days(&self, shape: MonthShape) -> u32 {
        let mut days = 0;
        for day in 1..=shape.length {
            let weekday = shape.weekday_of(day) as usize;
            let occurrence = (day - 1) / 7 + 1;
            let is_last = day + 7 > shape.length;
            let matches = self.days & (1 << weekday) != 0
                || self.nth[weekday] & (1 << occurrence) != 0
                || (is_last && self.last & (1 << weekday) != 0);
            if matches {
                days |= 1 << day;
            }
        }
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(first_weekday: Weekday, length: u32) -> MonthShape {
        MonthShape {
            first_weekday,
            length,
        }
    }

    fn days(list: &[u32]) -> u32 {
        list.iter().fold(0, |bits, day| bits | 1 << day)
    }

    #[test]
    fn nearest_weekday_never_leaves_the_month() {
        // A month starting on Saturday: the 1st is a Saturday → Monday the 3rd.
        assert_eq!(nearest_weekday(shape(6, 31), 1), 3);
        // Saturday the 8th → Friday the 7th; Sunday the 9th → Monday the 10th.
        assert_eq!(nearest_weekday(shape(6, 31), 8), 7);
        assert_eq!(nearest_weekday(shape(6, 31), 9), 10);
        // A 30-day month starting on Saturday ends on Sunday the 30th →
        // Friday the 28th, not Monday the 1st of the next month.
        assert_eq!(nearest_weekday(shape(6, 30), 30), 28);
        // Sunday the 1st → Monday the 2nd.
        assert_eq!(nearest_weekday(shape(0, 31), 1), 2);
        // A weekday stays.
        assert_eq!(nearest_weekday(shape(1, 31), 5), 5);
    }

    #[test]
    fn last_weekday_steps_back_over_the_weekend() {
        assert_eq!(last_weekday(shape(6, 30)), 28, "ends on a Sunday");
        assert_eq!(last_weekday(shape(0, 30)), 30, "ends on a Monday");
        assert_eq!(last_weekday(shape(5, 29)), 29, "ends on a Friday");
        assert_eq!(last_weekday(shape(6, 29)), 28, "ends on a Saturday");
    }

    #[test]
    fn nearest_weekday_beyond_the_month_does_not_match() {
        let field = DaysOfMonth {
            nearest: 1 << 31,
            restricted: true,
            ..DaysOfMonth::default()
        };
        assert_eq!(field.matching_days(shape(3, 30)), 0);
        assert_ne!(field.matching_days(shape(3, 31)), 0);
    }

    #[test]
    fn weekday_occurrences_and_last_weekdays() {
        let mut nth = [0; 7];
        nth[1] = 1 << 5; // MON#5
        let fifth_monday = DaysOfWeek {
            nth,
            restricted: true,
            ..DaysOfWeek::default()
        };
        // February of a leap year starting on Monday has a fifth Monday, the 29th.
        assert_eq!(fifth_monday.matching_days(shape(1, 29)), days(&[29]));
        assert_eq!(fifth_monday.matching_days(shape(1, 28)), 0);
        let last_friday = DaysOfWeek {
            last: 1 << 5,
            restricted: true,
            ..DaysOfWeek::default()
        };
        // A 31-day month starting on Thursday: Fridays 2, 9, 16, 23, 30.
        assert_eq!(last_friday.matching_days(shape(4, 31)), days(&[30]));
    }

    #[test]
    fn both_day_fields_restricted_is_a_union() {
        let spec = Spec {
            days_of_month: DaysOfMonth {
                days: days(&[13]),
                restricted: true,
                ..DaysOfMonth::default()
            },
            days_of_week: DaysOfWeek {
                days: 1 << 5,
                restricted: true,
                ..DaysOfWeek::default()
            },
            ..Spec::default()
        };
        // Starting on Thursday, Fridays are 2, 9, 16, 23, 30.
        assert_eq!(
            spec.matching_days(shape(4, 30)),
            days(&[2, 9, 13, 16, 23, 30])
        );
    }
}
