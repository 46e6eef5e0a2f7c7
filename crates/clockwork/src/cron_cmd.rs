//! `clockwork cron next|describe|validate`: cron expressions on the
//! command line, through the `cron` crate.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use cron::{Schedule, format_instant, time_zone};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::InvalidInput;

/// `clockwork cron …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CronCommand {
    /// Print the next fire instants of an expression, one per line.
    Next(NextArgs),
    /// Describe an expression in English.
    Describe {
        /// The cron expression, quoted, e.g. '30 2 * * 1-5'.
        expression: String,
    },
    /// Check an expression (and a time zone, where it must fire): exit 0
    /// when valid, 2 when not.
    Validate {
        /// The cron expression, quoted, e.g. '30 2 * * 1-5'.
        expression: String,
        /// An IANA time zone to check as well, e.g. Europe/Berlin.
        #[arg(long)]
        tz: Option<String>,
    },
}

/// Arguments of `clockwork cron next`.
#[derive(Debug, Args)]
pub(crate) struct NextArgs {
    /// The cron expression, quoted, e.g. '30 2 * * *'.
    expression: String,
    /// The IANA time zone the expression's wall-clock times are in.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Print instants strictly after this RFC 3339 instant (default: now),
    /// e.g. 2026-03-07T12:00:00Z.
    #[arg(long)]
    from: Option<String>,
    /// How many instants to print.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Print one JSON object: expression, timezone, description, next.
    #[arg(long)]
    json: bool,
}

/// The `--json` output of `clockwork cron next`.
#[derive(Debug, Serialize)]
struct NextJson<'a> {
    expression: &'a str,
    timezone: &'a str,
    description: String,
    next: Vec<String>,
}

/// Runs one `cron` subcommand, writing its result to `out`.
pub(crate) fn run(command: CronCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        CronCommand::Next(args) => next(&args, out),
        CronCommand::Describe { expression } => {
            let schedule = parse_schedule(&expression)?;
            writeln!(out, "{}", schedule.describe())?;
            Ok(())
        }
        CronCommand::Validate { expression, tz } => {
            let schedule = parse_schedule(&expression)?;
            if let Some(name) = tz {
                let zone = resolve_zone(&name)?;
                check_fires(&schedule, Timestamp::now(), &zone)?;
            }
            writeln!(out, "valid: {}", schedule.describe())?;
            Ok(())
        }
    }
}

fn next(args: &NextArgs, out: &mut dyn Write) -> Result<()> {
    let schedule = parse_schedule(&args.expression)?;
    let zone = resolve_zone(&args.tz)?;
    let from = match &args.from {
        Some(text) => parse_instant(text)?,
        None => Timestamp::now(),
    };
    check_fires(&schedule, from, &zone)?;
    let instants = schedule
        .iter_after(from, &zone)
        .take(args.count as usize)
        .map(|instant| format_instant(&instant));
    if args.json {
        let json = NextJson {
            expression: schedule.source(),
            timezone: zone.iana_name().unwrap_or(&args.tz),
            description: schedule.describe(),
            next: instants.collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
    } else {
        for instant in instants {
            writeln!(out, "{instant}")?;
        }
    }
    Ok(())
}

fn parse_schedule(expression: &str) -> Result<Schedule> {
    Schedule::parse(expression).map_err(|error| {
        InvalidInput(format!("invalid cron expression {expression:?}: {error}")).into()
    })
}

/// An expression that fires nowhere in the zone is an error, not an empty list.
fn check_fires(schedule: &Schedule, from: Timestamp, zone: &TimeZone) -> Result<()> {
    schedule.check_fires_in(from, zone).map_err(|error| {
        InvalidInput(format!("cron expression {:?}: {error}", schedule.source())).into()
    })
}

fn resolve_zone(name: &str) -> Result<TimeZone> {
    time_zone(name).map_err(|error| InvalidInput(error.to_string()).into())
}

fn parse_instant(text: &str) -> Result<Timestamp> {
    text.parse().map_err(|error| {
        InvalidInput(format!(
            "invalid --from {text:?}: expected an RFC 3339 instant like 2026-03-07T12:00:00Z ({error})"
        ))
        .into()
    })
}
