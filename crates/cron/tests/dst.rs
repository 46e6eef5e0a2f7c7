//! DST gaps and folds (README §4) in New York (1 hour), Lord Howe
//! (30 minutes) and Chatham (UTC+12:45/+13:45), and the search bound.

use cron::{FoldRule, GapRule, Schedule, format_instant, time_zone};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn next(expression: &str, zone: &str, from: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
    let zone = time_zone(zone).expect("test zones exist");
    let from: Timestamp = from.parse().expect("test instants are RFC 3339");
    schedule
        .iter_after(from, &zone)
        .take(count)
        .map(|instant| format_instant(&instant))
        .collect()
}

const NY: &str = "America/New_York";
/// 2026-03-08 02:00 EST → 03:00 EDT at 07:00Z.
const NY_SPRING: &str = "2026-03-08T05:00:00Z";
/// 2026-11-01 02:00 EDT → 01:00 EST at 06:00Z.
const NY_FALL: &str = "2026-11-01T04:00:00Z";

#[test]
fn new_york_gap_fixed_times_fire_once_at_the_transition() {
    assert_eq!(
        next("30 2 * * *", NY, "2026-03-07T12:00:00Z", 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
    // Several matching gap times collapse into one instant …
    assert_eq!(
        next("0,30 2 * * *", NY, NY_SPRING, 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"]
    );
    // … also when the expression matches the transition instant itself.
    assert_eq!(
        next("0 2,3 * * *", NY, NY_SPRING, 3),
        [
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:00:00-04:00",
            "2026-03-09T03:00:00-04:00"
        ]
    );
    // A seconds field does not make it interval-like, and the instant is the
    // transition, not 03:00:30.
    assert_eq!(
        next("30 30 2 * * *", NY, NY_SPRING, 1),
        ["2026-03-08T03:00:00-04:00"]
    );
    assert_eq!(
        next("*/10 30 2 * * *", NY, NY_SPRING, 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
}

#[test]
fn new_york_gap_interval_like_times_produce_nothing() {
    assert_eq!(
        next("*/15 2 * * *", NY, NY_SPRING, 1),
        ["2026-03-09T02:00:00-04:00"]
    );
    assert_eq!(
        next("0 0-23/2 * * *", NY, "2026-03-08T06:30:00Z", 2),
        ["2026-03-08T04:00:00-04:00", "2026-03-08T06:00:00-04:00"]
    );
    assert_eq!(
        next("0 * * * *", NY, "2026-03-08T06:30:00Z", 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]
    );
}

#[test]
fn new_york_fold_fixed_times_fire_at_the_first_occurrence_only() {
    assert_eq!(
        next("30 1 * * *", NY, NY_FALL, 2),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    // Minute interval-like but hour fixed: first pass only.
    assert_eq!(
        next("*/20 1 * * *", NY, NY_FALL, 4),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:20:00-04:00",
            "2026-11-01T01:40:00-04:00",
            "2026-11-02T01:00:00-05:00"
        ]
    );
}

#[test]
fn new_york_fold_interval_like_hours_fire_in_both_passes() {
    assert_eq!(
        next("*/20 * * * *", NY, "2026-11-01T05:30:00Z", 6),
        [
            "2026-11-01T01:40:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:20:00-05:00",
            "2026-11-01T01:40:00-05:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T02:20:00-05:00"
        ]
    );
    for hourly in ["0 * * * *", "@hourly", "0 0-23/1 * * *", "0 */1 * * *"] {
        assert_eq!(
            next(hourly, NY, NY_FALL, 3),
            [
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T02:00:00-05:00"
            ],
            "{hourly}"
        );
    }
    assert_eq!(
        next("15 */2 * * *", NY, NY_FALL, 3),
        [
            "2026-11-01T00:15:00-04:00",
            "2026-11-01T02:15:00-05:00",
            "2026-11-01T04:15:00-05:00"
        ],
        "01:15 is not in */2"
    );
}

#[test]
fn the_set_does_not_depend_on_where_the_search_starts() {
    // From inside the second pass, the suppressed second 01:30 is never produced.
    for from in [
        "2026-11-01T05:45:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T06:59:59Z",
    ] {
        assert_eq!(
            next("30 1 * * *", NY, from, 1),
            ["2026-11-02T01:30:00-05:00"],
            "from {from}"
        );
    }
    // From exactly a fire instant, the next one is strictly later.
    assert_eq!(
        next("30 1 * * *", NY, "2026-11-01T05:30:00Z", 1),
        ["2026-11-02T01:30:00-05:00"]
    );
    assert_eq!(
        next("30 1 * * *", NY, "2026-11-01T05:29:59.999Z", 1),
        ["2026-11-01T01:30:00-04:00"]
    );
    // From just before the transition instant that a gap time fires at.
    assert_eq!(
        next("30 2 * * *", NY, "2026-03-08T06:59:59Z", 1),
        ["2026-03-08T03:00:00-04:00"]
    );
    assert_eq!(
        next("30 2 * * *", NY, "2026-03-08T07:00:00Z", 1),
        ["2026-03-09T02:30:00-04:00"]
    );
}

#[test]
fn lord_howe_half_hour_shift() {
    // 2026-10-04 02:00 +10:30 → 02:30 +11:00.
    assert_eq!(
        next(
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-03T12:00:00Z",
            2
        ),
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]
    );
    assert_eq!(
        next(
            "*/15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-03T15:00:00Z",
            3
        ),
        [
            "2026-10-04T02:30:00+11:00",
            "2026-10-04T02:45:00+11:00",
            "2026-10-05T02:00:00+11:00"
        ],
        "02:00 and 02:15 are skipped, 02:30 exists"
    );
    // 2026-04-05 02:00 +11:00 → 01:30 +10:30: 01:30-01:59 repeat.
    assert_eq!(
        next(
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2026-04-04T14:00:00Z",
            2
        ),
        ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]
    );
    assert_eq!(
        next(
            "45 * * * *",
            "Australia/Lord_Howe",
            "2026-04-04T14:00:00Z",
            3
        ),
        [
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:45:00+10:30"
        ]
    );
}

#[test]
fn chatham_quarter_hour_offsets() {
    // 2026-09-27 02:45 +12:45 → 03:45 +13:45.
    assert_eq!(
        next("0 3 * * *", "Pacific/Chatham", "2026-09-26T12:00:00Z", 2),
        ["2026-09-27T03:45:00+13:45", "2026-09-28T03:00:00+13:45"]
    );
    assert_eq!(
        next("50 2 * * *", "Pacific/Chatham", "2026-09-26T12:00:00Z", 1),
        ["2026-09-27T03:45:00+13:45"]
    );
    assert_eq!(
        next("40 2 * * *", "Pacific/Chatham", "2026-09-26T12:00:00Z", 1),
        ["2026-09-27T02:40:00+12:45"],
        "02:40 is before the gap"
    );
    // 2026-04-05 03:45 +13:45 → 02:45 +12:45: 02:45-03:44 repeat.
    assert_eq!(
        next("0 3 * * *", "Pacific/Chatham", "2026-04-04T12:00:00Z", 2),
        ["2026-04-05T03:00:00+13:45", "2026-04-06T03:00:00+12:45"]
    );
    assert_eq!(
        next("0 * * * *", "Pacific/Chatham", "2026-04-04T13:00:00Z", 3),
        [
            "2026-04-05T03:00:00+13:45",
            "2026-04-05T03:00:00+12:45",
            "2026-04-05T04:00:00+12:45"
        ]
    );
}

#[test]
fn sparse_schedules_skip_decades_of_transitions_exactly() {
    // Five Mondays in February: 2072, then 2112 (2100 is not a leap year).
    assert_eq!(
        next("0 0 * 2 MON#5", NY, "2072-03-01T00:00:00Z", 2),
        ["2112-02-29T00:00:00-05:00", "2140-02-29T00:00:00-05:00"]
    );
    // A sparse schedule whose next wall-clock match is a year away, started
    // just before a fold that repeats an earlier match: the repeat fires.
    assert_eq!(
        next("50 0-1/1 1 11 *", NY, "2026-11-01T05:55:00Z", 2),
        ["2026-11-01T01:50:00-05:00", "2027-11-01T00:50:00-04:00"]
    );
    // A yearly gap time, years apart, still fires at each transition.
    assert_eq!(
        next("30 2 8-14 3 SUN", NY, "2026-03-09T00:00:00Z", 3),
        [
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00",
            "2026-03-11T02:30:00-04:00"
        ]
    );
    assert_eq!(
        next("30 2 ? 3 SUN#2", NY, "2026-03-09T00:00:00Z", 3),
        [
            "2027-03-14T03:00:00-04:00",
            "2028-03-12T03:00:00-04:00",
            "2029-03-11T03:00:00-04:00"
        ]
    );
}

#[test]
fn dst_rules_are_decided_by_minute_and_hour_text_only() {
    let rules = |expression: &str| Schedule::parse(expression).unwrap().dst_rules();
    assert_eq!(rules("30 2 * * *").gap, GapRule::FireAtTransition);
    assert_eq!(rules("*/5 30 2 * * *").gap, GapRule::FireAtTransition);
    assert_eq!(rules("5,*/20 2 * * *").gap, GapRule::Skip);
    assert_eq!(rules("0 0-23/2 * * *").gap, GapRule::Skip);
    assert_eq!(rules("*/20 1 * * *").fold, FoldRule::FirstOnly);
    assert_eq!(rules("0 * * * *").fold, FoldRule::Both);
    assert_eq!(rules("0 0-23/1 * * *").fold, FoldRule::Both);
    assert_eq!(rules("0 0-23 * * *").fold, FoldRule::FirstOnly);
}

#[test]
fn a_schedule_that_only_matches_skipped_times_ends_the_search_with_none() {
    // A zone whose gap is 02:00-03:00 on the second Sunday of March, and an
    // interval-like schedule that matches only inside that gap: the
    // calendar matches every year, the zone never lets it fire. The search
    // gives up after its horizon instead of looping.
    let zone = TimeZone::posix("EST5EDT,M3.2.0/2,M11.1.0/2").unwrap();
    let schedule = Schedule::parse("*/30 2 * 3 SUN#2").unwrap();
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(schedule.next_after(from, &zone), None);
    // The same schedule in UTC fires.
    assert!(schedule.next_after(from, &TimeZone::UTC).is_some());
}

#[test]
fn searches_end_at_the_end_of_representable_time() {
    let from: Timestamp = "9996-03-01T00:00:00Z".parse().unwrap();
    let leap_day = Schedule::parse("0 0 29 2 *").unwrap();
    assert_eq!(
        leap_day.next_after(from, &TimeZone::UTC),
        None,
        "year 10000"
    );
    let every_second = Schedule::parse("* * * * * *").unwrap();
    let last = Timestamp::MAX;
    assert_eq!(every_second.next_after(last, &TimeZone::UTC), None);
    assert_eq!(every_second.iter_after(last, &TimeZone::UTC).count(), 0);
    assert!(
        every_second
            .next_after(Timestamp::MIN, &TimeZone::UTC)
            .is_some()
    );
}

#[test]
fn time_zone_lookup_names_the_unknown_zone() {
    assert_eq!(
        time_zone("Mars/Base").unwrap_err().to_string(),
        "unknown time zone \"Mars/Base\""
    );
    assert_eq!(time_zone("Mars/Base").unwrap_err().name(), "Mars/Base");
    assert!(time_zone("UTC").is_ok());
    assert!(time_zone("Europe/Berlin").is_ok());
}
