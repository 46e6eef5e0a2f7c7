//! The search for the next fire instant (README §4).
//!
//! The timeline of a zone is a sequence of segments with a constant UTC
//! offset, separated by transitions. Within a segment, instants and
//! wall-clock times map one to one, so the next fire instant in a segment is
//! the next matching wall-clock time in the segment's local range, found by
//! a pure calendar search. At each transition:
//!
//! * **gap** (offset grows): the local times `[T + before, T + after)` are
//!   skipped. With [`GapRule::FireAtTransition`] the transition instant `T`
//!   fires when any of them matches.
//! * **fold** (offset shrinks): the local times `[T + after, T + before)` come
//!   again. With [`FoldRule::FirstOnly`] the search jumps over that second
//!   pass, instants `[T, T + (before - after))`.
//!
//! The result is a set of instants that does not depend on where the search
//! starts, returned in increasing order.
//!
//! Sparse schedules (a fifth Monday in February) would make this walk visit
//! every transition for decades. Once every later wall-clock time is at or
//! after the start of the current calendar search (a bit over a day after
//! it, as offsets stay below 26 hours), nothing can fire before the match
//! that search found, so the walk jumps to just before the match's earliest
//! possible instant. Every search ends at a horizon of 401 years.

use jiff::Timestamp;
use jiff::tz::{TimeZone, TimeZoneFollowingTransitions};

use crate::civil::{
    SECONDS_PER_DAY, civil_from_days, days_from_civil, days_in_month, weekday_of_days,
};
use crate::dst::{DstRules, FoldRule, GapRule};
use crate::schedule::Schedule;
use crate::spec::MonthShape;

/// How far a search looks ahead. Weekdays and leap years repeat every 400
/// years, so an expression that matches any day (checked at parse time)
/// matches one in every 400-year window; the extra year covers a window
/// that starts mid-year.
const HORIZON_SECONDS: i64 = 401 * 366 * SECONDS_PER_DAY;

/// Larger than any UTC offset jiff can represent (±25:59:59): a wall-clock
/// time `w` occurs no earlier than the instant `w - MAX_OFFSET`.
const MAX_OFFSET: i64 = 26 * 3600;

/// Jumping costs two zone lookups, walking one per transition: jump only
/// over spans long enough to hold several transitions.
const MIN_JUMP: i64 = 366 * SECONDS_PER_DAY;

/// The last year jiff can represent.
const MAX_YEAR: i32 = 9999;

impl Schedule {
    /// The first fire instant strictly after `after`.
    pub(crate) fn next_instant(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        // Fire instants are whole seconds: start at the first one after `after`.
        let floor = after.as_second() - i64::from(after.subsec_nanosecond() < 0);
        Search::start(self, tz, floor.checked_add(1)?)?.run()
    }

    /// The first matching wall-clock time (local seconds) at or after `from`
    /// and before `horizon`.
    pub(crate) fn first_local_match(&self, from: i64, horizon: i64) -> Option<i64> {
        let months = self.spec.months;
        let (mut year, mut month, mut day) = civil_from_days(from.div_euclid(SECONDS_PER_DAY));
        let mut time = from.rem_euclid(SECONDS_PER_DAY) as u32;
        loop {
            if months & (1 << month) == 0 {
                (year, month) = next_allowed_month(months, year, month);
                (day, time) = (1, 0);
                if past_horizon(year, month, horizon) {
                    return None;
                }
            }
            let days = self.days_in(month_shape(year, month)) & days_from(day);
            if days == 0 {
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                (day, time) = (1, 0);
                if past_horizon(year, month, horizon) {
                    return None;
                }
                continue;
            }
            let matching_day = days.trailing_zeros();
            if matching_day != day {
                (day, time) = (matching_day, 0);
            }
            match self.time_at_or_after(time) {
                Some(second_of_day) => {
                    let local = days_from_civil(year, month, day) * SECONDS_PER_DAY
                        + i64::from(second_of_day);
                    return (local < horizon).then_some(local);
                }
                None => (day, time) = (day + 1, 0),
            }
        }
    }

