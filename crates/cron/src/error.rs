//! Errors: why an expression was rejected, where, and unknown time zones.

use std::fmt;

/// One field of a cron expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// Seconds, 0-59 (only in 6-field expressions).
    Second,
    /// Minutes, 0-59.
    Minute,
    /// Hours, 0-23.
    Hour,
    /// Day of the month, 1-31, with `L`, `LW` and `nW`.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`, with `d#n`
    /// and `dL`.
    DayOfWeek,
}

impl Field {
    /// The name used in error messages and descriptions, e.g. `day-of-month`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a rejected expression.
///
/// The `Display` text is a complete sentence fragment without the field name
/// or column; [`ParseError`] adds those.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The expression is empty or only blanks.
    #[error("the expression is empty")]
    Empty,
    /// Not 5 or 6 fields.
    #[error("expected 5 or 6 fields, found {found}")]
    FieldCount {
        /// How many blank-separated fields the expression has.
        found: usize,
    },
    /// A character outside ASCII (NBSP, zero-width space, `–`, emoji, …).
    #[error("{} is not allowed", describe_char(*.ch))]
    NonAscii {
        /// The offending character.
        ch: char,
    },
    /// An ASCII control character other than tab.
    #[error("control character U+{:04X} is not allowed", u32::from(*.ch))]
    ControlCharacter {
        /// The offending character.
        ch: char,
    },
    /// `@something` that is not one of the supported macros.
    #[error(
        "unknown macro \"{text}\" (supported: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; lower case)"
    )]
    UnknownMacro {
        /// The macro as written.
        text: String,
    },
    /// A macro followed by more fields.
    #[error("the macro \"{text}\" must be the whole expression")]
    MacroWithFields {
        /// The macro as written.
        text: String,
    },
    /// `1,,2` or a trailing comma.
    #[error("empty list item")]
    EmptyItem,
    /// A number outside the field's range.
    #[error("{text} is out of range {min}-{max}")]
    OutOfRange {
        /// The number as written.
        text: String,
        /// Smallest allowed value.
        min: u8,
        /// Largest allowed value.
        max: u8,
    },
    /// Text that is neither a number nor a name of this field.
    #[error("\"{text}\" is not valid here (expected {expected})")]
    InvalidValue {
        /// The value as written.
        text: String,
        /// What the field accepts, e.g. `a number 0-59`.
        expected: &'static str,
    },
    /// `v-w` with `v > w`.
    #[error("range {text} is reversed (ranges do not wrap around)")]
    ReversedRange {
        /// The range as written.
        text: String,
    },
    /// A range with a missing start or end (`5-`, `-5`).
    #[error("range \"{text}\" is missing a bound")]
    IncompleteRange {
        /// The range as written.
        text: String,
    },
    /// `*-5`.
    #[error("\"*\" cannot be part of a range (write a number or a name)")]
    WildcardRange,
    /// `*/0`.
    #[error("the step must be at least 1")]
    ZeroStep,
    /// A step that would select only the first value, e.g. `*/90` for minutes.
    #[error(
        "step {step} is larger than the field's span {min}-{max} (it would match only its start)"
    )]
    StepTooLarge {
        /// The step.
        step: u32,
        /// Smallest value of the field.
        min: u8,
        /// Largest value of the field.
        max: u8,
    },
    /// `*/` with nothing after the slash.
    #[error("missing step after \"/\"")]
    MissingStep,
    /// A step that is not a number.
    #[error("step \"{text}\" is not a number")]
    InvalidStep {
        /// The step as written.
        text: String,
    },
    /// `/5` with nothing before the slash.
    #[error("a step needs \"*\" or a range before \"/\"")]
    MissingStepBase,
    /// `5/10`: a single value with a step is not part of the grammar.
    #[error(
        "\"{text}\" is not supported: a step needs \"*\" or a range before \"/\" (e.g. \"{suggestion}\")"
    )]
    StepWithoutRange {
        /// The item as written.
        text: String,
        /// An equivalent that is valid.
        suggestion: String,
    },
    /// `?` anywhere but as the whole day-of-month or day-of-week field.
    #[error("\"?\" is only allowed as the whole day-of-month or day-of-week field")]
    MisplacedQuestionMark,
    /// `L`, `W` or `#` in a field that does not take it.
    #[error("\"{modifier}\" is not allowed here ({allowed})")]
    MisplacedModifier {
        /// `L`, `W` or `#`.
        modifier: char,
        /// The field it appeared in.
        field: Field,
        /// Where it is allowed.
        allowed: &'static str,
    },
    /// `L-3`, `L/2`, `15W-20`, `1-5#2` and the like.
    #[error("\"{text}\": {modifier} cannot be combined with a range, step or another modifier")]
    ModifierCombination {
        /// The item as written.
        text: String,
        /// `L`, `W`, `LW` or `#`.
        modifier: &'static str,
    },
    /// A bare `L` in day-of-week.
    #[error(
        "a bare \"L\" is not allowed in the day-of-week field (write e.g. 5L or FRIL for the last Friday)"
    )]
    BareLastDayOfWeek,
    /// `d#n` with `n` outside 1-5.
    #[error("occurrence \"{text}\" after \"#\" must be 1-5")]
    OccurrenceOutOfRange {
        /// The occurrence as written.
        text: String,
    },
    /// The expression is valid but no calendar day ever matches it.
    #[error("the expression never fires: no day in {months} matches its day fields")]
    NeverFires {
        /// The months the expression allows, in English.
        months: String,
    },
}

