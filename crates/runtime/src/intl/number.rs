//! `Intl.NumberFormat`'s styles: decimal, compact, percent, currency and
//! unit, each as CLDR writes it for the locale (symbols and where they go,
//! spacing, names and their plural forms).
//!
//! The JavaScript side has already rounded the number as the options ask
//! and passes it as a signed decimal string (`"-1234.50"`, `"+3"`); the
//! formatters here only place it. ICU4X's percent formatter writes no parts
//! and its currency formatter rounds to the currency's own digits, so both
//! wrap a number this module writes itself and split what is around it
//! (see [`Affixed`]).

use std::ops::Range;

use fixed_decimal::Sign;
use icu_decimal::input::Decimal;
use icu_decimal::options::{DecimalFormatterOptions, GroupingStrategy};
use icu_decimal::{AbstractFormatter, CompactDecimalFormatter, DecimalFormatter};
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::percent::formatter::PercentFormatter;
use icu_experimental::dimension::percent::options::{Display, PercentFormatterOptions};
use icu_experimental::dimension::provider::currency::fractions::CurrencyFractionsV1;
use icu_experimental::dimension::provider::units::categorized_display_names::{
    UnitsNamesAreaCoreV1, UnitsNamesAreaExtendedV1, UnitsNamesAreaOutlierV1,
    UnitsNamesDurationCoreV1, UnitsNamesDurationExtendedV1, UnitsNamesDurationOutlierV1,
    UnitsNamesLengthCoreV1, UnitsNamesLengthExtendedV1, UnitsNamesLengthOutlierV1,
    UnitsNamesMassCoreV1, UnitsNamesMassExtendedV1, UnitsNamesMassOutlierV1,
    UnitsNamesVolumeCoreV1, UnitsNamesVolumeExtendedV1, UnitsNamesVolumeOutlierV1,
};
use icu_experimental::dimension::provider::units::display_names::UnitsDisplayNames;
use icu_experimental::provider::Baked;
use icu_locale_core::Locale;
use icu_plurals::PluralRules;
use icu_provider::prelude::*;
use rquickjs::{Ctx, Result};

use super::{Nesting, Parts, range_error, resolve};

/// A number's parts as JavaScript reads them: `[[type, text], …]`.
type PartList = Vec<Vec<String>>;

/// The part types a formatted decimal number is made of.
const NUMBER_PARTS: &[&str] = &["integer", "group", "decimal", "fraction"];

/// `intlNumber(locale, style, what, display, digits, grouping)`: `digits`
/// (signed, already rounded) formatted in `style` — `decimal`, `compact`
/// (`display` short or long; with a currency `what`, `display` also names
/// the currency display after a space: `short symbol`), `percent` (digits
/// already times 100),
/// `currency` (`what` the ISO code; `display` symbol, narrowSymbol, code or
/// name) or `unit` (`what` the unit; `display` long, short or narrow) —
/// as parts. `undefined` for a unit ICU4X's data has no names for.
pub(super) fn format_js(
    ctx: Ctx<'_>,
    tag: String,
    style: String,
    what: String,
    display: String,
    digits: String,
    grouping: String,
) -> Result<Option<PartList>> {
    let locale = resolve(&tag);
    let number = Decimal::try_from_str(&digits)
        .map_err(|error| range_error(&ctx, "not a decimal", error))?;
    let decimals = decimal_formatter(&locale, &grouping)
        .map_err(|error| range_error(&ctx, "no number data", error))?;
    let formatted = match style.as_str() {
        "compact" if what.is_empty() => compact(&locale, &display, &number).map(Some),
        "compact" => {
            let code = currency_code(&ctx, &what)?;
            compact_currency(&locale, code, &display, &number).map(Some)
        }
        "percent" => percent(&locale, decimals, &number, "percentSign").map(Some),
        "currency" => {
            let code = currency_code(&ctx, &what)?;
            currency(&locale, &decimals, code, &display, &number, &grouping).map(Some)
        }
        "unit" if what == "percent" => percent(&locale, decimals, &number, "unit").map(Some),
        "unit" => unit(&locale, &decimals, &what, &display, &number),
        _ => Ok(Some(Parts::of(
            &decimals.format(&number),
            Nesting::Innermost,
        ))),
    };
    formatted.map_err(|error| range_error(&ctx, "no number data", error))
}

