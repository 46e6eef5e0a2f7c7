//! English descriptions of schedules, built from the value sets (not the
//! text), so every valid expression gets one and equivalent expressions get
//! the same one.

use crate::spec::{DaysOfMonth, DaysOfWeek, Spec};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const OCCURRENCES: [&str; 6] = ["", "first", "second", "third", "fourth", "fifth"];

/// At most this many fire times a day are listed one by one
/// ("At 09:00 and 17:00") instead of being described as a pattern.
const MAX_LISTED_TIMES: u32 = 6;

pub(crate) fn describe(spec: &Spec) -> String {
    let mut text = describe_time(spec);
    text.push_str(&describe_days(spec));
    text.push_str(&describe_months(spec.months));
    capitalize(&text)
}

/// "February", "April or June", "January, March or May".
pub(crate) fn month_names_or(months: u16) -> String {
    let names: Vec<String> = values(u64::from(months), 1, 12)
        .map(|month| MONTHS[month as usize - 1].to_owned())
        .collect();
    join(&names, "or")
}

fn describe_time(spec: &Spec) -> String {
    let (seconds, minutes, hours) = (spec.seconds, spec.minutes, u64::from(spec.hours));
    let count = seconds.count_ones() * minutes.count_ones() * hours.count_ones();
    if count <= MAX_LISTED_TIMES {
        return format!("at {}", join(&listed_times(seconds, minutes, hours), "and"));
    }
    let whole_minutes = seconds == 1;
    let mut parts = Vec::new();
    if !whole_minutes {
        parts.push(unit_phrase(seconds, 59, "second", "minute"));
    }
    if minutes == 1 && whole_minutes {
        parts.push(on_the_hour_phrase(hours));
        return parts.join(", ");
    }
    if minutes != all_bits(0, 59) || whole_minutes {
        parts.push(unit_phrase(minutes, 59, "minute", "hour"));
    }
    let once_per_hour = seconds.count_ones() * minutes.count_ones() == 1;
    parts.extend(hour_phrase(hours, once_per_hour));
    parts.join(", ")
}

/// Minute 0 of the given hours: "every hour", "every 2 hours", …
fn on_the_hour_phrase(hours: u64) -> String {
    if hours == all_bits(0, 23) {
        return String::from("every hour");
    }
    if let Some(step) = every_n(hours, 0, 23) {
        return format!("every {step} hours");
    }
    if let Some((first, last)) = single_run(hours) {
        return format!("every hour from {first:02}:00 through {last:02}:00");
    }
    if let Some((first, step, last)) = progression(hours, 0, 23) {
        return format!("every {step} hours from {first:02}:00 through {last:02}:00");
    }
    format!("every hour, during hours {}", number_runs(hours, 0, 23))
}

/// Every combination of the (few) values, as `HH:MM` or `HH:MM:SS`.
fn listed_times(seconds: u64, minutes: u64, hours: u64) -> Vec<String> {
    let mut times = Vec::new();
    for hour in values(hours, 0, 23) {
        for minute in values(minutes, 0, 59) {
            for second in values(seconds, 0, 59) {
                times.push(if seconds == 1 {
                    format!("{hour:02}:{minute:02}")
                } else {
                    format!("{hour:02}:{minute:02}:{second:02}")
                });
            }
        }
    }
    times
}

/// Seconds within the minute or minutes within the hour.
fn unit_phrase(bits: u64, max: u32, unit: &str, whole: &str) -> String {
    if bits == all_bits(0, max) {
        return format!("every {unit}");
    }
    if let Some(step) = every_n(bits, 0, max) {
        return format!("every {step} {unit}s");
    }
    if bits.count_ones() == 1 {
        let value = bits.trailing_zeros();
        let plural = if value == 1 { "" } else { "s" };
        return format!("at {value} {unit}{plural} past the {whole}");
    }
    if let Some((first, step, last)) = progression(bits, 0, max) {
        return format!("every {step} {unit}s from {first} through {last} past the {whole}");
    }
    format!("at {unit}s {} past the {whole}", number_runs(bits, 0, max))
}

