//! The `clockwork` binary: command-line wiring only.
//!
//! This file holds the top-level [`Cli`] / [`Command`] definitions and the
//! mapping from errors to exit codes; each command group lives in its own
//! module (`cron_cmd` for `clockwork cron …`). Behaviour belongs in the
//! library crates; this binary parses arguments, calls them and prints.
//!
//! Exit codes: 0 success, 2 invalid input (a bad expression, zone, instant
//! or option, including clap's usage errors), 1 anything else.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cron_cmd;

/// Exit code for input the user can correct; clap uses it for usage errors.
const EXIT_INVALID_INPUT: u8 = 2;
/// Exit code for every other failure.
const EXIT_FAILURE: u8 = 1;

/// Clockwork runs JavaScript jobs on cron schedules against Jira,
/// Confluence and any HTTP API.
#[derive(Debug, Parser)]
#[command(name = "clockwork", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with cron expressions: next fire instants, descriptions, checks.
    #[command(subcommand)]
    Cron(cron_cmd::CronCommand),
}

/// An error caused by what the user typed (exit code 2), carrying the
/// one-line message to show.
#[derive(Debug)]
pub(crate) struct InvalidInput(pub(crate) String);

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = io::stdout().lock();
    let result = match cli.command {
        Command::Cron(command) => cron_cmd::run(command, &mut stdout),
    };
    let result = result.and_then(|()| stdout.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` keeps the whole cause chain on one line.
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::from(exit_code(&error))
        }
    }
}

fn exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<InvalidInput>() {
        EXIT_INVALID_INPUT
    } else {
        EXIT_FAILURE
    }
}

/// Output piped into `head` is closed early; that is not a failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
