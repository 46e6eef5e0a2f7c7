//! How long to wait before retrying a rate-limited answer. Pure: the current
//! time and the random jitter are inputs.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::rfc2822::DateTimeParser;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::observe::WaitReason;

const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// Numbers at least this large in `X-RateLimit-Reset` are Unix epoch seconds
/// (2001-09-09 onwards); smaller ones are seconds from now.
const EPOCH_SECONDS_FROM: f64 = 1e9;
/// … and at least this large, epoch milliseconds.
const EPOCH_MILLISECONDS_FROM: f64 = 1e12;

/// 429 and 503 are retried; every other status is the caller's to handle.
pub(crate) fn is_rate_limited(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// The wait before retry number `retry_index + 1`: the server's word when it
/// gave a usable one, else exponential backoff. `jitter` is in `[0, 1)`.
pub(crate) fn retry_delay(
    headers: &HeaderMap,
    now: Timestamp,
    retry_index: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    jitter: f64,
) -> (Duration, WaitReason) {
    if let Some(wait) = header_text(headers, RETRY_AFTER.as_str()).and_then(|v| retry_after(v, now))
    {
        return (wait, WaitReason::RetryAfter);
    }
    if let Some(wait) =
        header_text(headers, RATE_LIMIT_RESET).and_then(|v| rate_limit_reset(v, now))
    {
        return (wait, WaitReason::RateLimitReset);
    }
    (
        backoff(retry_index, backoff_base, backoff_cap, jitter),
        WaitReason::Backoff,
    )
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    static PARSER: DateTimeParser = DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    Some(until(at, now))
}

/// `X-RateLimit-Reset` comes as an ISO 8601 instant (Atlassian), epoch seconds
/// or milliseconds (GitHub and others), or seconds from now (some APIs).
fn rate_limit_reset(value: &str, now: Timestamp) -> Option<Duration> {
    if let Ok(number) = value.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        let at = if number >= EPOCH_MILLISECONDS_FROM {
            Timestamp::from_millisecond(number as i64).ok()?
        } else if number >= EPOCH_SECONDS_FROM {
            Timestamp::from_millisecond((number * 1000.0) as i64).ok()?
        } else {
            return Some(Duration::from_secs_f64(number));
        };
        return Some(until(at, now));
    }
    let at = value.parse::<Timestamp>().ok().or_else(|| {
        // An ISO datetime without an offset: read as UTC.
        let civil: DateTime = value.parse().ok()?;
        jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
    })?;
    Some(until(at, now))
}

/// Time from `now` to `at`; zero when `at` has passed.
fn until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// `base · 2^retry_index`, capped, then scaled into `[½, 1)` of itself so that
/// many clients throttled together do not retry in lockstep, yet never retry
/// at once.
fn backoff(retry_index: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(retry_index.min(30));
    let full = base.saturating_mul(factor).min(cap);
    full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(30);

    fn now() -> Timestamp {
        "2025-03-01T12:00:00Z".parse().unwrap()
    }

    fn delay(headers: &[(&'static str, &'static str)], retry_index: u32) -> (Duration, WaitReason) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        retry_delay(&map, now(), retry_index, BASE, CAP, 0.0)
    }

    #[test]
    fn only_429_and_503_are_rate_limits() {
        assert!(is_rate_limited(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_rate_limited(StatusCode::SERVICE_UNAVAILABLE));
        for code in [200, 401, 404, 500, 502, 504] {
            assert!(
                !is_rate_limited(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            delay(&[("retry-after", "7")], 0),
            (Duration::from_secs(7), WaitReason::RetryAfter)
        );
        assert_eq!(
            delay(&[("retry-after", " 0 ")], 3),
            (Duration::ZERO, WaitReason::RetryAfter)
        );
    }

    #[test]
    fn retry_after_http_date_counts_from_now_and_never_goes_negative() {
        assert_eq!(
            delay(&[("retry-after", "Sat, 01 Mar 2025 12:00:42 GMT")], 0),
            (Duration::from_secs(42), WaitReason::RetryAfter)
        );
        assert_eq!(
            delay(&[("retry-after", "Sat, 01 Mar 2025 11:00:00 GMT")], 0),
            (Duration::ZERO, WaitReason::RetryAfter)
        );
    }

    #[test]
    fn retry_after_wins_over_rate_limit_reset() {
        assert_eq!(
            delay(
                &[
                    ("x-ratelimit-reset", "2025-03-01T12:01:00Z"),
                    ("retry-after", "3")
                ],
                0
            ),
            (Duration::from_secs(3), WaitReason::RetryAfter)
        );
    }

    #[test]
    fn rate_limit_reset_as_iso_timestamp_with_or_without_offset() {
        assert_eq!(
            delay(&[("x-ratelimit-reset", "2025-03-01T12:00:05.500Z")], 0),
            (Duration::from_millis(5500), WaitReason::RateLimitReset)
        );
        assert_eq!(
            delay(&[("x-ratelimit-reset", "2025-03-01T13:00:10+01:00")], 0),
            (Duration::from_secs(10), WaitReason::RateLimitReset)
        );
        assert_eq!(
            delay(&[("x-ratelimit-reset", "2025-03-01T12:00:10")], 0),
            (Duration::from_secs(10), WaitReason::RateLimitReset)
        );
    }

    #[test]
    fn rate_limit_reset_as_epoch_seconds_milliseconds_or_delta() {
        let epoch = now().as_second() + 9;
        let seconds: &'static str = Box::leak(epoch.to_string().into_boxed_str());
        let millis: &'static str = Box::leak((epoch * 1000 + 250).to_string().into_boxed_str());
        assert_eq!(
            delay(&[("x-ratelimit-reset", seconds)], 0),
            (Duration::from_secs(9), WaitReason::RateLimitReset)
        );
        assert_eq!(
            delay(&[("x-ratelimit-reset", millis)], 0),
            (Duration::from_millis(9250), WaitReason::RateLimitReset)
        );
        assert_eq!(
            delay(&[("x-ratelimit-reset", "12")], 0),
            (Duration::from_secs(12), WaitReason::RateLimitReset)
        );
    }

    #[test]
    fn a_reset_in_the_past_means_no_wait() {
        assert_eq!(
            delay(&[("x-ratelimit-reset", "2025-03-01T11:59:00Z")], 0),
            (Duration::ZERO, WaitReason::RateLimitReset)
        );
    }

    #[test]
    fn unusable_headers_fall_back_to_backoff() {
        for headers in [
            &[("retry-after", "soon")][..],
            &[("retry-after", "-5")],
            &[("x-ratelimit-reset", "tomorrow")],
            &[("x-ratelimit-reset", "-1")],
            &[],
        ] {
            assert_eq!(delay(headers, 0).1, WaitReason::Backoff, "{headers:?}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        assert_eq!(backoff(0, BASE, CAP, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(0, BASE, CAP, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(1, BASE, CAP, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, BASE, CAP, 0.999_999).as_secs(), 7);
        assert_eq!(backoff(10, BASE, CAP, 1.0), CAP);
        assert_eq!(backoff(u32::MAX, BASE, CAP, 0.0), CAP / 2);
    }
}