/// The hours, after a phrase for the seconds and minutes within them. With
/// several fire times per hour "every 2 hours" would misread as the whole
/// pattern repeating every two hours, so that case says "during every 2nd
/// hour".
fn hour_phrase(hours: u64, once_per_hour: bool) -> Option<String> {
    if hours == all_bits(0, 23) {
        return None;
    }
    if let Some(step) = every_n(hours, 0, 23) {
        return Some(if once_per_hour {
            format!("every {step} hours")
        } else {
            format!("during every {} hour", ordinal(step))
        });
    }
    if let Some((first, last)) = single_run(hours) {
        return Some(format!("between {first:02}:00 and {last:02}:59"));
    }
    if let Some((first, step, last)) = progression(hours, 0, 23) {
        return Some(format!(
            "every {step} hours from {first:02}:00 through {last:02}:00"
        ));
    }
    Some(format!("during hours {}", number_runs(hours, 0, 23)))
}

fn describe_days(spec: &Spec) -> String {
    let (month_days, week_days) = (&spec.days_of_month, &spec.days_of_week);
    match (month_days.restricted, week_days.restricted) {
        (false, false) => String::new(),
        (true, false) => format!(" on {} of the month", day_of_month_phrase(month_days)),
        (false, true) => day_of_week_phrase(week_days),
        (true, true) => format!(
            " on {} of the month and {}",
            day_of_month_phrase(month_days),
            day_of_week_alternative(week_days)
        ),
    }
}

fn day_of_month_phrase(field: &DaysOfMonth) -> String {
    let days = u64::from(field.days);
    let has_extras = field.last || field.last_weekday || field.nearest != 0;
    let mut pieces = Vec::new();
    if !has_extras {
        if days == all_bits(1, 31) {
            return String::from("every day");
        }
        if let Some(step) = every_nth_day(days) {
            return format!("every {} day", ordinal(step));
        }
        return match days.count_ones() {
            1 => format!("day {}", days.trailing_zeros()),
            _ => format!("days {}", number_runs(days, 1, 31)),
        };
    }
    for (first, last) in runs(days, 1, 31) {
        pieces.push(match last - first {
            0 => format!("day {first}"),
            1 => format!("day {first}, day {last}"),
            _ => format!("days {first} through {last}"),
        });
    }
    for day in values(u64::from(field.nearest), 1, 31) {
        pieces.push(format!("the weekday nearest day {day}"));
    }
    if field.last_weekday {
        pieces.push(String::from("the last weekday"));
    }
    if field.last {
        pieces.push(String::from("the last day"));
    }
    join(&pieces, "and")
}

/// Day-of-week alone: ", Monday through Friday", ", only on Sunday",
/// " on the last Friday of the month".
fn day_of_week_phrase(field: &DaysOfWeek) -> String {
    let pieces = weekday_extras(field);
    if pieces.is_empty() {
        if field.days == 0x7f {
            return String::from(", every day of the week");
        }
        return match weekday_range(field.days) {
            Some(range) => format!(", {range}"),
            None => format!(", only on {}", weekday_list(field.days)),
        };
    }
    let mut all = Vec::new();
    if field.days != 0 {
        all.push(format!("every {}", weekday_list(field.days)));
    }
    all.extend(pieces);
    format!(" on {} of the month", join(&all, "and"))
}

/// Day-of-week OR-ed with day-of-month: "on every Friday",
/// "on Monday through Friday", "on the first Monday of the month".
fn day_of_week_alternative(field: &DaysOfWeek) -> String {
    let mut all = Vec::new();
    if field.days != 0 {
        all.push(match weekday_range(field.days) {
            Some(range) => range,
            None => format!("every {}", weekday_list(field.days)),
        });
    }
    let extras = weekday_extras(field);
    let has_extras = !extras.is_empty();
    all.extend(extras);
    let suffix = if has_extras { " of the month" } else { "" };
    format!("on {}{suffix}", join(&all, "and"))
}

/// "the first Monday", "the last Friday", in weekday order.
fn weekday_extras(field: &DaysOfWeek) -> Vec<String> {
    let mut pieces = Vec::new();
    for (weekday, name) in WEEKDAYS.iter().enumerate() {
        for (occurrence, word) in OCCURRENCES.iter().enumerate().skip(1) {
            if field.nth[weekday] & (1 << occurrence) != 0 {
                pieces.push(format!("the {word} {name}"));
            }
        }
        if field.last & (1 << weekday) != 0 {
            pieces.push(format!("the last {name}"));
        }
    }
    pieces
}

