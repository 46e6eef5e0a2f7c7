//! Text → [`Spec`]: the grammar of `testdata/cron/README.md` §2, with an
//! error that names the field, the offending text and its column.

use crate::error::{Field, ParseError, ParseErrorKind};
use crate::spec::{DaysOfMonth, DaysOfWeek, Spec};

/// The five-field equivalents of the supported macros (lower case only).
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// What one field accepts.
struct Bounds {
    field: Field,
    min: u8,
    max: u8,
    /// Names for the values `min`, `min + 1`, … (empty when the field takes
    /// numbers only).
    names: &'static [&'static str],
    expected: &'static str,
}

const SECOND: Bounds = Bounds {
    field: Field::Second,
    min: 0,
    max: 59,
    names: &[],
    expected: "a number 0-59",
};
const MINUTE: Bounds = Bounds {
    field: Field::Minute,
    min: 0,
    max: 59,
    names: &[],
    expected: "a number 0-59",
};
const HOUR: Bounds = Bounds {
    field: Field::Hour,
    min: 0,
    max: 23,
    names: &[],
    expected: "a number 0-23",
};
const DAY_OF_MONTH: Bounds = Bounds {
    field: Field::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
    expected: "a number 1-31, L, LW or nW",
};
const MONTH: Bounds = Bounds {
    field: Field::Month,
    min: 1,
    max: 12,
    names: MONTH_NAMES,
    expected: "a number 1-12 or a month name JAN-DEC",
};
const DAY_OF_WEEK: Bounds = Bounds {
    field: Field::DayOfWeek,
    min: 0,
    max: 7,
    names: DAY_NAMES,
    expected: "a number 0-7, a day name SUN-SAT, d#n or dL",
};

/// One blank-separated word of the expression and its 1-based column.
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
}

/// Parses a whole expression.
pub(crate) fn parse(source: &str) -> Result<Spec, ParseError> {
    check_characters(source)?;
    let words = split_blanks(source, 1);
    match words.as_slice() {
        [] => Err(ParseError::new(ParseErrorKind::Empty)),
        [first, rest @ ..] if first.text.starts_with('@') => parse_macro(*first, rest),
        _ => parse_fields(&words),
    }
}

/// Rejects everything but printable ASCII, space and tab, naming the first
/// offending character and its column.
fn check_characters(source: &str) -> Result<(), ParseError> {
    for (index, ch) in source.chars().enumerate() {
        let kind = if !ch.is_ascii() {
            ParseErrorKind::NonAscii { ch }
        } else if ch.is_ascii_control() && ch != '\t' {
            ParseErrorKind::ControlCharacter { ch }
        } else {
            continue;
        };
        return Err(ParseError::new(kind).at(index + 1));
    }
    Ok(())
}

/// Splits on runs of spaces and tabs. Only call on ASCII text, where byte
/// offsets are character columns.
fn split_blanks(text: &str, first_column: usize) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start = None;
    for (offset, byte) in text.bytes().enumerate() {
        let blank = byte == b' ' || byte == b'\t';
        match (blank, start) {
            (false, None) => start = Some(offset),
            (true, Some(begin)) => {
                words.push(word(text, begin, offset, first_column));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        words.push(word(text, begin, text.len(), first_column));
    }
    words
}

fn word(text: &str, begin: usize, end: usize, first_column: usize) -> Word<'_> {
    Word {
        text: &text[begin..end],
        column: first_column + begin,
    }
}

fn parse_macro(first: Word<'_>, rest: &[Word<'_>]) -> Result<Spec, ParseError> {
    let Some((_, expansion)) = MACROS.iter().find(|(name, _)| *name == first.text) else {
        return Err(ParseError::new(ParseErrorKind::UnknownMacro {
            text: first.text.to_owned(),
        })
        .at(first.column));
    };
    if let Some(extra) = rest.first() {
        return Err(ParseError::new(ParseErrorKind::MacroWithFields {
            text: first.text.to_owned(),
        })
        .at(extra.column));
    }
    parse_fields(&split_blanks(expansion, 1))
}

