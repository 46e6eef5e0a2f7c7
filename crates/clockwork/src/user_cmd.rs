//! `clockwork user add NAME --role ROLE`: creates a web UI user, either
//! straight in the database (`--data-dir` or `--database`, e.g. before the
//! first `clockwork serve`) or through a running server's API (admin
//! token). The password comes from standard input (its first line) or from
//! the variable `--password-env` names — never from an argument, which
//! other users of the machine could read in the process list.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use store::{NewUser, Role, Store};

use crate::{InvalidInput, client_cmd};

/// `clockwork user …`.
#[derive(Debug, Args)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user who signs in to the web UI with a password.
    Add(AddArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The sign-in name: letters, digits, `.`, `_`, `-`, `@`.
    name: String,
    /// `admin`, `editor` or `viewer`.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// Read the password from this environment variable instead of the
    /// first line of standard input.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Write to the SQLite database in this data directory instead of
    /// asking a server.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write to this database (`postgres://…` or a SQLite file) instead of
    /// asking a server.
    #[arg(long, env = "CLOCKWORK_DATABASE", hide_env_values = true)]
    database: Option<String>,
    #[command(flatten)]
    server: client_cmd::ServerArgs,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a role: admin, editor or viewer"))
}

pub(crate) fn run(args: UserArgs, stdin: &mut dyn BufRead, out: &mut dyn Write) -> Result<()> {
    match args.command {
        UserCommand::Add(args) => add(args, stdin, out),
    }
}

fn add(args: AddArgs, stdin: &mut dyn BufRead, out: &mut dyn Write) -> Result<()> {
    let password = password(&args, stdin)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let direct = match (&args.database, &args.data_dir) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(dir)) => Some(dir.join("clockwork.db").display().to_string()),
        (None, None) => None,
    };
    match direct {
        Some(url) => runtime.block_on(async {
            let store = Store::open(&url).await?;
            let created = store
                .user_create(&NewUser {
                    name: args.name.clone(),
                    role: args.role,
                    password,
                })
                .await;
            let outcome = match created {
                Ok(user) => store
                    .audit_append(&store::AuditEntry {
                        actor: "cli".to_owned(),
                        action: "user.create".to_owned(),
                        target: format!("user:{}", user.name),
                        detail: json!({"role": user.role.as_str()}),
                    })
                    .await
                    .map(drop)
                    .map_err(anyhow::Error::from),
                Err(
                    error @ (store::StoreError::Invalid { .. } | store::StoreError::Conflict(_)),
                ) => Err(InvalidInput(error.to_string()).into()),
                Err(error) => Err(error.into()),
            };
            store.close().await;
            outcome
        })?,
        None => runtime.block_on(client_cmd::post_json(
            &args.server,
            &["users"],
            &json!({"name": args.name, "role": args.role.as_str(), "password": password}),
        ))?,
    }
    writeln!(out, "created user {} ({})", args.name, args.role.as_str())?;
    Ok(())
}

fn password(args: &AddArgs, stdin: &mut dyn BufRead) -> Result<String> {
    let password = match &args.password_env {
        Some(var) => std::env::var(var)
            .map_err(|_| InvalidInput(format!("--password-env: {var} is not set")))?,
        None => {
            let mut line = String::new();
            stdin
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    if password.is_empty() {
        return Err(InvalidInput(
            "no password: pipe it on standard input or name a variable with --password-env"
                .to_owned(),
        )
        .into());
    }
    Ok(password)
}
