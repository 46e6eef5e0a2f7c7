//! Time per next fire instant and per parse.
//!
//! Run: `cargo bench -p cron --bench next`. Targets: < 2 µs median for
//! common expressions, no expression above 100 µs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use cron::{Schedule, time_zone};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// (name, expression, zone, from)
const NEXT_CASES: &[(&str, &str, &str, &str)] = &[
    (
        "every 5 minutes, UTC",
        "*/5 * * * *",
        "UTC",
        "2026-06-10T10:02:00Z",
    ),
    (
        "weekdays 09:00, Berlin",
        "0 9 * * MON-FRI",
        "Europe/Berlin",
        "2026-06-05T12:00:00Z",
    ),
    (
        "last day of month, UTC",
        "0 0 L * *",
        "UTC",
        "2026-06-10T10:00:00Z",
    ),
    (
        "02:30:00 daily, New York, into the gap",
        "0 30 2 * * *",
        "America/New_York",
        "2026-03-07T12:00:00Z",
    ),
    (
        "02:30:00 daily, New York, after the gap",
        "0 30 2 * * *",
        "America/New_York",
        "2026-03-08T07:00:00Z",
    ),
    (
        "01:30 daily, New York, inside the fold",
        "30 1 * * *",
        "America/New_York",
        "2026-11-01T06:30:00Z",
    ),
    (
        "every second, Lord Howe",
        "* * * * * *",
        "Australia/Lord_Howe",
        "2026-06-10T10:00:00Z",
    ),
    (
        "complex lists, Chatham",
        "*/13,44-53/5,17-30 37 * 7,15W * 3L",
        "Pacific/Chatham",
        "2028-12-05T07:39:00Z",
    ),
    (
        "Feb 29 or Mondays in Feb, UTC",
        "0 0 29 2 MON",
        "UTC",
        "2026-03-01T00:00:00Z",
    ),
    ("31W, UTC", "0 0 31W * *", "UTC", "2026-03-31T12:00:00Z"),
    (
        "Feb 29 across 2100 (8 years), New York",
        "0 0 29 2 *",
        "America/New_York",
        "2096-03-01T12:00:00Z",
    ),
    (
        "5th Monday of Feb across 2100 (40 years), UTC",
        "0 0 * 2 MON#5",
        "UTC",
        "2072-03-01T00:00:00Z",
    ),
    (
        "5th Monday of Feb across 2100 (40 years), New York",
        "0 0 * 2 MON#5",
        "America/New_York",
        "2072-03-01T00:00:00Z",
    ),
    (
        "5th Saturday of Feb (22 years), 6 fields, Lord Howe",
        "59 59 23 ? 2 SAT#5",
        "Australia/Lord_Howe",
        "2026-01-01T00:00:00Z",
    ),
];

fn next_instant(c: &mut Criterion) {
    let mut group = c.benchmark_group("next_after");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for &(name, expression, zone, from) in NEXT_CASES {
        let schedule = Schedule::parse(expression).expect("valid expression");
        let zone = time_zone(zone).expect("known zone");
        let from: Timestamp = from.parse().expect("RFC 3339");
        assert!(schedule.next_after(from, &zone).is_some(), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| schedule.next_after(black_box(from), black_box(&zone)));
        });
    }
    // The worst case found: an interval-like schedule that matches only
    // inside a DST gap, so every year's candidate is skipped and the search
    // walks ~800 transitions to its 401-year horizon before giving up.
    let never = Schedule::parse("*/30 2 * 3 SUN#2").expect("valid expression");
    let zone = TimeZone::posix("EST5EDT,M3.2.0/2,M11.1.0/2").expect("valid POSIX zone");
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().expect("RFC 3339");
    assert!(never.next_after(from, &zone).is_none());
    group.bench_function("only-in-the-gap, POSIX EST5EDT, horizon reached", |b| {
        b.iter(|| never.next_after(black_box(from), black_box(&zone)));
    });
    group.finish();
}

fn iterate(c: &mut Criterion) {
    let mut group = c.benchmark_group("iter_after");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    let schedule = Schedule::parse("*/15 9-17 * * MON-FRI").expect("valid expression");
    let zone = time_zone("America/New_York").expect("known zone");
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().expect("RFC 3339");
    group.bench_function("1000 instants, */15 9-17 * * MON-FRI, New York", |b| {
        b.iter(|| {
            schedule
                .iter_after(black_box(from), &zone)
                .take(1000)
                .count()
        });
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for expression in [
        "*/5 * * * *",
        "0 9 * * MON-FRI",
        "@daily",
        "*/13,44-53/5,17-30 37 * 7,15W * 3L",
        "46-48/2,35,21-36,12 35-58/3 22 2-9 10-12/2 */4,5,*/4",
    ] {
        group.bench_function(expression, |b| {
            b.iter(|| Schedule::parse(black_box(expression)));
        });
    }
    group.bench_function("describe 0 9 * * 5L", |b| {
        let schedule = Schedule::parse("0 9 * * 5L").expect("valid expression");
        b.iter(|| black_box(&schedule).describe());
    });
    group.finish();
}

criterion_group!(benches, next_instant, iterate, parse);
criterion_main!(benches);
