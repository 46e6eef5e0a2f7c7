//! Locale data for `Intl` and the `toLocale*` built-ins, from ICU4X's
//! compiled CLDR data: the native half of `web/js/intl.js`.
//!
//! The JavaScript half reads and validates the options as ECMA-402 says and
//! does the arithmetic (rounding, time zone offsets come from jiff's
//! database); these functions do what needs CLDR: which locale a request
//! resolves to, date and time patterns and names, number symbols and
//! grouping, percent, currency, unit and compact patterns, relative-time
//! wording, plural rules, list patterns and collation.
//!
//! Each is a host function (`host.intl…`) taking plain values; none keeps
//! state between calls except a small per-thread cache of collators, since
//! `localeCompare` inside a sort comparator would otherwise build one per
//! comparison.

mod datetime;
mod locale;
mod number;
mod relative;

use std::cell::RefCell;
use std::collections::HashMap;

use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, Strength};
use icu_collator::{Collator, CollatorBorrowed};
use icu_decimal::input::Decimal;
use icu_list::ListFormatter;
use icu_list::options::{ListFormatterOptions, ListLength};
use icu_plurals::{PluralCategory, PluralRuleType, PluralRules, PluralRulesOptions};
use rquickjs::{Ctx, Exception, Object, Result};
use writeable::{Part, PartsWrite, Writeable};

pub(crate) use locale::resolve;

/// Adds the `intl…` functions to the web globals' `host` object.
pub(crate) fn register<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> Result<()> {
    host.set(
        "intlResolve",
        crate::host_fn::function(ctx.clone(), locale::resolve_js)?,
    )?;
    host.set(
        "intlDateTime",
        crate::host_fn::function(ctx.clone(), datetime::format_js)?,
    )?;
    host.set(
        "intlDateTimeRange",
        crate::host_fn::function(ctx.clone(), datetime::format_range_js)?,
    )?;
    host.set(
        "intlNumber",
        crate::host_fn::function(ctx.clone(), number::format_js)?,
    )?;
    host.set(
        "intlCurrencyDigits",
        crate::host_fn::function(ctx.clone(), number::currency_digits_js)?,
    )?;
    host.set(
        "intlRelativeTime",
        crate::host_fn::function(ctx.clone(), relative::format_js)?,
    )?;
    host.set("intlPlural", crate::host_fn::function(ctx.clone(), plural)?)?;
    host.set(
        "intlPluralCategories",
        crate::host_fn::function(ctx.clone(), plural_categories)?,
    )?;
    host.set("intlList", crate::host_fn::function(ctx.clone(), list)?)?;
    host.set(
        "intlCompare",
        crate::host_fn::function(ctx.clone(), compare)?,
    )?;
    host.set(
        "intlSegment",
        crate::host_fn::function(ctx.clone(), segment)?,
    )?;
    Ok(())
}

