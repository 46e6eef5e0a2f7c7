//! Cron expressions: parsing, English descriptions and exact next fire
//! instants in any IANA time zone.
//!
//! The main type is [`Schedule`]: [`Schedule::parse`] turns an expression
//! (5 or 6 fields, names, ranges, steps, lists, `?`, `L`, `LW`, `nW`, `d#n`,
//! `dL`, macros) into precomputed match tables, and
//! [`Schedule::next_after`] / [`Schedule::iter_after`] return the fire
//! instants after a given instant in a given zone, with the DST rules of
//! [`DstRules`]. [`ParseError`] says which field, which text and which
//! column is wrong. The behaviour is specified by `testdata/cron/README.md`
//! and its vectors, which the tests run in full.
//!
//! This crate is pure: time is an input, never read from a clock, and it
//! does no I/O. It must not know about jobs, runs, storage, the scheduler or
//! any runtime (no tokio, no database).
//!
//! ```
//! use cron::{format_instant, time_zone, Schedule};
//!
//! let schedule = Schedule::parse("30 2 * * *")?;
//! let new_york = time_zone("America/New_York")?;
//! let from = "2026-03-07T12:00:00Z".parse()?;
//! let next: Vec<String> = schedule
//!     .iter_after(from, &new_york)
//!     .take(2)
//!     .map(|instant| format_instant(&instant))
//!     .collect();
//! // 02:30 does not exist on 2026-03-08: it fires at the transition.
//! assert_eq!(next, ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod civil;
mod describe;
mod dst;
mod error;
mod parse;
mod schedule;
mod search;
mod spec;
mod zone;

pub use crate::{
    dst::{DstRules, FoldRule, GapRule},
    error::{Field, NeverFiresIn, ParseError, ParseErrorKind, UnknownTimeZone},
    schedule::{Occurrences, Schedule},
    zone::{format_instant, time_zone},
};
