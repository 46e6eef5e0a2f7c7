//! Time zone lookup and the instant format of the test vectors.

use jiff::ZonedDateTime;
use jiff::tz::TimeZone;

use crate::error::UnknownTimeZone;

/// Looks up an IANA time zone by name (e.g. `America/New_York`, `UTC`) in
/// the time zone database bundled with the binary.
///
/// ```
/// let zone = cron::time_zone("Pacific/Chatham")?;
/// assert_eq!(zone.iana_name(), Some("Pacific/Chatham"));
/// # Ok::<(), cron::UnknownTimeZone>(())
/// ```
pub fn time_zone(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    TimeZone::get(name).map_err(|_| UnknownTimeZone::new(name))
}

/// Formats an instant as `YYYY-MM-DDTHH:MM:SS±HH:MM` with the zone's UTC
/// offset at that instant (UTC is written `+00:00`, never `Z`), the format
/// of the test vectors. An offset with seconds (only in historical data)
/// is written `±HH:MM:SS`.
///
/// ```
/// use jiff::{tz::TimeZone, Timestamp};
///
/// let instant: Timestamp = "2026-09-26T14:00:00Z".parse()?;
/// let chatham = instant.to_zoned_datetime(TimeZone::get("Pacific/Chatham")?);
/// assert_eq!(cron::format_instant(&chatham), "2026-09-27T03:45:00+13:45");
/// let utc = instant.to_zoned_datetime(TimeZone::UTC);
/// assert_eq!(cron::format_instant(&utc), "2026-09-26T14:00:00+00:00");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_instant(instant: &ZonedDateTime) -> String {
    let offset = instant.offset().seconds();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    let (hours, minutes, seconds) = (offset / 3600, offset / 60 % 60, offset % 60);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{hours:02}:{minutes:02}",
        instant.year(),
        instant.month(),
        instant.day(),
        instant.hour(),
        instant.minute(),
        instant.second(),
    );
    if seconds != 0 {
        text.push_str(&format!(":{seconds:02}"));
    }
    text
}
