//! Generated expressions × zones × instants, checked against an independent
//! reference: a naive matcher written from README §2-§4 that evaluates the
//! generated syntax tree directly (no bit sets, no search) and asks jiff
//! about gaps and folds.

use std::fmt::Write as _;

use cron::{ParseErrorKind, Schedule};
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Asia/Tehran",
    "Antarctica/Troll",
];

#[derive(Clone, Debug)]
enum Item {
    Star,
    StarStep(u8),
    Value(u8),
    Range(u8, u8),
    RangeStep(u8, u8, u8),
    Last,
    LastWeekday,
    Nearest(u8),
    Nth(u8, u8),
    LastOf(u8),
}

#[derive(Clone, Debug)]
struct Field {
    items: Vec<Item>,
    question: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Kind {
    fn bounds(self) -> (u8, u8) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
        }
    }
}

#[derive(Clone, Debug)]
struct Expr {
    second: Option<Field>,
    minute: Field,
    hour: Field,
    day_of_month: Field,
    month: Field,
    day_of_week: Field,
    names: bool,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "Feb", "mar", "APR", "May", "jun", "JUL", "Aug", "sep", "OCT", "Nov", "dec",
];
/// Day 7 has no name: `SUN` is 0 (README §2), so 7 is always written as a number.
const DAY_NAMES: [&str; 7] = ["sun", "MON", "Tue", "wed", "THU", "Fri", "sat"];

impl Expr {
    fn text(&self) -> String {
        let mut text = String::new();
        if let Some(second) = &self.second {
            text += &self.field_text(second, Kind::Second);
            text += " ";
        }
        let _ = write!(
            text,
            "{} {} {} {} {}",
            self.field_text(&self.minute, Kind::Minute),
            self.field_text(&self.hour, Kind::Hour),
            self.field_text(&self.day_of_month, Kind::DayOfMonth),
            self.field_text(&self.month, Kind::Month),
            self.field_text(&self.day_of_week, Kind::DayOfWeek),
        );
        text
    }

    fn field_text(&self, field: &Field, kind: Kind) -> String {
        if field.question {
            return String::from("?");
        }
        let value = |v: u8| match kind {
            Kind::Month if self.names => MONTH_NAMES[usize::from(v) - 1].to_owned(),
            Kind::DayOfWeek if self.names && v < 7 => DAY_NAMES[usize::from(v)].to_owned(),
            _ => v.to_string(),
        };
        let items: Vec<String> = field
            .items
            .iter()
            .map(|item| match *item {
                Item::Star => String::from("*"),
                Item::StarStep(s) => format!("*/{s}"),
                Item::Value(v) => value(v),
                Item::Range(a, b) => format!("{}-{}", value(a), value(b)),
                Item::RangeStep(a, b, s) => format!("{}-{}/{s}", value(a), value(b)),
                Item::Last => String::from("L"),
                Item::LastWeekday => String::from("LW"),
                Item::Nearest(n) => format!("{n}W"),
                Item::Nth(d, n) => format!("{}#{n}", value(d)),
                Item::LastOf(d) => format!("{}L", value(d)),
            })
            .collect();
        items.join(",")
    }

    fn interval_like(field: &Field) -> bool {
        field
            .items
            .iter()
            .any(|item| matches!(item, Item::Star | Item::StarStep(_) | Item::RangeStep(..)))
    }

    fn restricted(field: &Field) -> bool {
        !field.question && !matches!(field.items[..], [Item::Star])
    }

    /// README §2-§3 evaluated naively on one wall-clock time.
    fn matches(&self, time: DateTime) -> bool {
        let second_ok = match &self.second {
            Some(field) => plain_contains(field, Kind::Second, time.second() as u8),
            None => time.second() == 0,
        };
        second_ok
            && plain_contains(&self.minute, Kind::Minute, time.minute() as u8)
            && plain_contains(&self.hour, Kind::Hour, time.hour() as u8)
            && plain_contains(&self.month, Kind::Month, time.month() as u8)
            && self.day_matches(time.date())
    }

    fn day_matches(&self, date: Date) -> bool {
        let by_month = day_of_month_contains(&self.day_of_month, date);
        let by_week = day_of_week_contains(&self.day_of_week, date);
        match (
            Expr::restricted(&self.day_of_month),
            Expr::restricted(&self.day_of_week),
        ) {
            (false, false) => true,
            (true, false) => by_month,
            (false, true) => by_week,
            (true, true) => by_month || by_week,
        }
    }
}

