//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! The search works on "local seconds": seconds since 1970-01-01T00:00:00 of
//! the wall clock, with no zone attached. Converting between those and
//! (year, month, day) with the algorithms below is a handful of integer
//! operations, much cheaper than going through a general date library on
//! every step of the search.

/// Seconds in one civil day (wall clocks have no leap seconds).
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// Day of the week, 0 = Sunday … 6 = Saturday (cron numbering).
pub(crate) type Weekday = u32;

/// Days since 1970-01-01 of the given civil date (Howard Hinnant's
/// `days_from_civil`, valid for every `i32` year).
pub(crate) fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day number, the inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // The narrowing casts cannot truncate: day is 1..=31, month 1..=12 and the
    // callers only pass day numbers of years that fit jiff's range.
    (year as i32, month as u32, day as u32)
}

/// Day of the week of a day number (1970-01-01 was a Thursday).
pub(crate) fn weekday_of_days(days: i64) -> Weekday {
    (days + 4).rem_euclid(7) as Weekday
}

/// Whether `year` is a Gregorian leap year.
pub(crate) fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in `month` (1..=12) of `year`.
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_a_full_gregorian_cycle_and_beyond() {
        let start = days_from_civil(1599, 12, 31);
        let mut expected = (1599, 12, 31);
        for days in start..start + 146_097 * 2 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
            expected = if expected.2 < days_in_month(expected.0, expected.1) {
                (expected.0, expected.1, expected.2 + 1)
            } else if expected.1 < 12 {
                (expected.0, expected.1 + 1, 1)
            } else {
                (expected.0 + 1, 1, 1)
            };
        }
    }

    #[test]
    fn knows_the_epoch_and_weekdays() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(weekday_of_days(0), 4, "1970-01-01 was a Thursday");
        assert_eq!(weekday_of_days(days_from_civil(2026, 3, 8)), 0, "a Sunday");
        assert_eq!(
            weekday_of_days(days_from_civil(1969, 12, 29)),
            1,
            "a Monday"
        );
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2028));
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2027));
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2027, 4), 30);
        assert_eq!(days_in_month(2027, 12), 31);
    }
}
