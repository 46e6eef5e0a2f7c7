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

mod client_cmd;
mod config;
mod cron_cmd;
mod job_file;
mod run_cmd;
mod secret_args;
mod serve_cmd;
mod user_cmd;

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
    /// Run the server: scheduler, workers and REST API, until SIGTERM/SIGINT.
    Serve(serve_cmd::ServeArgs),
    /// Run a script once, like a script console, against the sites given.
    // Boxed: its many options would make every command as large.
    Run(Box<run_cmd::RunArgs>),
    /// Manage jobs on a running server: list, get, apply, run, pause, resume, delete.
    Job(client_cmd::JobArgs),
    /// List a job's runs on a running server, newest first.
    Runs(client_cmd::RunsArgs),
    /// Print a run's log from a running server; --follow streams it live.
    Logs(client_cmd::LogsArgs),
    /// Show a chain of runs (`context.continueWith`) on a running server; --cancel ends it.
    Chain(client_cmd::ChainArgs),
    /// Manage web UI users: `user add NAME --role ROLE` (in the database or on a server).
    User(user_cmd::UserArgs),
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
        Command::Serve(args) => serve_cmd::run(args),
        // Its exit status tells how the run ended (0, 1, 2 or 130).
        Command::Run(args) => return run_cmd::run(*args, &mut stdout),
        Command::Job(args) => client_cmd::job(args, &mut stdout),
        Command::Runs(args) => client_cmd::runs(args, &mut stdout),
        Command::Logs(args) => client_cmd::logs(args, &mut stdout),
        Command::Chain(args) => client_cmd::chain(args, &mut stdout),
        Command::User(args) => user_cmd::run(args, &mut io::stdin().lock(), &mut stdout),
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