fn item_contains(item: &Item, kind: Kind, value: u8) -> bool {
    let (min, max) = kind.bounds();
    let hits = |v: u8| match *item {
        Item::Star => true,
        Item::StarStep(s) => (v - min).is_multiple_of(s) && v <= max,
        Item::Value(x) => x == v,
        Item::Range(a, b) => a <= v && v <= b,
        Item::RangeStep(a, b, s) => a <= v && v <= b && (v - a).is_multiple_of(s),
        _ => false,
    };
    // Day-of-week 7 is Sunday as well.
    hits(value) || (kind == Kind::DayOfWeek && value == 0 && hits(7))
}

fn plain_contains(field: &Field, kind: Kind, value: u8) -> bool {
    field.question
        || field
            .items
            .iter()
            .any(|item| item_contains(item, kind, value))
}

fn weekday(date: Date) -> u8 {
    date.weekday().to_sunday_zero_offset() as u8
}

fn day_of_month_contains(field: &Field, date: Date) -> bool {
    let day = date.day() as u8;
    let length = date.days_in_month() as u8;
    let on = |d: u8| {
        date.first_of_month()
            .with()
            .day(d as i8)
            .build()
            .expect("valid day")
    };
    field.question
        || field.items.iter().any(|item| match *item {
            Item::Last => day == length,
            Item::LastWeekday => {
                let last_weekday = (1..=length)
                    .rev()
                    .find(|&d| (1..=5).contains(&weekday(on(d))))
                    .expect("a month has weekdays");
                day == last_weekday
            }
            Item::Nearest(n) => {
                if n > length {
                    return false;
                }
                let target = match weekday(on(n)) {
                    6 if n == 1 => 3,
                    6 => n - 1,
                    0 if n == length => n - 2,
                    0 => n + 1,
                    _ => n,
                };
                day == target
            }
            ref plain => item_contains(plain, Kind::DayOfMonth, day),
        })
}

fn day_of_week_contains(field: &Field, date: Date) -> bool {
    let today = weekday(date);
    let day = date.day() as u8;
    let length = date.days_in_month() as u8;
    field.question
        || field.items.iter().any(|item| match *item {
            Item::Nth(d, n) => d % 7 == today && (day - 1) / 7 + 1 == n,
            Item::LastOf(d) => d % 7 == today && day + 7 > length,
            ref plain => item_contains(plain, Kind::DayOfWeek, today),
        })
}

/// README §4: does the schedule's set of instants contain `t`?
fn reference_fires(expr: &Expr, zone: &TimeZone, t: Timestamp) -> bool {
    let local = zone.to_datetime(t);
    let offset = zone.to_offset(t);
    if expr.matches(local) {
        if let AmbiguousOffset::Fold { before, after } = zone.to_ambiguous_timestamp(local).offset()
            && offset == after
            && before != after
        {
            return Expr::interval_like(&expr.hour);
        }
        return true;
    }
    let before = zone.to_offset(t - SignedDuration::from_secs(1));
    let fixed_time = !Expr::interval_like(&expr.minute) && !Expr::interval_like(&expr.hour);
    if before.seconds() >= offset.seconds() || !fixed_time {
        return false;
    }
    // `t` is a gap transition: does any skipped wall-clock time match?
    let gap = i64::from(offset.seconds() - before.seconds());
    let start = before.to_datetime(t);
    (0..gap).any(|s| expr.matches(start + SignedDuration::from_secs(s)))
}

fn field(kind: Kind, allow_question: bool) -> impl Strategy<Value = Field> {
    let (min, max) = kind.bounds();
    let span = max - min;
    let value = min..=max;
    let plain = prop_oneof![
        1 => Just(Item::Star),
        1 => (1..=span).prop_map(Item::StarStep),
        3 => value.clone().prop_map(Item::Value),
        2 => (value.clone(), value.clone())
            .prop_map(|(a, b)| Item::Range(a.min(b), a.max(b))),
        1 => (value.clone(), value.clone(), 1..=span)
            .prop_map(|(a, b, s)| Item::RangeStep(a.min(b), a.max(b), s)),
    ];
    let item: BoxedStrategy<Item> = match kind {
        Kind::DayOfMonth => prop_oneof![
            6 => plain,
            1 => Just(Item::Last),
            1 => Just(Item::LastWeekday),
            1 => (1u8..=31).prop_map(Item::Nearest),
        ]
        .boxed(),
        Kind::DayOfWeek => prop_oneof![
            6 => plain,
            1 => (0u8..=7, 1u8..=5).prop_map(|(d, n)| Item::Nth(d, n)),
            1 => (0u8..=7).prop_map(Item::LastOf),
        ]
        .boxed(),
        _ => plain.boxed(),
    };
    let list = prop::collection::vec(item, 1..=3);
    let question_weight = if allow_question { 1 } else { 0 };
    prop_oneof![
        4 => list.prop_map(|items| Field { items, question: false }),
        2 => Just(Field { items: vec![Item::Star], question: false }),
        question_weight => Just(Field { items: vec![Item::Star], question: true }),
    ]
}