fn describe_char(ch: char) -> String {
    let code = u32::from(ch);
    if ch.is_whitespace() || ch.is_control() || is_invisible(ch) {
        format!("invisible non-ASCII character U+{code:04X}")
    } else {
        format!("non-ASCII character '{ch}' (U+{code:04X})")
    }
}

fn is_invisible(ch: char) -> bool {
    matches!(
        ch,
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Why an expression was rejected: what, in which field, at which column.
///
/// `Display` gives one line such as
/// `minute field: 60 is out of range 0-59 (column 3)`. The column is the
/// 1-based position (in characters) of the offending text in the original
/// string, so a user interface can put a marker under it.
///
/// ```
/// let err = cron::Schedule::parse("0 60 * * * *").unwrap_err();
/// assert_eq!(err.to_string(), "minute field: 60 is out of range 0-59 (column 3)");
/// assert_eq!(err.field(), Some(cron::Field::Minute));
/// assert_eq!(err.column(), Some(3));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{kind}{}", FieldPrefix(*.field), ColumnSuffix(*.column))]
pub struct ParseError {
    kind: ParseErrorKind,
    field: Option<Field>,
    column: Option<usize>,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind) -> Self {
        ParseError {
            kind,
            field: None,
            column: None,
        }
    }

    pub(crate) fn at(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }

    pub(crate) fn in_field(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The field the problem is in, when it is in one field.
    pub fn field(&self) -> Option<Field> {
        self.field
    }

    /// The 1-based character column of the offending text, when there is
    /// one place to point at.
    pub fn column(&self) -> Option<usize> {
        self.column
    }
}

struct FieldPrefix(Option<Field>);

impl fmt::Display for FieldPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(field) => write!(f, "{field} field: "),
            None => Ok(()),
        }
    }
}

struct ColumnSuffix(Option<usize>);

impl fmt::Display for ColumnSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(column) => write!(f, " (column {column})"),
            None => Ok(()),
        }
    }
}

/// A schedule that matches wall-clock times but fires at none in a zone:
/// every match falls in a daylight-saving gap there, and an interval-like
/// schedule (`*` or `/` in its minute or hour field) skips gap times.
///
/// ```
/// use cron::Schedule;
///
/// let schedule = Schedule::parse("*/30 2 * 3 SUN#2")?;
/// let new_york = cron::time_zone("America/New_York")?;
/// let from = "2026-01-01T00:00:00Z".parse()?;
/// let err = schedule.check_fires_in(from, &new_york).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the expression never fires in America/New_York: every time it matches falls in a \
///      daylight-saving gap there (clocks skip those times), and a schedule with `*` or `/` \
///      in its minute or hour field skips gap times",
/// );
/// assert!(schedule.check_fires_in(from, &cron::time_zone("UTC")?).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the expression never fires in {zone}: every time it matches falls in a daylight-saving \
     gap there (clocks skip those times), and a schedule with `*` or `/` in its minute or hour \
     field skips gap times"
)]
pub struct NeverFiresIn {
    zone: String,
}

impl NeverFiresIn {
    pub(crate) fn new(zone: &str) -> Self {
        NeverFiresIn {
            zone: zone.to_owned(),
        }
    }

    /// The zone's name.
    pub fn zone(&self) -> &str {
        &self.zone
    }
}

/// A time zone name that is not in the IANA database bundled with the binary.
///
/// ```
/// let err = cron::time_zone("Mars/Base").unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown time zone "Mars/Base""#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone \"{name}\"")]
pub struct UnknownTimeZone {
    name: String,
}

impl UnknownTimeZone {
    pub(crate) fn new(name: &str) -> Self {
        UnknownTimeZone {
            name: name.to_owned(),
        }
    }

    /// The name that was looked up.
    pub fn name(&self) -> &str {
        &self.name
    }
}
