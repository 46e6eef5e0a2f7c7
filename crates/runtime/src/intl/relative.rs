//! `Intl.RelativeTimeFormat`: CLDR's relative-time patterns (`vor 3 Tagen`,
//! `3 時間後`) and, with `numeric: 'auto'`, its words for -2…2 (`gestern`,
//! `übermorgen`), from ICU4X.

use icu_decimal::input::Decimal;
use icu_experimental::relativetime::options::Numeric;
use icu_experimental::relativetime::{RelativeTimeFormatter, RelativeTimeFormatterOptions};
use icu_provider::DataError;
use rquickjs::{Ctx, Result};

use super::{Nesting, Parts, range_error, resolve};

/// `intlRelativeTime(locale, unit, style, numeric, digits)` → `[[type,
/// text], …]`: `digits` (signed, rounded by the caller) `unit`s from now, in
/// `style` (long, short, narrow); `numeric` `auto` may use a word instead.
pub(super) fn format_js(
    ctx: Ctx<'_>,
    tag: String,
    unit: String,
    style: String,
    numeric: String,
    digits: String,
) -> Result<Vec<Vec<String>>> {
    let number = Decimal::try_from_str(&digits)
        .map_err(|error| range_error(&ctx, "not a decimal", error))?;
    let formatter = formatter(&tag, &unit, &style, numeric == "auto")
        .map_err(|error| range_error(&ctx, "no relative time data", error))?;
    Ok(Parts::of(&formatter.format(number), Nesting::Innermost))
}

fn formatter(
    tag: &str,
    unit: &str,
    style: &str,
    auto: bool,
) -> std::result::Result<RelativeTimeFormatter, DataError> {
    let locale = resolve(tag);
    let prefs = (&locale).into();
    let numeric = if auto { Numeric::Auto } else { Numeric::Always };
    let options = RelativeTimeFormatterOptions::default().with_numeric(numeric);
    // ICU4X has one constructor per unit and width (one data set each).
    macro_rules! by_style {
        ($long:ident, $short:ident, $narrow:ident) => {
            match style {
                "short" => RelativeTimeFormatter::$short(prefs, options),
                "narrow" => RelativeTimeFormatter::$narrow(prefs, options),
                _ => RelativeTimeFormatter::$long(prefs, options),
            }
        };
    }
    match unit {
        "second" => by_style!(
            try_new_long_second,
            try_new_short_second,
            try_new_narrow_second
        ),
        "minute" => by_style!(
            try_new_long_minute,
            try_new_short_minute,
            try_new_narrow_minute
        ),
        "hour" => by_style!(try_new_long_hour, try_new_short_hour, try_new_narrow_hour),
        "day" => by_style!(try_new_long_day, try_new_short_day, try_new_narrow_day),
        "week" => by_style!(try_new_long_week, try_new_short_week, try_new_narrow_week),
        "month" => by_style!(
            try_new_long_month,
            try_new_short_month,
            try_new_narrow_month
        ),
        "quarter" => by_style!(
            try_new_long_quarter,
            try_new_short_quarter,
            try_new_narrow_quarter
        ),
        _ => by_style!(try_new_long_year, try_new_short_year, try_new_narrow_year),
    }
}