/// `intlCurrencyDigits(code)`: how many fraction digits the currency uses
/// (CLDR's supplemental data: 0 for JPY, 3 for KWD, 2 for most).
pub(super) fn currency_digits_js(ctx: Ctx<'_>, code: String) -> Result<u8> {
    let currency = currency_code(&ctx, &code)?;
    let fractions: DataResponse<CurrencyFractionsV1> = Baked
        .load(DataRequest::default())
        .map_err(|error| range_error(&ctx, "no currency data", error))?;
    Ok(fractions.payload.get().resolve(currency).digits)
}

fn currency_code(ctx: &Ctx<'_>, code: &str) -> Result<CurrencyType> {
    CurrencyType::try_from_str(code).map_err(|error| range_error(ctx, "not a currency code", error))
}

fn decimal_formatter(
    locale: &Locale,
    grouping: &str,
) -> std::result::Result<DecimalFormatter, DataError> {
    let strategy = match grouping {
        "false" | "never" => GroupingStrategy::Never,
        "always" => GroupingStrategy::Always,
        "min2" => GroupingStrategy::Min2,
        _ => GroupingStrategy::Auto,
    };
    let options: DecimalFormatterOptions = strategy.into();
    DecimalFormatter::try_new(locale.into(), options)
}

fn unsigned(number: &Decimal) -> Decimal {
    number.clone().with_sign(Sign::None)
}

/// `notation: 'compact'`: `1,5 Mio.`, `150万`, `15 लाख`.
fn compact(
    locale: &Locale,
    display: &str,
    number: &Decimal,
) -> std::result::Result<PartList, DataError> {
    let formatter = if display == "long" {
        CompactDecimalFormatter::try_new_long(locale.into(), Default::default())
    } else {
        CompactDecimalFormatter::try_new_short(locale.into(), Default::default())
    }?;
    let parts = Parts::of(&formatter.format(number), Nesting::Innermost);
    Ok(Affixed::around_number_parts(parts).into_parts("compact"))
}

/// `style: 'percent'` and `unit: 'percent'`: the locale's pattern around
/// the number (`26 %`, `26%`); `sign` names the part of the `%`.
fn percent(
    locale: &Locale,
    decimals: DecimalFormatter,
    number: &Decimal,
    sign: &str,
) -> std::result::Result<PartList, DataError> {
    let display = if number.sign() == Sign::Positive {
        Display::ExplicitSign
    } else {
        Display::Standard
    };
    let digits = Parts::of(&decimals.format(&unsigned(number)), Nesting::Innermost);
    let formatter = PercentFormatter::try_new_with_decimal_formatter(
        locale.into(),
        decimals,
        PercentFormatterOptions::from(display),
    )?;
    let whole = formatter.format(number).to_string();
    Ok(Affixed::around(whole, digits).into_parts(sign))
}

/// `style: 'currency'`: the currency's symbol, code or plural name where the
/// locale puts it (`1.234,50 €`, `€1,234.50`, `US$ 5,00`, `2,50 Euro`).
fn currency(
    locale: &Locale,
    decimals: &DecimalFormatter,
    code: CurrencyType,
    display: &str,
    number: &Decimal,
    grouping: &str,
) -> std::result::Result<PartList, DataError> {
    let prefs = locale.into();
    let formatter = match display {
        "narrowSymbol" => CurrencyFormatter::try_new_symbol_narrow(prefs, code, Default::default()),
        "code" => CurrencyFormatter::try_new_code(prefs, code, Default::default()),
        "name" => CurrencyFormatter::try_new_name(prefs, code),
        _ => CurrencyFormatter::try_new_symbol(prefs, code, Default::default()),
    }?;
    let mut affixed = currency_affixed(&formatter, number);
    // ICU4X rounds to the currency's digits; the options may have asked for
    // other ones (`maximumFractionDigits: 0`) or for other grouping.
    let ours = Parts::of(&decimals.format(&unsigned(number)), Nesting::Innermost);
    if grouping != "auto" || digits_of(&ours) != digits_of(&affixed.number) {
        affixed.number = ours;
    }
    Ok(affixed.into_parts("currency"))
}