    /// The first matching time of day (seconds since midnight) at or after
    /// `second_of_day`, if any.
    fn time_at_or_after(&self, second_of_day: u32) -> Option<u32> {
        let spec = &self.spec;
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        );
        let seconds_of = |h: u32, m: u32, s: u32| h * 3600 + m * 60 + s;
        let first_minute = spec.minutes.trailing_zeros();
        let first_second = spec.seconds.trailing_zeros();
        let matched_hour = next_bit(u64::from(spec.hours), hour)?;
        if matched_hour > hour {
            return Some(seconds_of(matched_hour, first_minute, first_second));
        }
        if let Some(matched_minute) = next_bit(spec.minutes, minute) {
            if matched_minute > minute {
                return Some(seconds_of(hour, matched_minute, first_second));
            }
            if let Some(matched_second) = next_bit(spec.seconds, second) {
                return Some(seconds_of(hour, minute, matched_second));
            }
            if let Some(later_minute) = next_bit(spec.minutes, minute + 1) {
                return Some(seconds_of(hour, later_minute, first_second));
            }
        }
        let later_hour = next_bit(u64::from(spec.hours), hour + 1)?;
        Some(seconds_of(later_hour, first_minute, first_second))
    }
}

/// The state of one `next_instant` call: where on the timeline it is and
/// what it knows about the calendar and the zone.
struct Search<'a> {
    schedule: &'a Schedule,
    tz: &'a TimeZone,
    rules: DstRules,
    /// The first instant not yet ruled out, and the UTC offset there.
    instant: i64,
    offset: i64,
    /// Local times below this were already passed: skips the second pass
    /// of a fold under `FoldRule::FirstOnly`.
    resume_local: i64,
    /// The search gives up at this local time.
    horizon: i64,
    memo: LocalMatch,
    /// The next transition after `instant`, when already looked up.
    known_next: Option<Option<(i64, i64)>>,
    transitions: Transitions<'a>,
}

impl<'a> Search<'a> {
    /// Starts at `instant` (inclusive). Returns `None` only at the edge of
    /// jiff's range.
    fn start(schedule: &'a Schedule, tz: &'a TimeZone, instant: i64) -> Option<Self> {
        let offset = i64::from(offset_at(tz, instant)?);
        // One lookup tells whether a transition happened within the last
        // day (then the start may sit right at a gap or inside a fold's
        // second pass) and otherwise is the next transition; the iterator
        // walks on from there.
        let mut transitions = Transitions::after(tz, instant - MAX_OFFSET);
        let known_next = match transitions.next() {
            Some((at, _)) if at <= instant => None,
            None if transitions.out_of_range() => None,
            known => Some(known),
        };
        if known_next.is_none() {
            transitions = Transitions::after(tz, instant);
        }
        Some(Search {
            schedule,
            tz,
            rules: schedule.dst_rules(),
            instant,
            offset,
            resume_local: i64::MIN,
            horizon: instant.checked_add(offset + HORIZON_SECONDS)?,
            memo: LocalMatch::default(),
            known_next,
            transitions,
        })
    }

    fn run(mut self) -> Option<Timestamp> {
        if self.known_next.is_none()
            && let Some(fires) = self.start_after_recent_transition()
        {
            return Some(fires);
        }
        loop {
            let local_from = (self.instant + self.offset).max(self.resume_local);
            let found = self.first_match(local_from)?;
            if self.instant >= self.memo.settled_after()
                && found - MAX_OFFSET > self.instant + MIN_JUMP
            {
                // Nothing can fire before `found`'s earliest possible
                // instant: skip the transitions in between.
                self.jump_to(found - MAX_OFFSET)?;
                continue;
            }
            let next_transition = self.next_transition();
            let local_end = next_transition.map_or(i64::MAX, |(at, _)| at + self.offset);
            if found < local_end {
                return to_timestamp(found - self.offset);
            }
            let (at, next_offset) = next_transition?;
            if let Some(fires) = self.cross(at, next_offset, found) {
                return Some(fires);
            }
        }
    }

    /// A transition happened at or shortly before the start: the start may
    /// be exactly at a gap whose skipped times match (then it fires), or in
    /// the second pass of a fold.
    fn start_after_recent_transition(&mut self) -> Option<Timestamp> {
        let (at, before) = transition_at_or_before(self.tz, self.instant)?;
        let before = i64::from(before);
        if at == self.instant
            && before < self.offset
            && self.rules.gap == GapRule::FireAtTransition
            && self
                .first_match(at + before)
                .is_some_and(|local| local < at + self.offset)
        {
            return to_timestamp(at);
        }
        if self.rules.fold == FoldRule::FirstOnly && before > self.offset {
            self.resume_local = at + before;
        }
        None
    }

    /// Moves past the transition at `at`; `found` is the first matching
    /// local time at or after the end of the segment before it. Returns the
    /// transition instant when it fires for a gap.
    fn cross(&mut self, at: i64, next_offset: i64, found: i64) -> Option<Timestamp> {
        let local_end = at + self.offset;
        if next_offset > self.offset
            && self.rules.gap == GapRule::FireAtTransition
            && found < at + next_offset
        {
            // `found` lies inside the skipped local times.
            return to_timestamp(at);
        }
        self.resume_local = if next_offset < self.offset && self.rules.fold == FoldRule::FirstOnly {
            local_end
        } else {
            i64::MIN
        };
        (self.instant, self.offset) = (at, next_offset);
        None
    }