fn parse_fields(words: &[Word<'_>]) -> Result<Spec, ParseError> {
    let (second, rest) = match words {
        [second, rest @ ..] if words.len() == 6 => (Some(*second), rest),
        _ => (None, words),
    };
    let Ok([minute, hour, day_of_month, month, day_of_week]) = <&[Word<'_>; 5]>::try_from(rest)
    else {
        return Err(field_count_error(words));
    };
    Ok(Spec {
        seconds: match second {
            Some(word) => parse_plain_field(word, &SECOND)?,
            None => 1,
        },
        has_seconds_field: second.is_some(),
        minutes: parse_plain_field(*minute, &MINUTE)?,
        hours: narrow(parse_plain_field(*hour, &HOUR)?),
        days_of_month: parse_days_of_month(*day_of_month).map_err(in_field(Field::DayOfMonth))?,
        months: narrow(parse_plain_field(*month, &MONTH)?),
        days_of_week: parse_days_of_week(*day_of_week).map_err(in_field(Field::DayOfWeek))?,
        minute_interval_like: is_interval_like(minute.text),
        hour_interval_like: is_interval_like(hour.text),
    })
}

/// Not 5 or 6 fields; points at the first extra field when there are more.
fn field_count_error(words: &[Word<'_>]) -> ParseError {
    let error = ParseError::new(ParseErrorKind::FieldCount { found: words.len() });
    match words.get(6) {
        Some(extra) => error.at(extra.column),
        None => error,
    }
}

/// README §4: a field is interval-like when its text contains `*` or `/`.
fn is_interval_like(text: &str) -> bool {
    text.contains(['*', '/'])
}

/// Bit sets of fields with at most 32 values always fit; see the bounds.
fn narrow<T: TryFrom<u64> + Default>(bits: u64) -> T {
    T::try_from(bits).unwrap_or_default()
}

/// A field without extras: second, minute, hour or month.
fn parse_plain_items(word: Word<'_>, bounds: &Bounds) -> Result<u64, ParseError> {
    let mut bits = 0;
    for item in split_items(word) {
        bits |= parse_range_item(item?, bounds)?;
    }
    Ok(bits)
}

/// Parses one plain field, naming it in errors.
fn parse_plain_field(word: Word<'_>, bounds: &Bounds) -> Result<u64, ParseError> {
    parse_plain_items(word, bounds).map_err(in_field(bounds.field))
}

fn parse_days_of_month(word: Word<'_>) -> Result<DaysOfMonth, ParseError> {
    let mut days = DaysOfMonth {
        restricted: !is_unrestricted(word.text),
        ..DaysOfMonth::default()
    };
    if word.text == "?" {
        days.days = u32::MAX << 1;
        return Ok(days);
    }
    for item in split_items(word) {
        let item = item?;
        let upper = item.text.to_ascii_uppercase();
        if upper == "L" {
            days.last = true;
        } else if upper == "LW" {
            days.last_weekday = true;
        } else if let Some(day) = nearest_weekday_day(&upper) {
            let day = parse_number(item, day, &DAY_OF_MONTH)?;
            days.nearest |= 1 << day;
        } else {
            days.days |= narrow::<u32>(parse_range_item(item, &DAY_OF_MONTH)?);
        }
    }
    Ok(days)
}

/// `15W` → `Some("15")`.
fn nearest_weekday_day(upper: &str) -> Option<&str> {
    let day = upper.strip_suffix('W')?;
    (!day.is_empty() && day.bytes().all(|b| b.is_ascii_digit())).then_some(day)
}

fn parse_days_of_week(word: Word<'_>) -> Result<DaysOfWeek, ParseError> {
    let mut days = DaysOfWeek {
        restricted: !is_unrestricted(word.text),
        ..DaysOfWeek::default()
    };
    if word.text == "?" {
        days.days = 0x7f;
        return Ok(days);
    }
    for item in split_items(word) {
        let item = item?;
        if let Some(hash) = item.text.find('#') {
            let (weekday, occurrence) = parse_nth_weekday(item, hash)?;
            days.nth[usize::from(weekday)] |= 1 << occurrence;
        } else if item.text.eq_ignore_ascii_case("L") {
            return Err(error_at(item, ParseErrorKind::BareLastDayOfWeek));
        } else if let Some(weekday) = parse_last_weekday(item)? {
            days.last |= 1 << weekday;
        } else {
            days.days |= fold_sunday(parse_range_item(item, &DAY_OF_WEEK)?);
        }
    }
    Ok(days)
}

/// Day-of-week value 7 is Sunday, like 0.
fn fold_sunday(bits: u64) -> u8 {
    narrow::<u8>((bits | (bits >> 7)) & 0x7f)
}

fn weekday_value(value: u8) -> u8 {
    value % 7
}

/// `d#n`.
fn parse_nth_weekday(item: Word<'_>, hash: usize) -> Result<(u8, u8), ParseError> {
    let (day, occurrence) = (&item.text[..hash], &item.text[hash + 1..]);
    if day.contains(['-', '/', '*']) || occurrence.contains('#') {
        return Err(combination(item, "#"));
    }
    let day_word = Word {
        text: day,
        column: item.column,
    };
    let day = parse_value(day_word, &DAY_OF_WEEK, Context::Modified(item, "#"))?;
    let occurrence_word = Word {
        text: occurrence,
        column: item.column + hash + 1,
    };
    match digits_value(occurrence) {
        Some(n @ 1..=5) => Ok((weekday_value(day), narrow(n))),
        _ => Err(error_at(
            occurrence_word,
            ParseErrorKind::OccurrenceOutOfRange {
                text: occurrence.to_owned(),
            },
        )),
    }
}

/// `dL` → `Some(d)`; anything not ending in `L` → `None`.
fn parse_last_weekday(item: Word<'_>) -> Result<Option<u8>, ParseError> {
    let text = item.text;
    if text.len() < 2 || !text.ends_with(['L', 'l']) || text.contains(['-', '/', '*']) {
        return Ok(None);
    }
    let day_word = Word {
        text: &text[..text.len() - 1],
        column: item.column,
    };
    let day = parse_value(day_word, &DAY_OF_WEEK, Context::Modified(item, "L"))?;
    Ok(Some(weekday_value(day)))
}

/// README §3: only exactly `*` or `?` leaves a day field unrestricted.
fn is_unrestricted(text: &str) -> bool {
    text == "*" || text == "?"
}

/// Comma-separated items, each with its column; empty items are errors.
fn split_items(word: Word<'_>) -> impl Iterator<Item = Result<Word<'_>, ParseError>> {
    let mut offset = 0;
    word.text.split(',').map(move |text| {
        let item = Word {
            text,
            column: word.column + offset,
        };
        offset += text.len() + 1;
        if text.is_empty() {
            Err(error_at(item, ParseErrorKind::EmptyItem))
        } else if let Some(index) = text.find('?') {
            Err(ParseError::new(ParseErrorKind::MisplacedQuestionMark).at(item.column + index))
        } else {
            Ok(item)
        }
    })
}

/// `*`, `*/s`, `v`, `v-w`, `v-w/s` → the bit set of matching values.
fn parse_range_item(item: Word<'_>, bounds: &Bounds) -> Result<u64, ParseError> {
    let (base, step) = match item.text.find('/') {
        Some(slash) => (&item.text[..slash], Some(slash)),
        None => (item.text, None),
    };
    let step = match step {
        Some(slash) => parse_step(item, slash, bounds)?,
        None => 1,
    };
    let base_word = Word {
        text: base,
        column: item.column,
    };
    let (start, end) = if base == "*" {
        (bounds.min, bounds.max)
    } else if let Some(dash) = base.find('-') {
        parse_range(item, base_word, dash, bounds)?
    } else if base.is_empty() {
        return Err(error_at(item, ParseErrorKind::MissingStepBase));
    } else {
        let context = if step == 1 && !item.text.contains('/') {
            Context::Alone
        } else {
            Context::Modified(item, "/")
        };
        let value = parse_value(base_word, bounds, context)?;
        if item.text.contains('/') {
            return Err(error_at(
                item,
                ParseErrorKind::StepWithoutRange {
                    text: item.text.to_owned(),
                    suggestion: format!("{base}-{}/{step}", bounds.max),
                },
            ));
        }
        (value, value)
    };
    let mut bits = 0u64;
    for value in (start..=end).step_by(usize::from(step)) {
        bits |= 1 << value;
    }
    Ok(bits)
}

fn parse_step(item: Word<'_>, slash: usize, bounds: &Bounds) -> Result<u8, ParseError> {
    let step_word = Word {
        text: &item.text[slash + 1..],
        column: item.column + slash + 1,
    };
    if step_word.text.is_empty() {
        return Err(error_at(
            Word {
                text: "/",
                column: item.column + slash,
            },
            ParseErrorKind::MissingStep,
        ));
    }
    let Some(step) = digits_value(step_word.text) else {
        return Err(error_at(
            step_word,
            ParseErrorKind::InvalidStep {
                text: step_word.text.to_owned(),
            },
        ));
    };
    if step == 0 {
        return Err(error_at(step_word, ParseErrorKind::ZeroStep));
    }
    let span = u64::from(bounds.max - bounds.min);
    if step > span {
        return Err(error_at(
            step_word,
            ParseErrorKind::StepTooLarge {
                step: u32::try_from(step).unwrap_or(u32::MAX),
                min: bounds.min,
                max: bounds.max,
            },
        ));
    }
    Ok(narrow(step))
}

fn parse_range(
    item: Word<'_>,
    base: Word<'_>,
    dash: usize,
    bounds: &Bounds,
) -> Result<(u8, u8), ParseError> {
    let first = Word {
        text: &base.text[..dash],
        column: base.column,
    };
    let second = Word {
        text: &base.text[dash + 1..],
        column: base.column + dash + 1,
    };
    if first.text == "*" || second.text == "*" {
        return Err(error_at(base, ParseErrorKind::WildcardRange));
    }
    if first.text.is_empty() || second.text.is_empty() {
        return Err(error_at(
            base,
            ParseErrorKind::IncompleteRange {
                text: base.text.to_owned(),
            },
        ));
    }
    let context = Context::Modified(item, "-");
    let start = parse_value(first, bounds, context)?;
    let end = parse_value(second, bounds, context)?;
    if start > end {
        return Err(error_at(
            base,
            ParseErrorKind::ReversedRange {
                text: base.text.to_owned(),
            },
        ));
    }
    Ok((start, end))
}

/// Where a value stands: alone as a list item, or inside a range, step or
/// modified item (then `L`/`W`/`#` there is a combination error).
#[derive(Clone, Copy)]
enum Context<'a> {
    Alone,
    Modified(Word<'a>, &'static str),
}

/// A number or a name of the field.
fn parse_value(word: Word<'_>, bounds: &Bounds, context: Context<'_>) -> Result<u8, ParseError> {
    if word.text.bytes().all(|b| b.is_ascii_digit()) && !word.text.is_empty() {
        return parse_number(word, word.text, bounds);
    }
    if let Some(index) = bounds
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(word.text))
    {
        return Ok(bounds.min + narrow::<u8>(index as u64));
    }
    Err(
        misplaced_modifier(word, bounds, context).unwrap_or_else(|| {
            error_at(
                word,
                ParseErrorKind::InvalidValue {
                    text: word.text.to_owned(),
                    expected: bounds.expected,
                },
            )
        }),
    )
}

fn parse_number(word: Word<'_>, digits: &str, bounds: &Bounds) -> Result<u8, ParseError> {
    match digits_value(digits) {
        Some(value) if (u64::from(bounds.min)..=u64::from(bounds.max)).contains(&value) => {
            Ok(narrow(value))
        }
        _ => Err(error_at(
            word,
            ParseErrorKind::OutOfRange {
                text: digits.to_owned(),
                min: bounds.min,
                max: bounds.max,
            },
        )),
    }
}

/// ASCII decimal digits → value (saturating, so huge numbers are simply out
/// of range); `None` for anything else.
fn digits_value(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Explains `L`, `W` and `#` where they are not allowed, instead of the
/// generic "not valid here".
fn misplaced_modifier(word: Word<'_>, bounds: &Bounds, context: Context<'_>) -> Option<ParseError> {
    let upper = word.text.to_ascii_uppercase();
    let modifier = if upper.contains('#') {
        '#'
    } else if upper == "L" || upper == "LW" || ends_with_modifier(&upper, 'L', bounds) {
        'L'
    } else if upper == "W" || nearest_weekday_day(&upper).is_some() {
        'W'
    } else {
        return None;
    };
    let allowed = matches!(
        (modifier, bounds.field),
        ('L', Field::DayOfMonth | Field::DayOfWeek)
            | ('W', Field::DayOfMonth)
            | ('#', Field::DayOfWeek)
    );
    if allowed {
        return match context {
            Context::Modified(item, what) => {
                Some(combination(item, combination_name(what, modifier)))
            }
            Context::Alone => None,
        };
    }
    let allowed_in = match modifier {
        'L' => "only in the day-of-month and day-of-week fields",
        'W' => "only in the day-of-month field",
        _ => "only in the day-of-week field",
    };
    Some(error_at(
        word,
        ParseErrorKind::MisplacedModifier {
            modifier,
            field: bounds.field,
            allowed: allowed_in,
        },
    ))
}

fn ends_with_modifier(upper: &str, modifier: char, bounds: &Bounds) -> bool {
    upper.strip_suffix(modifier).is_some_and(|prefix| {
        digits_value(prefix).is_some() || bounds.names.contains(&prefix) || prefix == "L"
    })
}

fn combination_name(context: &'static str, modifier: char) -> &'static str {
    match (context, modifier) {
        ("#", _) => "#",
        (_, 'W') => "W",
        (_, '#') => "#",
        _ => "L",
    }
}

fn combination(item: Word<'_>, modifier: &'static str) -> ParseError {
    error_at(
        item,
        ParseErrorKind::ModifierCombination {
            text: item.text.to_owned(),
            modifier,
        },
    )
}

fn error_at(word: Word<'_>, kind: ParseErrorKind) -> ParseError {
    ParseError::new(kind).at(word.column)
}

/// Adds the field to errors raised while parsing it.
fn in_field(field: Field) -> impl Fn(ParseError) -> ParseError {
    move |error| error.in_field(field)
}