/// `notation: 'compact'` with a currency (`1,2 Mio. €`, `$1.2K`); `display`
/// is the compact display and the currency display, space-separated.
fn compact_currency(
    locale: &Locale,
    code: CurrencyType,
    display: &str,
    number: &Decimal,
) -> std::result::Result<PartList, DataError> {
    let prefs = locale.into();
    let options = Default::default();
    let formatter = match display.split_once(' ').unwrap_or((display, "symbol")) {
        ("long", "narrowSymbol") => {
            CurrencyFormatter::try_new_compact_long_symbol_narrow(prefs, code, options)
        }
        ("long", "code") => CurrencyFormatter::try_new_compact_long_code(prefs, code, options),
        ("long", "name") => CurrencyFormatter::try_new_compact_long_name(prefs, code),
        ("long", _) => CurrencyFormatter::try_new_compact_long_symbol(prefs, code, options),
        (_, "narrowSymbol") => {
            CurrencyFormatter::try_new_compact_symbol_narrow(prefs, code, options)
        }
        (_, "code") => CurrencyFormatter::try_new_compact_code(prefs, code, options),
        (_, "name") => CurrencyFormatter::try_new_compact_name(prefs, code),
        _ => CurrencyFormatter::try_new_compact_symbol(prefs, code, options),
    }?;
    Ok(currency_affixed(&formatter, number).into_parts("currency"))
}

fn currency_affixed<V: AbstractFormatter>(
    formatter: &CurrencyFormatter<V>,
    number: &Decimal,
) -> Affixed {
    let written = Parts::of(&formatter.format_fixed_decimal(number), Nesting::Innermost);
    Affixed::around_number_parts(written)
}

fn digits_of(parts: &PartList) -> String {
    parts
        .iter()
        .flat_map(|part| part[1].chars())
        .filter(char::is_ascii_digit)
        .collect()
}

/// `style: 'unit'`: the unit's CLDR name for the number's plural form
/// (`3 Std.`, `5 Kilometer`, `1 キログラム`). ICU4X has names for length,
/// area, volume, mass and duration units; others return `None`.
fn unit(
    locale: &Locale,
    decimals: &DecimalFormatter,
    unit: &str,
    display: &str,
    number: &Decimal,
) -> std::result::Result<Option<PartList>, DataError> {
    let width = match display {
        "long" | "narrow" => display,
        _ => "short",
    };
    let attribute = format!("{width}-{unit}");
    let Ok(attribute) = DataMarkerAttributes::try_from_str(&attribute) else {
        return Ok(None);
    };
    let data_locale = DataLocale::from(locale);
    let Some(names) = unit_names(attribute, &data_locale)? else {
        return Ok(None);
    };
    let rules = PluralRules::try_new_cardinal(locale.into())?;
    let formatted = decimals.format(number);
    let pattern = names.get().get(number.into(), &rules);
    let whole =
        writeable::Writeable::write_to_string(&pattern.interpolate((&formatted,))).into_owned();
    let digits = Parts::of(&formatted, Nesting::Innermost);
    Ok(Some(Affixed::around(whole, digits).into_parts("unit")))
}

type UnitNames = DataPayload<icu_provider::marker::ErasedMarker<UnitsDisplayNames<'static>>>;

/// The display names of a unit, from whichever of ICU4X's unit categories
/// (and their core, extended and outlier sets) has them for the most
/// specific locale: each set falls back to the root locale on its own, so
/// the first set's root names (`m`) must not hide another's Hindi ones
/// (`मी`).
fn unit_names(
    attribute: &DataMarkerAttributes,
    locale: &DataLocale,
) -> std::result::Result<Option<UnitNames>, DataError> {
    type Loader = fn(
        &DataMarkerAttributes,
        &DataLocale,
    ) -> std::result::Result<Option<(u8, UnitNames)>, DataError>;
    let loaders: &[Loader] = &[
        load_names::<UnitsNamesDurationCoreV1>,
        load_names::<UnitsNamesDurationExtendedV1>,
        load_names::<UnitsNamesDurationOutlierV1>,
        load_names::<UnitsNamesLengthCoreV1>,
        load_names::<UnitsNamesLengthExtendedV1>,
        load_names::<UnitsNamesLengthOutlierV1>,
        load_names::<UnitsNamesMassCoreV1>,
        load_names::<UnitsNamesMassExtendedV1>,
        load_names::<UnitsNamesMassOutlierV1>,
        load_names::<UnitsNamesVolumeCoreV1>,
        load_names::<UnitsNamesVolumeExtendedV1>,
        load_names::<UnitsNamesVolumeOutlierV1>,
        load_names::<UnitsNamesAreaCoreV1>,
        load_names::<UnitsNamesAreaExtendedV1>,
        load_names::<UnitsNamesAreaOutlierV1>,
    ];
    let mut best: Option<(u8, UnitNames)> = None;
    for load in loaders {
        if let Some((specificity, names)) = load(attribute, locale)?
            && best.as_ref().is_none_or(|(found, _)| specificity > *found)
        {
            best = Some((specificity, names));
        }
    }
    Ok(best.map(|(_, names)| names))
}

