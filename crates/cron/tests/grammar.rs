//! Each grammar rule of README §2/§3 and each error message, through the
//! public API. Behaviour is checked by the instants a schedule produces in
//! UTC, so these tests do not depend on internals.

use cron::{Field, ParseErrorKind, Schedule, format_instant};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The first `count` fire instants after `from`, in UTC.
fn fires(expression: &str, from: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
    let from: Timestamp = from.parse().expect("test instants are RFC 3339");
    schedule
        .iter_after(from, &TimeZone::UTC)
        .take(count)
        .map(|instant| format_instant(&instant))
        .collect()
}

/// Days of the month (as `MM-DD`) of the first `count` fire instants.
fn days(expression: &str, from: &str, count: usize) -> Vec<String> {
    fires(expression, from, count)
        .iter()
        .map(|instant| instant[5..10].to_owned())
        .collect()
}

fn same_instants(a: &str, b: &str) {
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(fires(a, from, 40), fires(b, from, 40), "{a:?} vs {b:?}");
}

fn error(expression: &str) -> String {
    match Schedule::parse(expression) {
        Ok(_) => panic!("{expression:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn five_fields_fire_at_second_zero_and_six_fields_lead_with_seconds() {
    assert_eq!(
        fires("* * * * *", "2026-01-01T00:00:30Z", 2),
        ["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"]
    );
    assert_eq!(
        fires("15,45 * * * * *", "2026-01-01T00:00:30Z", 3),
        [
            "2026-01-01T00:00:45+00:00",
            "2026-01-01T00:01:15+00:00",
            "2026-01-01T00:01:45+00:00"
        ]
    );
    assert!(Schedule::parse("15 * * * * *").unwrap().has_seconds());
    assert!(!Schedule::parse("15 * * * *").unwrap().has_seconds());
}

#[test]
fn blanks_are_spaces_and_tabs_in_any_number_and_outer_blanks_are_ignored() {
    same_instants("\t 0  9\t*   * 1 \t", "0 9 * * 1");
    assert_eq!(
        Schedule::parse(" 0 9 * * 1 ").unwrap().source(),
        " 0 9 * * 1 ",
        "the source is kept as given"
    );
}

#[test]
fn names_are_three_letters_case_insensitive_and_leading_zeros_are_allowed() {
    same_instants("0 9 * jan,Feb,MAR mon-Fri", "0 9 * 1-3 1-5");
    same_instants("00 09 * * 05", "0 9 * * 5");
    assert!(Schedule::parse("0 9 * * MONDAY").is_err());
    assert!(Schedule::parse("0 9 * JANUARY *").is_err());
}

#[test]
fn sunday_is_zero_or_seven() {
    same_instants("0 0 * * 0", "0 0 * * 7");
    same_instants("0 0 * * SUN", "0 0 * * 7");
    same_instants("0 0 * * MON-7", "0 0 * * *");
    same_instants("0 0 * * 0-6", "0 0 * * 1-7");
    same_instants("0 0 * * 7L", "0 0 * * 0L");
    same_instants("0 0 * * 7#2", "0 0 * * SUN#2");
}

#[test]
fn ranges_steps_and_lists() {
    assert_eq!(
        days("0 0 */10 1 *", "2025-12-31T00:00:00Z", 4),
        ["01-01", "01-11", "01-21", "01-31"],
        "*/10 in day-of-month is 1,11,21,31"
    );
    assert_eq!(
        fires("10-20/5 * * * *", "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-01T00:10:00+00:00",
            "2026-01-01T00:15:00+00:00",
            "2026-01-01T00:20:00+00:00",
            "2026-01-01T01:10:00+00:00"
        ]
    );
    same_instants("1,2,3 * * * *", "1-3 * * * *");
    same_instants("*/1 * * * *", "* * * * *");
    same_instants("0 0 * * */2", "0 0 * * 0,2,4,6");
}

#[test]
fn question_mark_is_star_in_the_day_fields() {
    same_instants("0 0 ? * MON", "0 0 * * MON");
    same_instants("0 0 1 * ?", "0 0 1 * *");
}

#[test]
fn last_day_and_last_weekday_of_the_month() {
    assert_eq!(
        days("0 0 L * *", "2027-12-31T12:00:00Z", 3),
        ["01-31", "02-29", "03-31"],
        "2028 is a leap year"
    );
    // 2026-05-31 is a Sunday, 2026-10-31 a Saturday.
    assert_eq!(days("0 0 LW 5 *", "2026-01-01T00:00:00Z", 1), ["05-29"]);
    assert_eq!(days("0 0 LW 10 *", "2026-01-01T00:00:00Z", 1), ["10-30"]);
    assert_eq!(days("0 0 lw 10 *", "2026-01-01T00:00:00Z", 1), ["10-30"]);
    same_instants("0 0 1,15,L * *", "0 0 L,15,1 * *");
}

#[test]
fn nearest_weekday_stays_in_the_month() {
    // 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday July 31.
    assert_eq!(days("0 0 1W 8 *", "2026-01-01T00:00:00Z", 1), ["08-03"]);
    // 2026-05-31 is a Sunday and the last day: 31W is Friday the 29th.
    assert_eq!(days("0 0 31W 5 *", "2026-01-01T00:00:00Z", 1), ["05-29"]);
    // 2026-03-15 is a Sunday → Monday the 16th; 2026-08-15 a Saturday → Friday the 14th.
    assert_eq!(days("0 0 15W 3 *", "2026-01-01T00:00:00Z", 1), ["03-16"]);
    assert_eq!(days("0 0 15W 8 *", "2026-01-01T00:00:00Z", 1), ["08-14"]);
    // 31W never fires in 30-day months.
    assert_eq!(
        days("0 0 31W * *", "2026-03-31T12:00:00Z", 3),
        ["05-29", "07-31", "08-31"]
    );
    assert_eq!(days("0 0 15w 3 *", "2026-01-01T00:00:00Z", 1), ["03-16"]);
}

#[test]
fn nth_and_last_weekday_of_the_month() {
    // First Mondays of 2026: Jan 5, Feb 2, Mar 2.
    assert_eq!(
        days("0 0 * * MON#1", "2026-01-01T00:00:00Z", 3),
        ["01-05", "02-02", "03-02"]
    );
    // Fifth Fridays in 2026: Jan 30, May 29, Jul 31.
    assert_eq!(
        days("0 0 * * 5#5", "2026-01-01T00:00:00Z", 3),
        ["01-30", "05-29", "07-31"]
    );
    // Last Fridays: Jan 30, Feb 27.
    assert_eq!(
        days("0 0 * * FRIL", "2026-01-01T00:00:00Z", 2),
        ["01-30", "02-27"]
    );
    same_instants("0 0 * * 5L", "0 0 * * friL");
    // Lists mix them: first Monday and last Wednesday.
    assert_eq!(
        days("0 0 * * 1#1,3L", "2026-01-01T00:00:00Z", 4),
        ["01-05", "01-28", "02-02", "02-25"]
    );
}

#[test]
fn both_day_fields_restricted_means_either() {
    // 2026-02-13 is a Friday; 13ths and Fridays of February 2026.
    assert_eq!(
        days("0 0 13 2 FRI", "2026-02-01T00:00:00Z", 4),
        ["02-06", "02-13", "02-20", "02-27"]
    );
    // `1-7` with Monday is days 1-7 OR Mondays, not the first Monday.
    assert_eq!(
        days("0 9 1-7 3 1", "2026-03-01T00:00:00Z", 9),
        [
            "03-01", "03-02", "03-03", "03-04", "03-05", "03-06", "03-07", "03-09", "03-16"
        ]
    );
    // `*/1` and `1-31` are restricted: OR with Monday is every day.
    same_instants("0 0 */1 * MON", "0 0 * * *");
    // Only exactly `*` or `?` is unrestricted: `*` with Monday is just Mondays.
    same_instants("0 0 * * MON", "0 0 ? * MON");
    // The OR works with the extras too: last day of the month or Mondays.
    assert_eq!(
        days("0 0 L 1 MON", "2026-01-01T00:00:00Z", 5),
        ["01-05", "01-12", "01-19", "01-26", "01-31"]
    );
}

#[test]
fn macros_are_whole_lower_case_expressions() {
    for (name, same_as) in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ] {
        same_instants(name, same_as);
        assert_eq!(Schedule::parse(name).unwrap().source(), name);
    }
    same_instants("  @daily\t", "0 0 * * *");
}

#[test]
fn steps_larger_than_the_field_are_rejected() {
    assert_eq!(
        error("*/90 * * * *"),
        "minute field: step 90 is larger than the field's span 0-59 (it would match only its start) (column 3)"
    );
    assert!(Schedule::parse("*/59 * * * *").is_ok());
    assert!(Schedule::parse("0 */24 * * *").is_err());
    assert!(Schedule::parse("0 0 * */12 *").is_err());
    assert!(Schedule::parse("0 0 * * */7").is_ok(), "0-7 spans 7");
}

#[test]
fn every_error_message_names_field_text_and_column() {
    let table = [
        ("", "the expression is empty"),
        ("   \t ", "the expression is empty"),
        ("* * * *", "expected 5 or 6 fields, found 4"),
        (
            "0 0 1 1 * 2026 x",
            "expected 5 or 6 fields, found 7 (column 16)",
        ),
        (
            "0 60 * * * *",
            "minute field: 60 is out of range 0-59 (column 3)",
        ),
        (
            "60 * * * *",
            "minute field: 60 is out of range 0-59 (column 1)",
        ),
        (
            "61 * * * * *",
            "second field: 61 is out of range 0-59 (column 1)",
        ),
        (
            "0 24 * * *",
            "hour field: 24 is out of range 0-23 (column 3)",
        ),
        (
            "0 0 0 * *",
            "day-of-month field: 0 is out of range 1-31 (column 5)",
        ),
        (
            "0 0 32 * *",
            "day-of-month field: 32 is out of range 1-31 (column 5)",
        ),
        (
            "0 0 * 13 *",
            "month field: 13 is out of range 1-12 (column 7)",
        ),
        (
            "0 0 * 3-16 *",
            "month field: 16 is out of range 1-12 (column 9)",
        ),
        (
            "0 0 * * 8",
            "day-of-week field: 8 is out of range 0-7 (column 9)",
        ),
        (
            "99999999999999999999 * * * *",
            "minute field: 99999999999999999999 is out of range 0-59 (column 1)",
        ),
        (
            "JAN * * * *",
            "minute field: \"JAN\" is not valid here (expected a number 0-59) (column 1)",
        ),
        (
            "0 0 * FOO *",
            "month field: \"FOO\" is not valid here (expected a number 1-12 or a month name JAN-DEC) (column 7)",
        ),
        (
            "0 0 * * MON-FOO",
            "day-of-week field: \"FOO\" is not valid here (expected a number 0-7, a day name SUN-SAT, d#n or dL) (column 13)",
        ),
        (
            "0 0 5L * *",
            "day-of-month field: \"5L\" is not valid here (expected a number 1-31, L, LW or nW) (column 5)",
        ),
        ("1,,2 * * * *", "minute field: empty list item (column 3)"),
        ("1, * * * *", "minute field: empty list item (column 3)"),
        (",1 * * * *", "minute field: empty list item (column 1)"),
        (
            "5-1 * * * *",
            "minute field: range 5-1 is reversed (ranges do not wrap around) (column 1)",
        ),
        (
            "0 0 * * FRI-MON",
            "day-of-week field: range FRI-MON is reversed (ranges do not wrap around) (column 9)",
        ),
        (
            "0 0 * * MON-SUN",
            "day-of-week field: range MON-SUN is reversed (ranges do not wrap around) (column 9)",
        ),
        (
            "5- * * * *",
            "minute field: range \"5-\" is missing a bound (column 1)",
        ),
        (
            "-5 * * * *",
            "minute field: range \"-5\" is missing a bound (column 1)",
        ),
        (
            "*-5 * * * *",
            "minute field: \"*\" cannot be part of a range (write a number or a name) (column 1)",
        ),
        (
            "*/0 * * * *",
            "minute field: the step must be at least 1 (column 3)",
        ),
        (
            "0 0 * */00 *",
            "month field: the step must be at least 1 (column 9)",
        ),
        (
            "*/ * * * *",
            "minute field: missing step after \"/\" (column 2)",
        ),
        (
            "*/x * * * *",
            "minute field: step \"x\" is not a number (column 3)",
        ),
        (
            "*/5/2 * * * *",
            "minute field: step \"5/2\" is not a number (column 3)",
        ),
        (
            "/5 * * * *",
            "minute field: a step needs \"*\" or a range before \"/\" (column 1)",
        ),
        (
            "5/10 * * * *",
            "minute field: \"5/10\" is not supported: a step needs \"*\" or a range before \"/\" (e.g. \"5-59/10\") (column 1)",
        ),
        (
            "? * * * *",
            "minute field: \"?\" is only allowed as the whole day-of-month or day-of-week field (column 1)",
        ),
        (
            "0 0 ?,1 * *",
            "day-of-month field: \"?\" is only allowed as the whole day-of-month or day-of-week field (column 5)",
        ),
        (
            "0 0 * ? *",
            "month field: \"?\" is only allowed as the whole day-of-month or day-of-week field (column 7)",
        ),
        (
            "L * * * *",
            "minute field: \"L\" is not allowed here (only in the day-of-month and day-of-week fields) (column 1)",
        ),
        (
            "0 0 1 L *",
            "month field: \"L\" is not allowed here (only in the day-of-month and day-of-week fields) (column 7)",
        ),
        (
            "0 0 * * 5W",
            "day-of-week field: \"W\" is not allowed here (only in the day-of-month field) (column 9)",
        ),
        (
            "0 0 5#1 * *",
            "day-of-month field: \"#\" is not allowed here (only in the day-of-week field) (column 5)",
        ),
        (
            "0 0 L/2 * *",
            "day-of-month field: \"L/2\": L cannot be combined with a range, step or another modifier (column 5)",
        ),
        (
            "0 0 L-3 * *",
            "day-of-month field: \"L-3\": L cannot be combined with a range, step or another modifier (column 5)",
        ),
        (
            "0 0 15W-20 * *",
            "day-of-month field: \"15W-20\": W cannot be combined with a range, step or another modifier (column 5)",
        ),
        (
            "0 0 1-5W * *",
            "day-of-month field: \"1-5W\": W cannot be combined with a range, step or another modifier (column 5)",
        ),
        (
            "0 0 * * 1-5#2",
            "day-of-week field: \"1-5#2\": # cannot be combined with a range, step or another modifier (column 9)",
        ),
        (
            "0 0 * * 5L#2",
            "day-of-week field: \"5L#2\": # cannot be combined with a range, step or another modifier (column 9)",
        ),
        (
            "0 0 * * L",
            "day-of-week field: a bare \"L\" is not allowed in the day-of-week field (write e.g. 5L or FRIL for the last Friday) (column 9)",
        ),
        (
            "0 0 * * MON#6",
            "day-of-week field: occurrence \"6\" after \"#\" must be 1-5 (column 13)",
        ),
        (
            "0 0 * * MON#0",
            "day-of-week field: occurrence \"0\" after \"#\" must be 1-5 (column 13)",
        ),
        (
            "0 0 * * MON#",
            "day-of-week field: occurrence \"\" after \"#\" must be 1-5 (column 13)",
        ),
        (
            "0 0 32W * *",
            "day-of-month field: 32 is out of range 1-31 (column 5)",
        ),
        (
            "@reboot",
            "unknown macro \"@reboot\" (supported: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; lower case) (column 1)",
        ),
        (
            "@DAILY",
            "unknown macro \"@DAILY\" (supported: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; lower case) (column 1)",
        ),
        (
            "@every 5m",
            "unknown macro \"@every\" (supported: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; lower case) (column 1)",
        ),
        (
            "@daily 0",
            "the macro \"@daily\" must be the whole expression (column 8)",
        ),
        (
            "0 0 * * 1\u{2013}5",
            "non-ASCII character '\u{2013}' (U+2013) is not allowed (column 10)",
        ),
        (
            "5 * * * *\u{200b}",
            "invisible non-ASCII character U+200B is not allowed (column 10)",
        ),
        (
            "0\u{a0}0 * * *",
            "invisible non-ASCII character U+00A0 is not allowed (column 2)",
        ),
        (
            "\u{23f0} * * * *",
            "non-ASCII character '\u{23f0}' (U+23F0) is not allowed (column 1)",
        ),
        (
            "\u{ff11} * * * *",
            "non-ASCII character '\u{ff11}' (U+FF11) is not allowed (column 1)",
        ),
        (
            "0 0 * * *\n",
            "control character U+000A is not allowed (column 10)",
        ),
        (
            "0 0 30 2 *",
            "the expression never fires: no day in February matches its day fields",
        ),
        (
            "0 0 31 4,6 *",
            "the expression never fires: no day in April or June matches its day fields",
        ),
        (
            "0 0 31W 2 *",
            "the expression never fires: no day in February matches its day fields",
        ),
        (
            "0 0 31 2,4 *",
            "the expression never fires: no day in February or April matches its day fields",
        ),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|(expression, expected)| {
            let actual = error(expression);
            (actual != *expected)
                .then(|| format!("{expression:?}\n  expected {expected}\n  got      {actual}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn errors_expose_kind_field_and_column_for_markers() {
    let err = Schedule::parse("0 0 * * 1-5#2").unwrap_err();
    assert_eq!(err.field(), Some(Field::DayOfWeek));
    assert_eq!(err.column(), Some(9));
    assert!(matches!(
        err.kind(),
        ParseErrorKind::ModifierCombination { modifier: "#", .. }
    ));

    // Columns count characters, not bytes, in front of non-ASCII text.
    let err = Schedule::parse("é * * * *").unwrap_err();
    assert_eq!(err.column(), Some(1));
    assert_eq!(err.field(), None);
    let err = Schedule::parse("* * * * ä").unwrap_err();
    assert_eq!(err.column(), Some(9));
    assert_eq!(err.kind(), &ParseErrorKind::NonAscii { ch: 'ä' });

    let err = Schedule::parse("* * * *").unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::FieldCount { found: 4 });
    assert_eq!((err.field(), err.column()), (None, None));

    let err = Schedule::parse("0 0 30 2 *").unwrap_err();
    assert!(matches!(err.kind(), ParseErrorKind::NeverFires { .. }));
}

#[test]
fn rare_but_possible_expressions_are_accepted() {
    // Five Mondays in February happen only in leap years starting on Monday.
    assert_eq!(
        fires("0 0 * 2 MON#5", "2026-01-01T00:00:00Z", 2),
        ["2044-02-29T00:00:00+00:00", "2072-02-29T00:00:00+00:00"]
    );
    // The next one after 2072 skips 2100, which is not a leap year.
    assert_eq!(
        fires("0 0 * 2 MON#5", "2072-03-01T00:00:00Z", 1),
        ["2112-02-29T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 29 2 *", "2096-03-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
    // With Monday restricted, the day fields are OR-ed: every Monday of February too.
    assert_eq!(
        days("0 0 29 2 MON", "2026-01-01T00:00:00Z", 2),
        ["02-02", "02-09"]
    );
    assert!(
        Schedule::parse("0 0 30 1-2 *").is_ok(),
        "January has a 30th"
    );
}

#[test]
fn schedules_round_trip_through_from_str_and_display() {
    let schedule: Schedule = "*/5 * * * *".parse().unwrap();
    assert_eq!(schedule.to_string(), "*/5 * * * *");
    assert_eq!(schedule, Schedule::parse("*/5 * * * *").unwrap());
}