fn expression() -> impl Strategy<Value = Expr> {
    (
        prop::option::weighted(0.3, field(Kind::Second, false)),
        field(Kind::Minute, false),
        field(Kind::Hour, false),
        field(Kind::DayOfMonth, true),
        field(Kind::Month, false),
        field(Kind::DayOfWeek, true),
        any::<bool>(),
    )
        .prop_map(
            |(second, minute, hour, day_of_month, month, day_of_week, names)| Expr {
                second,
                minute,
                hour,
                day_of_month,
                month,
                day_of_week,
                names,
            },
        )
}

/// A start instant: anywhere in 1970-2100, or within hours of a transition
/// of the zone (where the DST rules matter).
fn start(zone: &TimeZone, seconds: i64, near_transition: bool, jitter: i64) -> Timestamp {
    let anywhere = Timestamp::from_second(seconds).expect("in range");
    if !near_transition {
        return anywhere;
    }
    match zone.following(anywhere).next() {
        Some(transition) => transition.timestamp() + SignedDuration::from_secs(jitter),
        None => anywhere,
    }
}

/// How many candidate instants between results the completeness check
/// looks at, per case.
const SCAN_BUDGET: i64 = 4_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn results_match_the_reference_and_nothing_is_skipped(
        expr in expression(),
        zone_index in 0..ZONES.len(),
        seconds in 0i64..4_102_444_800,
        near_transition in any::<bool>(),
        jitter in -108_000i64..108_000,
        picks in prop::collection::vec(0.0f64..1.0, 6),
    ) {
        let text = expr.text();
        let zone = TimeZone::get(ZONES[zone_index]).expect("zone exists");
        let from = start(&zone, seconds, near_transition, jitter);
        let schedule = match Schedule::parse(&text) {
            Ok(schedule) => schedule,
            Err(error) => {
                prop_assert!(
                    matches!(error.kind(), ParseErrorKind::NeverFires { .. }),
                    "{text:?}: {error}"
                );
                // Confirm over a full 400-year cycle that no day matches.
                let mut date = Date::constant(2000, 1, 1);
                while date.year() < 2400 {
                    let month_ok = plain_contains(&expr.month, Kind::Month, date.month() as u8);
                    prop_assert!(!(month_ok && expr.day_matches(date)), "{text:?} matches {date}");
                    date = date.tomorrow().expect("in range");
                }
                return Ok(());
            }
        };
        let results: Vec<Timestamp> = schedule
            .iter_after(from, &zone)
            .take(picks.len())
            .map(|zoned| zoned.timestamp())
            .collect();
        prop_assert!(!results.is_empty(), "{text:?} never fired from {from}");
        let step = if expr.second.is_some() { 1 } else { 60 };
        let mut budget = SCAN_BUDGET;
        let mut previous = from;
        for (index, &result) in results.iter().enumerate() {
            prop_assert!(result > previous, "{text:?}: {result} after {previous}");
            prop_assert!(
                reference_fires(&expr, &zone, result),
                "{text:?} in {}: {result} is not in the set", ZONES[zone_index]
            );
            // Completeness: no instant of the set between the previous result and this one.
            let first_candidate = (previous.as_second().div_euclid(step) + 1) * step;
            let mut candidate = first_candidate;
            while candidate < result.as_second() && budget > 0 {
                let t = Timestamp::from_second(candidate).expect("in range");
                prop_assert!(
                    !reference_fires(&expr, &zone, t),
                    "{text:?} in {}: {t} was skipped before {result}", ZONES[zone_index]
                );
                candidate += step;
                budget -= 1;
            }
            // The set does not depend on the start: searching from just
            // before the result, or from anywhere after the previous one,
            // finds the same instant.
            let just_before = result - SignedDuration::from_secs(1);
            prop_assert_eq!(
                schedule.next_after(just_before, &zone).map(|z| z.timestamp()),
                Some(result)
            );
            let span = result.as_second() - previous.as_second();
            let inside = previous + SignedDuration::from_secs((picks[index] * span as f64) as i64);
            prop_assert_eq!(
                schedule.next_after(inside.min(just_before), &zone).map(|z| z.timestamp()),
                Some(result),
                "{} from {}", text, inside
            );
            previous = result;
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Schedule::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_cron_like_text(text in "[0-9*/,LW#?@ \\-\t]{0,24}|[0-9A-Za-z*/,#?@ \\-]{0,30}") {
        if let Ok(schedule) = Schedule::parse(&text) {
            // Whatever parses can be described and searched.
            prop_assert!(!schedule.describe().is_empty());
            let from = Timestamp::from_second(1_800_000_000).expect("in range");
            prop_assert!(schedule.next_after(from, &TimeZone::UTC).is_some(), "{:?}", text);
        }
    }
}