/// A unit's names in one set, with how specific their locale is: 2 for the
/// requested one, 1 for a fallback language, 0 for the root locale.
fn load_names<M>(
    attribute: &DataMarkerAttributes,
    locale: &DataLocale,
) -> std::result::Result<Option<(u8, UnitNames)>, DataError>
where
    M: DataMarker<DataStruct = UnitsDisplayNames<'static>>,
    Baked: DataProvider<M>,
{
    let mut request = DataRequest {
        id: DataIdentifierBorrowed::for_marker_attributes_and_locale(attribute, locale),
        ..Default::default()
    };
    // Most sets lack most units: not worth a log line.
    request.metadata.silent = true;
    let response: Option<DataResponse<M>> = Baked.load(request).allow_identifier_not_found()?;
    Ok(response.map(|response| {
        let specificity = match &response.metadata.locale {
            None => 2,
            Some(fallback) if fallback.is_unknown() => 0,
            Some(_) => 1,
        };
        (specificity, response.payload.cast())
    }))
}

/// A formatted number with text before and after it (a sign, a currency, a
/// percent sign, a unit, the spaces between), to be split into ECMA-402's
/// parts.
struct Affixed {
    text: String,
    number_at: Range<usize>,
    number: PartList,
}

impl Affixed {
    /// `whole` holds `number`'s text (ICU4X wrote it into a pattern).
    fn around(whole: String, number: PartList) -> Self {
        let digits: String = number.iter().map(|part| part[1].as_str()).collect();
        let number_at = whole
            .find(&digits)
            .map_or(whole.len()..whole.len(), |start| {
                start..start + digits.len()
            });
        Affixed {
            text: whole,
            number_at,
            number,
        }
    }

    /// The number is the run of integer, group, decimal and fraction parts.
    fn around_number_parts(parts: PartList) -> Self {
        let is_number = |part: &Vec<String>| NUMBER_PARTS.contains(&part[0].as_str());
        let first = parts.iter().position(is_number).unwrap_or(parts.len());
        let last = parts.iter().rposition(is_number).map_or(first, |at| at + 1);
        let length = |range: &[Vec<String>]| range.iter().map(|part| part[1].len()).sum::<usize>();
        let start = length(&parts[..first]);
        let end = start + length(&parts[first..last]);
        Affixed {
            text: parts.iter().map(|part| part[1].as_str()).collect(),
            number_at: start..end,
            number: parts[first..last].to_vec(),
        }
    }

    /// Text around the number: spaces are `literal`, `-`/`+` (and the bidi
    /// marks next to them) `minusSign`/`plusSign`, the rest `affix`.
    fn into_parts(self, affix: &str) -> PartList {
        let mut parts = affix_parts(&self.text[..self.number_at.start], affix);
        parts.extend(self.number);
        parts.extend(affix_parts(&self.text[self.number_at.end..], affix));
        parts
    }
}

fn affix_parts(text: &str, affix: &str) -> PartList {
    let kind = |c: char| match c {
        '-' | '\u{2212}' | '\u{200e}' | '\u{200f}' | '\u{61c}' => "minusSign",
        '+' => "plusSign",
        c if c.is_whitespace() => "literal",
        _ => affix,
    };
    let mut parts: PartList = Vec::new();
    for c in text.chars() {
        match parts.last_mut() {
            Some(last) if last[0] == kind(c) => last[1].push(c),
            _ => parts.push(vec![kind(c).to_owned(), c.to_string()]),
        }
    }
    join_spaced_words(parts, affix)
}

/// Words of a currency name or unit stay one part:
/// `[affix "US", literal " ", affix "dollars"]` → `[affix "US dollars"]`.
fn join_spaced_words(parts: PartList, affix: &str) -> PartList {
    let mut out: PartList = Vec::new();
    let mut at = 0;
    while at < parts.len() {
        let part = &parts[at];
        let between_words = part[0] == "literal"
            && out
                .last()
                .is_some_and(|last: &Vec<String>| last[0] == affix)
            && parts.get(at + 1).is_some_and(|next| next[0] == affix);
        if between_words {
            if let (Some(last), Some(next)) = (out.last_mut(), parts.get(at + 1)) {
                last[1].push_str(&part[1]);
                last[1].push_str(&next[1]);
            }
            at += 2;
        } else {
            out.push(part.clone());
            at += 1;
        }
    }
    out
}