    fn jump_to(&mut self, instant: i64) -> Option<()> {
        self.instant = instant;
        self.offset = i64::from(offset_at(self.tz, instant)?);
        self.resume_local = i64::MIN;
        self.known_next = None;
        self.transitions = Transitions::after(self.tz, instant);
        Some(())
    }

    fn first_match(&mut self, local_from: i64) -> Option<i64> {
        self.memo
            .first_at_or_after(self.schedule, local_from, self.horizon)
    }

    fn next_transition(&mut self) -> Option<(i64, i64)> {
        self.known_next
            .take()
            .unwrap_or_else(|| self.transitions.next())
    }
}

/// The smallest set bit at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let remaining = bits & u64::MAX.checked_shl(from)?;
    (remaining != 0).then(|| remaining.trailing_zeros())
}

/// Day bits `day..=31`.
fn days_from(day: u32) -> u32 {
    u32::MAX.checked_shl(day).unwrap_or(0)
}

/// Whether the month starts at or after the horizon, or beyond jiff's range.
fn past_horizon(year: i32, month: u32, horizon: i64) -> bool {
    year > MAX_YEAR || days_from_civil(year, month, 1) * SECONDS_PER_DAY >= horizon
}

/// The first allowed month after `month` (wrapping into the next year).
fn next_allowed_month(months: u16, year: i32, month: u32) -> (i32, u32) {
    let later = months & (u16::MAX << (month + 1).min(15));
    if later != 0 {
        (year, later.trailing_zeros())
    } else {
        (year + 1, months.trailing_zeros())
    }
}

fn month_shape(year: i32, month: u32) -> MonthShape {
    MonthShape {
        first_weekday: weekday_of_days(days_from_civil(year, month, 1)),
        length: days_in_month(year, month),
    }
}

/// Remembers the last calendar search within one `next_instant` call: the
/// first match at or after `from` is also the first match at or after any
/// later point up to it, which saves repeating a long search across the
/// transitions of a sparse schedule.
#[derive(Default)]
struct LocalMatch {
    searched: Option<(i64, Option<i64>)>,
}

impl LocalMatch {
    fn first_at_or_after(&mut self, schedule: &Schedule, from: i64, horizon: i64) -> Option<i64> {
        if let Some((searched_from, found)) = self.searched
            && searched_from <= from
            && found.is_none_or(|local| from <= local)
        {
            return found;
        }
        let found = schedule.first_local_match(from, horizon);
        self.searched = Some((from, found));
        found
    }

    /// From this instant on, every local time is at or after the start of
    /// the remembered search (offsets are below [`MAX_OFFSET`]), so no
    /// instant before the remembered match can fire: not its wall-clock
    /// time, not a gap holding it, not a fold repeating it.
    fn settled_after(&self) -> i64 {
        self.searched
            .map_or(i64::MAX, |(from, _)| from.saturating_add(MAX_OFFSET))
    }
}

fn to_timestamp(second: i64) -> Option<Timestamp> {
    Timestamp::from_second(second).ok()
}

fn offset_at(tz: &TimeZone, second: i64) -> Option<i32> {
    Some(tz.to_offset(to_timestamp(second)?).seconds())
}

/// The transitions of a zone strictly after an instant, in order: each as
/// its instant and the offset from then on. Walking one iterator is cheaper
/// than looking up each next transition afresh.
struct Transitions<'t> {
    following: Option<TimeZoneFollowingTransitions<'t>>,
}

impl<'t> Transitions<'t> {
    fn after(tz: &'t TimeZone, second: i64) -> Self {
        Transitions {
            following: to_timestamp(second).map(|instant| tz.following(instant)),
        }
    }

    /// The start instant was outside jiff's range: nothing is known.
    fn out_of_range(&self) -> bool {
        self.following.is_none()
    }

    fn next(&mut self) -> Option<(i64, i64)> {
        let transition = self.following.as_mut()?.next()?;
        Some((
            transition.timestamp().as_second(),
            i64::from(transition.offset().seconds()),
        ))
    }
}

/// The last transition at or before `second`: its instant and the offset
/// before it.
fn transition_at_or_before(tz: &TimeZone, second: i64) -> Option<(i64, i32)> {
    let transition = tz.preceding(to_timestamp(second.checked_add(1)?)?).next()?;
    let at = transition.timestamp().as_second();
    Some((at, offset_at(tz, at.checked_sub(1)?)?))
}