/// `Intl.Segmenter`: the segments of `text` at `granularity` (`grapheme`,
/// `word`, `sentence`), each `[segment, UTF-16 index, word-like]` (the last
/// only meaningful for words). Word breaks follow UAX #29 without the
/// dictionaries for Chinese, Japanese, Khmer, Lao, Myanmar and Thai, which
/// would add megabytes to the binary.
fn segment(ctx: Ctx<'_>, granularity: String, text: String) -> Result<rquickjs::Array<'_>> {
    use icu_segmenter::options::{SentenceBreakInvariantOptions, WordBreakInvariantOptions};
    use icu_segmenter::{GraphemeClusterSegmenter, SentenceSegmenter, WordSegmenter};
    let mut boundaries: Vec<(usize, bool)> = Vec::new();
    match granularity.as_str() {
        "word" => {
            let segmenter =
                WordSegmenter::new_for_non_complex_scripts(WordBreakInvariantOptions::default());
            let mut breaks = segmenter.segment_str(&text);
            while let Some(at) = breaks.next() {
                boundaries.push((at, breaks.is_word_like()));
            }
        }
        "sentence" => {
            let segmenter = SentenceSegmenter::new(SentenceBreakInvariantOptions::default());
            boundaries.extend(segmenter.segment_str(&text).map(|at| (at, false)));
        }
        _ => {
            let segmenter = GraphemeClusterSegmenter::new();
            boundaries.extend(segmenter.segment_str(&text).map(|at| (at, false)));
        }
    }
    let segments = rquickjs::Array::new(ctx.clone())?;
    let mut utf16_index = 0_u32;
    for (at, pair) in boundaries.windows(2).enumerate() {
        let ((start, _), (end, word_like)) = (pair[0], pair[1]);
        let piece = &text[start..end];
        let entry = rquickjs::Array::new(ctx.clone())?;
        entry.set(0, piece)?;
        entry.set(1, utf16_index)?;
        entry.set(2, word_like)?;
        segments.set(at, entry)?;
        utf16_index += u32::try_from(piece.encode_utf16().count()).unwrap_or(u32::MAX);
    }
    Ok(segments)
}

/// Collects what a [`Writeable`] writes and where its named parts are.
#[derive(Default)]
pub(crate) struct Parts {
    text: String,
    depth: usize,
    /// (byte range, nesting depth, part name) of each named part, inner
    /// parts before the parts around them.
    parts: Vec<(usize, usize, usize, &'static str)>,
}

impl std::fmt::Write for Parts {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.text.push_str(text);
        Ok(())
    }
}

impl PartsWrite for Parts {
    type SubPartsWrite = Self;

    fn with_part(
        &mut self,
        part: Part,
        mut write: impl FnMut(&mut Self) -> std::fmt::Result,
    ) -> std::fmt::Result {
        let start = self.text.len();
        self.depth += 1;
        write(self)?;
        self.depth -= 1;
        self.parts
            .push((start, self.text.len(), self.depth, part.value));
        Ok(())
    }
}

/// Which of nested parts names the text: a date's `day` holds a number's
/// `integer` (outermost wins), a number's `integer` holds its `group`s
/// (innermost wins).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nesting {
    Outermost,
    Innermost,
}

impl Parts {
    /// Writes `value` and splits it: `[[type, text], …]` (pairs as arrays, as
    /// JavaScript reads them), with the text
    /// outside named parts as `literal`.
    pub(crate) fn of(value: &impl Writeable, nesting: Nesting) -> Vec<Vec<String>> {
        let mut sink = Parts::default();
        // Writing to a String cannot fail.
        let _infallible = value.write_to_parts(&mut sink);
        sink.into_list(nesting)
    }

    fn into_list(self, nesting: Nesting) -> Vec<Vec<String>> {
        let mut labels: Vec<Option<&'static str>> = vec![None; self.text.len()];
        let mut parts = self.parts;
        if nesting == Nesting::Outermost {
            parts.retain(|(_, _, depth, _)| *depth == 0);
        }
        // Inner parts come first: the first label a byte gets is its innermost.
        for (start, end, _, name) in parts {
            for label in &mut labels[start..end] {
                label.get_or_insert(name);
            }
        }
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut start = 0;
        for at in 1..=self.text.len() {
            if at < self.text.len()
                && (labels[at] == labels[start] || !self.text.is_char_boundary(at))
            {
                continue;
            }
            let kind = labels[start].unwrap_or("literal");
            out.push(vec![kind.to_owned(), self.text[start..at].to_owned()]);
            start = at;
        }
        out
    }
}

fn range_error(ctx: &Ctx<'_>, what: &str, error: impl std::fmt::Debug) -> rquickjs::Error {
    Exception::throw_range(ctx, &format!("{what}: {error:?}"))
}

fn plural_rules(ctx: &Ctx<'_>, tag: &str, kind: &str) -> Result<PluralRules> {
    let locale = resolve(tag);
    let rule_type = if kind == "ordinal" {
        PluralRuleType::Ordinal
    } else {
        PluralRuleType::Cardinal
    };
    PluralRules::try_new((&locale).into(), PluralRulesOptions::from(rule_type))
        .map_err(|error| range_error(ctx, "no plural rules", error))
}

fn category_name(category: PluralCategory) -> &'static str {
    match category {
        PluralCategory::Zero => "zero",
        PluralCategory::One => "one",
        PluralCategory::Two => "two",
        PluralCategory::Few => "few",
        PluralCategory::Many => "many",
        PluralCategory::Other => "other",
    }
}