/// Weekdays as cyclic runs starting on Monday, so `5-7` reads "Friday,
/// Saturday and Sunday" and `SAT,SUN` reads "Saturday and Sunday".
fn weekday_runs(days: u8) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    // Monday-first order: position p is weekday (p + 1) % 7.
    for position in 0..7 {
        let weekday = (position + 1) % 7;
        if days & (1 << weekday) == 0 {
            continue;
        }
        match runs.last_mut() {
            Some((_, last)) if (*last + 1) % 7 == weekday => *last = weekday,
            _ => runs.push((weekday, weekday)),
        }
    }
    runs
}

/// "Monday through Friday" when the days are one run of three or more.
fn weekday_range(days: u8) -> Option<String> {
    match weekday_runs(days).as_slice() {
        [(first, last)] if (last + 7 - first) % 7 >= 2 && days != 0x7f => {
            Some(format!("{} through {}", WEEKDAYS[*first], WEEKDAYS[*last]))
        }
        _ => None,
    }
}

fn weekday_list(days: u8) -> String {
    if days == 0x7f {
        return String::from("day of the week");
    }
    let mut names = Vec::new();
    for (first, last) in weekday_runs(days) {
        match (last + 7 - first) % 7 {
            0 => names.push(WEEKDAYS[first].to_owned()),
            1 => names.extend([WEEKDAYS[first].to_owned(), WEEKDAYS[last].to_owned()]),
            _ => names.push(format!("{} through {}", WEEKDAYS[first], WEEKDAYS[last])),
        }
    }
    join(&names, "and")
}

fn describe_months(months: u16) -> String {
    let months = u64::from(months);
    if months == all_bits(1, 12) {
        return String::new();
    }
    if let Some((first, last)) = single_run(months).filter(|(first, last)| last - first >= 2) {
        return format!(
            ", {} through {}",
            MONTHS[first as usize - 1],
            MONTHS[last as usize - 1]
        );
    }
    let mut names = Vec::new();
    for (first, last) in runs(months, 1, 12) {
        let (first_name, last_name) = (MONTHS[first as usize - 1], MONTHS[last as usize - 1]);
        match last - first {
            0 => names.push(first_name.to_owned()),
            1 => names.extend([first_name.to_owned(), last_name.to_owned()]),
            _ => names.push(format!("{first_name} through {last_name}")),
        }
    }
    format!(", only in {}", join(&names, "and"))
}

/// The set values within `min..=max`, ascending.
fn values(bits: u64, min: u32, max: u32) -> impl Iterator<Item = u32> {
    (min..=max).filter(move |value| bits & (1 << value) != 0)
}

fn all_bits(min: u32, max: u32) -> u64 {
    (min..=max).fold(0, |bits, value| bits | 1 << value)
}

/// Maximal runs of consecutive values.
fn runs(bits: u64, min: u32, max: u32) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for value in values(bits, min, max) {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == value => *last = value,
            _ => runs.push((value, value)),
        }
    }
    runs
}

fn single_run(bits: u64) -> Option<(u32, u32)> {
    match runs(bits, 0, 63).as_slice() {
        [run] => Some(*run),
        _ => None,
    }
}

/// "0 through 5, 12 and 20 through 23": runs of three or more are ranges.
fn number_runs(bits: u64, min: u32, max: u32) -> String {
    let mut pieces = Vec::new();
    for (first, last) in runs(bits, min, max) {
        match last - first {
            0 => pieces.push(first.to_string()),
            1 => pieces.extend([first.to_string(), last.to_string()]),
            _ => pieces.push(format!("{first} through {last}")),
        }
    }
    join(&pieces, "and")
}

/// `Some((first, step, last))` when the values are an arithmetic progression
/// of at least three values with a step above 1.
fn progression(bits: u64, min: u32, max: u32) -> Option<(u32, u32, u32)> {
    let list: Vec<u32> = values(bits, min, max).collect();
    let [first, second, ..] = list[..] else {
        return None;
    };
    let step = second - first;
    let regular = list.len() >= 3 && step > 1 && list.windows(2).all(|w| w[1] - w[0] == step);
    regular.then(|| (first, step, list[list.len() - 1]))
}

