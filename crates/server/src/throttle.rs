//! Sign-in throttling: after a few wrong guesses for one account, or from
//! one client address, each further attempt must wait twice as long as the
//! last (1 s, 2 s, 4 s… up to 15 min), answered `429` with `Retry-After`
//! without checking the credentials. A success clears the account's and the
//! address's count. Kept in memory per node: a restart forgets it, and a
//! cluster of `n` nodes allows `n` times the attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{FromRequestParts, connect_info::ConnectInfo};
use axum::http::request::Parts;
use jiff::Timestamp;

/// Wrong guesses allowed before the back-off starts.
pub(crate) const FREE_ATTEMPTS: u32 = 5;
/// The first wait, doubled on each further failure.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Entries kept before forgetting those whose wait is over.
const MAX_ENTRIES: usize = 10_000;

/// Who is guessing: an account name and a client address, counted apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    Account(String),
    Client(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Timestamp>,
}

/// The failure counts of one node.
#[derive(Debug, Default)]
pub(crate) struct SignInThrottle {
    failures: Mutex<HashMap<Subject, Failures>>,
}

impl SignInThrottle {
    /// How long the longest wait among `subjects` still lasts at `now`;
    /// `None` when an attempt may go ahead.
    pub(crate) fn wait(&self, subjects: &[Subject], now: Timestamp) -> Option<Duration> {
        let failures = self.lock();
        subjects
            .iter()
            .filter_map(|subject| failures.get(subject)?.blocked_until)
            .filter_map(|until| Duration::try_from(until.duration_since(now)).ok())
            .filter(|wait| !wait.is_zero())
            .max()
    }

    /// Counts a wrong guess by each of `subjects` at `now`.
    pub(crate) fn failed(&self, subjects: &[Subject], now: Timestamp) {
        let mut failures = self.lock();
        if failures.len() >= MAX_ENTRIES {
            failures.retain(|_, entry| entry.blocked_until.is_some_and(|until| until > now));
        }
        for subject in subjects {
            let entry = failures.entry(subject.clone()).or_insert(Failures {
                count: 0,
                blocked_until: None,
            });
            entry.count = entry.count.saturating_add(1);
            if entry.count >= FREE_ATTEMPTS {
                let doublings = entry.count - FREE_ATTEMPTS;
                let wait = FIRST_WAIT
                    .checked_mul(2u32.saturating_pow(doublings.min(20)))
                    .map_or(MAX_WAIT, |wait| wait.min(MAX_WAIT));
                entry.blocked_until = now.checked_add(wait).ok();
            }
        }
    }

    /// Forgets the failures of `subjects` (they signed in).
    pub(crate) fn succeeded(&self, subjects: &[Subject]) {
        let mut failures = self.lock();
        for subject in subjects {
            failures.remove(subject);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, Failures>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The client's address, when the server was started with connection info.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn waits_double_after_the_free_attempts_and_reset_on_success() {
        let throttle = SignInThrottle::default();
        let alice = [Subject::Account("alice".into())];
        for _ in 0..FREE_ATTEMPTS - 1 {
            throttle.failed(&alice, at(0));
            assert_eq!(throttle.wait(&alice, at(0)), None);
        }
        let mut expected = FIRST_WAIT;
        let mut now = at(0);
        for _ in 0..5 {
            throttle.failed(&alice, now);
            assert_eq!(throttle.wait(&alice, now), Some(expected));
            now = now.checked_add(expected).unwrap();
            assert_eq!(throttle.wait(&alice, now), None);
            expected *= 2;
        }
        throttle.succeeded(&alice);
        throttle.failed(&alice, now);
        assert_eq!(throttle.wait(&alice, now), None);
    }

    #[test]
    fn the_wait_is_capped_and_subjects_are_counted_apart() {
        let throttle = SignInThrottle::default();
        let client = [Subject::Client("192.0.2.7".parse().unwrap())];
        for _ in 0..100 {
            throttle.failed(&client, at(0));
        }
        assert_eq!(throttle.wait(&client, at(0)), Some(MAX_WAIT));
        assert_eq!(
            throttle.wait(&[Subject::Account("bob".into())], at(0)),
            None
        );
    }
}