/// `intlPlural(locale, type, digits)`: the plural category of a number as
/// formatted (`"1"` is `one` in English, `"1.0"` is `other`).
fn plural(ctx: Ctx<'_>, tag: String, kind: String, digits: String) -> Result<&'static str> {
    let rules = plural_rules(&ctx, &tag, &kind)?;
    let number = Decimal::try_from_str(&digits)
        .map_err(|error| range_error(&ctx, "not a decimal", error))?;
    Ok(category_name(rules.category_for(&number)))
}

/// `intlPluralCategories(locale, type)`: the categories the locale uses.
fn plural_categories(ctx: Ctx<'_>, tag: String, kind: String) -> Result<Vec<&'static str>> {
    let rules = plural_rules(&ctx, &tag, &kind)?;
    Ok(rules.categories().map(category_name).collect())
}

/// `intlList(locale, type, style, items)` → `[[type, text], …]` with
/// `element` and `literal` parts.
fn list(
    ctx: Ctx<'_>,
    tag: String,
    kind: String,
    style: String,
    items: Vec<String>,
) -> Result<Vec<Vec<String>>> {
    let locale = resolve(&tag);
    let length = match style.as_str() {
        "short" => ListLength::Short,
        "narrow" => ListLength::Narrow,
        _ => ListLength::Wide,
    };
    let options = ListFormatterOptions::default().with_length(length);
    let prefs = (&locale).into();
    let formatter = match kind.as_str() {
        "disjunction" => ListFormatter::try_new_or(prefs, options),
        "unit" => ListFormatter::try_new_unit(prefs, options),
        _ => ListFormatter::try_new_and(prefs, options),
    }
    .map_err(|error| range_error(&ctx, "no list data", error))?;
    let formatted = formatter.format(items.iter().map(String::as_str));
    Ok(Parts::of(&formatted, Nesting::Outermost))
}

thread_local! {
    /// Collators by their options; `localeCompare` in a sort comparator runs
    /// thousands of times with the same ones.
    static COLLATORS: RefCell<HashMap<String, CollatorBorrowed<'static>>> =
        RefCell::new(HashMap::new());
}

/// Collators kept per thread (each holds only references to static data).
const COLLATOR_CACHE: usize = 32;

/// `intlCompare(locale, [sensitivity, numeric, caseFirst, ignorePunctuation], a, b)`
/// → -1, 0 or 1 (`numeric` and `ignorePunctuation` as `"true"`/`"false"`).
fn compare(ctx: Ctx<'_>, tag: String, options: Vec<String>, a: String, b: String) -> Result<i32> {
    let option = |index: usize| options.get(index).map_or("", String::as_str);
    let key = format!("{tag}|{}", options.join("|"));
    COLLATORS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(&key) {
            let collator = collator(
                &tag,
                option(0),
                option(1) == "true",
                option(2),
                option(3) == "true",
            )
            .map_err(|error| range_error(&ctx, "no collation data", error))?;
            if cache.len() >= COLLATOR_CACHE {
                cache.clear();
            }
            cache.insert(key.clone(), collator);
        }
        let ordering = cache
            .get(&key)
            .map_or(std::cmp::Ordering::Equal, |collator| {
                collator.compare(&a, &b)
            });
        Ok(ordering as i32)
    })
}

fn collator(
    tag: &str,
    sensitivity: &str,
    numeric: bool,
    case_first: &str,
    ignore_punctuation: bool,
) -> std::result::Result<CollatorBorrowed<'static>, icu_provider::DataError> {
    let mut locale = resolve(tag);
    // Numeric ordering and case-first are locale preferences (`-u-kn`, `-u-kf`).
    let mut extended = locale.to_string();
    extended.push_str("-u");
    if numeric {
        extended.push_str("-kn");
    }
    if matches!(case_first, "upper" | "lower") {
        extended.push_str("-kf-");
        extended.push_str(case_first);
    }
    if extended.ends_with("-u") {
        extended.truncate(extended.len() - 2);
    }
    if let Ok(with_preferences) = icu_locale_core::Locale::try_from_str(&extended) {
        locale = with_preferences;
    }
    let mut options = CollatorOptions::default();
    match sensitivity {
        "base" => options.strength = Some(Strength::Primary),
        "accent" => options.strength = Some(Strength::Secondary),
        "case" => {
            options.strength = Some(Strength::Primary);
            options.case_level = Some(CaseLevel::On);
        }
        _ => options.strength = Some(Strength::Tertiary),
    }
    if ignore_punctuation {
        options.alternate_handling = Some(AlternateHandling::Shifted);
    }
    Collator::try_new((&locale).into(), options)
}