/// `Some(step)` when the values are exactly `*/step` of the field and the
/// step divides the field's size, so "every `step` units" is true across
/// the wrap-around too (`*/7` minutes is 0, 7, …, 56 and then 0 again four
/// minutes later, so it is not described as "every 7 minutes").
fn every_n(bits: u64, min: u32, max: u32) -> Option<u32> {
    let list: Vec<u32> = values(bits, min, max).collect();
    let [first, second, ..] = list[..] else {
        return None;
    };
    let step = second - first;
    let regular = step > 1 && list.windows(2).all(|w| w[1] - w[0] == step);
    let last = list[list.len() - 1];
    (regular && first == min && last + step > max && (max + 1 - min).is_multiple_of(step))
        .then_some(step)
}

/// Day-of-month `*/step`: "every 2nd day" restarts with each month, so the
/// step need not divide anything.
fn every_nth_day(bits: u64) -> Option<u32> {
    let (first, step, last) = progression(bits, 1, 31)?;
    (first == 1 && last + step > 31).then_some(step)
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Schedule;

    fn describe(expression: &str) -> String {
        Schedule::parse(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
            .describe()
    }

    #[test]
    fn describes_a_broad_table_of_expressions() {
        let table = [
            ("* * * * *", "Every minute"),
            ("*/15 * * * *", "Every 15 minutes"),
            ("0-59/15 * * * *", "Every 15 minutes"),
            ("30 2 * * 1-5", "At 02:30, Monday through Friday"),
            ("0 9 * * 5L", "At 09:00 on the last Friday of the month"),
            ("0 0 1 * *", "At 00:00 on day 1 of the month"),
            ("@monthly", "At 00:00 on day 1 of the month"),
            ("@yearly", "At 00:00 on day 1 of the month, only in January"),
            ("@weekly", "At 00:00, only on Sunday"),
            ("@daily", "At 00:00"),
            ("@hourly", "Every hour"),
            ("0 */2 * * *", "Every 2 hours"),
            ("30 */2 * * *", "At 30 minutes past the hour, every 2 hours"),
            ("5 * * * *", "At 5 minutes past the hour"),
            ("1 * * * *", "At 1 minute past the hour"),
            ("0 9-17 * * *", "Every hour from 09:00 through 17:00"),
            (
                "*/15 9-17 * * *",
                "Every 15 minutes, between 09:00 and 17:59",
            ),
            ("* 9 * * *", "Every minute, between 09:00 and 09:59"),
            ("0 9,17 * * *", "At 09:00 and 17:00"),
            ("0,30 9,17 * * *", "At 09:00, 09:30, 17:00 and 17:30"),
            ("0 1-23/2 * * *", "Every 2 hours from 01:00 through 23:00"),
            (
                "15 0-5,12,20-23 * * *",
                "At 15 minutes past the hour, during hours 0 through 5, 12 and 20 through 23",
            ),
            (
                "0,5,10,30 * * * *",
                "At minutes 0, 5, 10 and 30 past the hour",
            ),
            (
                "40-55/5 * * * *",
                "Every 5 minutes from 40 through 55 past the hour",
            ),
            ("0-10 * * * *", "At minutes 0 through 10 past the hour"),
            ("* * * * * *", "Every second"),
            ("*/10 * * * * *", "Every 10 seconds"),
            ("0 * * * * *", "Every minute"),
            ("30 * * * * *", "At 30 seconds past the minute"),
            ("15 30 2 * * *", "At 02:30:15"),
            ("0,30 0 9 * * *", "At 09:00:00 and 09:00:30"),
            (
                "*/20 0 9-17 * * *",
                "Every 20 seconds, at 0 minutes past the hour, between 09:00 and 17:59",
            ),
            (
                "0 12 * * MON,WED,FRI",
                "At 12:00, only on Monday, Wednesday and Friday",
            ),
            ("0 12 * * SAT,SUN", "At 12:00, only on Saturday and Sunday"),
            ("0 12 * * 5-7", "At 12:00, Friday through Sunday"),
            ("0 12 * * 0-6", "At 12:00, every day of the week"),
            ("0 9 * * MON#1", "At 09:00 on the first Monday of the month"),
            (
                "30 12 ? * 1#2,3#4",
                "At 12:30 on the second Monday and the fourth Wednesday of the month",
            ),
            (
                "0 9 * * 1,5L",
                "At 09:00 on every Monday and the last Friday of the month",
            ),
            ("0 0 L * *", "At 00:00 on the last day of the month"),
            ("0 0 LW * *", "At 00:00 on the last weekday of the month"),
            (
                "0 8 15W * *",
                "At 08:00 on the weekday nearest day 15 of the month",
            ),
            (
                "0 0 1,15,L * *",
                "At 00:00 on day 1, day 15 and the last day of the month",
            ),
            ("0 0 1,15 * *", "At 00:00 on days 1 and 15 of the month"),
            ("0 0 1-7 * *", "At 00:00 on days 1 through 7 of the month"),
            ("0 0 */2 * *", "At 00:00 on every 2nd day of the month"),
            ("0 0 */10 * *", "At 00:00 on every 10th day of the month"),
            (
                "0 0 13 * FRI",
                "At 00:00 on day 13 of the month and on every Friday",
            ),
            (
                "0 9 1-7 * 1",
                "At 09:00 on days 1 through 7 of the month and on every Monday",
            ),
            (
                "0 9 L * 1-5",
                "At 09:00 on the last day of the month and on Monday through Friday",
            ),
            (
                "0 9 15 * 5L",
                "At 09:00 on day 15 of the month and on the last Friday of the month",
            ),
            (
                "0 0 29 2 *",
                "At 00:00 on day 29 of the month, only in February",
            ),
            ("0 0 * JAN-MAR *", "At 00:00, January through March"),
            (
                "0 0 1 */3 *",
                "At 00:00 on day 1 of the month, only in January, April, July and October",
            ),
            ("0 0 * 6,7 *", "At 00:00, only in June and July"),
            (
                "0 0 * 1-8,10 *",
                "At 00:00, only in January through August and October",
            ),
            (
                "0 0 * * 1,2,4-7",
                "At 00:00, only on Monday, Tuesday and Thursday through Sunday",
            ),
            ("*/30 * * * *", "Every 30 minutes"),
            ("0 */12 * * *", "At 00:00 and 12:00"),
            ("0 0 */12 * * *", "At 00:00 and 12:00"),
            ("15 */12 * * *", "At 00:15 and 12:15"),
            (
                "0 */8 * * 1-5",
                "At 00:00, 08:00 and 16:00, Monday through Friday",
            ),
            ("* */12 * * *", "Every minute, during every 12th hour"),
            ("*/15 */2 * * *", "Every 15 minutes, during every 2nd hour"),
            (
                "*/7 * * * *",
                "Every 7 minutes from 0 through 56 past the hour",
            ),
            ("0 */5 * * *", "At 00:00, 05:00, 10:00, 15:00 and 20:00"),
            (
                "30 */5 * * * *",
                "At 30 seconds past the minute, every 5 minutes",
            ),
        ];
        let wrong: Vec<String> = table
            .iter()
            .filter(|(expression, expected)| describe(expression) != *expected)
            .map(|(expression, expected)| {
                format!(
                    "{expression:?}\n  expected {expected:?}\n  got      {:?}",
                    describe(expression)
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_vector_expression_gets_a_readable_sentence() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
        let text = std::fs::read_to_string(path).unwrap();
        let mut seen = 0;
        for line in text.split("\"expr\": \"").skip(1) {
            let expression = &line[..line.find('"').unwrap()];
            let sentence = describe(expression);
            assert!(sentence.len() > 5, "{expression}: {sentence:?}");
            assert!(
                sentence.starts_with(|c: char| c.is_ascii_uppercase()),
                "{sentence}"
            );
            assert!(
                !sentence.contains("  ") && !sentence.contains(" ,"),
                "{sentence}"
            );
            assert!(!sentence.ends_with([' ', ',']), "{sentence}");
            seen += 1;
        }
        assert_eq!(seen, 300);
    }
}
