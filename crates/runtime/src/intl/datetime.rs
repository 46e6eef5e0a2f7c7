//! `Intl.DateTimeFormat`: CLDR patterns and names through ICU4X's field
//! bag (the ECMA-402 options bag, written as a UTS 35 skeleton by the
//! JavaScript side), wall-clock time and offsets from jiff's zone database.

use icu_calendar::{Date, Iso};
use icu_datetime::fieldbag::DateTimeFieldBag;
use icu_datetime::range::DateRangeFormatter;
use icu_datetime::{DateTimeFormatter, fieldsets::enums::CompositeFieldSet};
use icu_time::zone::{IanaParser, UtcOffset, models::AtTime};
use icu_time::{DateTime, Time, TimeZone, TimeZoneInfo, ZonedDateTime};
use rquickjs::{Ctx, Exception, Result, function::Opt};

use super::{Nesting, Parts, range_error, resolve};

type Zoned = ZonedDateTime<Iso, TimeZoneInfo<AtTime>>;

/// `intlDateTime(locale, skeleton, hour12, timeZone, epochMs)` →
/// `[[type, text], …]` as `formatToParts` returns them.
pub(super) fn format_js(
    ctx: Ctx<'_>,
    tag: String,
    skeleton: String,
    hour12: Opt<Option<bool>>,
    zone: String,
    epoch_ms: f64,
) -> Result<Vec<Vec<String>>> {
    let formatter = formatter(&ctx, &tag, &skeleton, hour12.0.flatten())?;
    let instant = zoned(&ctx, &zone, epoch_ms)?;
    Ok(Parts::of(&formatter.format(&instant), Nesting::Outermost))
}

/// `intlDateTimeRange(locale, skeleton, hour12, timeZone, startMs, endMs)` →
/// the range as `formatRange` prints it (shared fields once, when the
/// locale's patterns allow).
pub(super) fn format_range_js(
    ctx: Ctx<'_>,
    tag: String,
    skeleton: String,
    hour12: Opt<Option<bool>>,
    zone: String,
    start_ms: f64,
    end_ms: f64,
) -> Result<String> {
    let locale = locale_with_clock(&tag, hour12.0.flatten());
    let fields = field_set(&skeleton);
    let formatter = DateRangeFormatter::try_new((&locale).into(), fields)
        .map_err(|error| range_error(&ctx, "no date range data", error))?;
    let start = zoned(&ctx, &zone, start_ms)?;
    let end = zoned(&ctx, &zone, end_ms)?;
    Ok(formatter.format(&start, &end).to_string())
}

fn field_set(skeleton: &str) -> CompositeFieldSet {
    DateTimeFieldBag::from_skeleton(skeleton).to_composite_field_set()
}

/// The resolved locale, with `hour12` as its hour-cycle preference
/// (`-u-hc-h12` / `-u-hc-h23`): in ICU4X the clock is a preference, not a field.
fn locale_with_clock(tag: &str, hour12: Option<bool>) -> icu_locale_core::Locale {
    let locale = resolve(tag);
    let Some(twelve) = hour12 else {
        return locale;
    };
    let cycle = if twelve { "h12" } else { "h23" };
    icu_locale_core::Locale::try_from_str(&format!("{locale}-u-hc-{cycle}")).unwrap_or(locale)
}

fn formatter(
    ctx: &Ctx<'_>,
    tag: &str,
    skeleton: &str,
    hour12: Option<bool>,
) -> Result<DateTimeFormatter<CompositeFieldSet>> {
    let locale = locale_with_clock(tag, hour12);
    DateTimeFormatter::try_new((&locale).into(), field_set(skeleton))
        .map_err(|error| range_error(ctx, "no date format data", error))
}

/// The instant `epoch_ms` as wall-clock time in `zone` (`UTC`, a fixed
/// `±HH:MM` offset or an IANA name), with the zone for its name.
fn zoned(ctx: &Ctx<'_>, zone: &str, epoch_ms: f64) -> Result<Zoned> {
    let invalid_time = || Exception::throw_range(ctx, "Invalid time value");
    if !epoch_ms.is_finite() {
        return Err(invalid_time());
    }
    #[allow(clippy::cast_possible_truncation)] // finite, and jiff checks the range
    let instant =
        jiff::Timestamp::from_millisecond(epoch_ms.floor() as i64).map_err(|_| invalid_time())?;
    let (tz, icu_zone) = zones(ctx, zone)?;
    let offset = tz.to_offset(instant);
    let civil = tz.to_datetime(instant);
    let date = Date::try_new_iso(
        i32::from(civil.year()),
        u8::try_from(civil.month()).unwrap_or(1),
        u8::try_from(civil.day()).unwrap_or(1),
    )
    .map_err(|_| invalid_time())?;
    let time = Time::try_new(
        u8::try_from(civil.hour()).unwrap_or(0),
        u8::try_from(civil.minute()).unwrap_or(0),
        u8::try_from(civil.second()).unwrap_or(0),
        u32::try_from(civil.subsec_nanosecond()).unwrap_or(0),
    )
    .map_err(|_| invalid_time())?;
    let zone = icu_zone
        .with_offset(UtcOffset::try_from_seconds(offset.seconds()).ok())
        .at_date_time(DateTime { date, time });
    Ok(ZonedDateTime { date, time, zone })
}

/// jiff's zone (for the offset) and ICU's (for the name) of a zone name.
fn zones(ctx: &Ctx<'_>, zone: &str) -> Result<(jiff::tz::TimeZone, TimeZone)> {
    if zone == "UTC" {
        return Ok((jiff::tz::TimeZone::UTC, IanaParser::new().parse("Etc/UTC")));
    }
    if let Some(seconds) = fixed_offset(zone) {
        let offset = jiff::tz::Offset::from_seconds(seconds)
            .map_err(|_| Exception::throw_range(ctx, "Invalid time zone specified"))?;
        return Ok((jiff::tz::TimeZone::fixed(offset), TimeZone::UNKNOWN));
    }
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| {
        Exception::throw_range(ctx, &format!("Invalid time zone specified: {zone}"))
    })?;
    Ok((tz, IanaParser::new().parse(zone)))
}

/// `±HH:MM` → seconds east of UTC.
fn fixed_offset(zone: &str) -> Option<i32> {
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = zone.get(1..)?.split_once(':')?;
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}
