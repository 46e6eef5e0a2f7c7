//! Secrets given on the command line: from a file (`--api-token-file`),
//! the environment, or — with a warning — the argument itself, which any
//! user of the machine can read in `/proc/PID/cmdline` and `ps`.

use std::path::Path;

use anyhow::Result;

use crate::InvalidInput;

/// One secret option: `--NAME VALUE`, `--NAME-file PATH`, or `ENV`.
pub(crate) struct SecretOption<'a> {
    /// The value flag, e.g. `--api-token`.
    pub(crate) flag: &'static str,
    /// Its environment variable, e.g. `CLOCKWORK_API_TOKEN`.
    pub(crate) env: &'static str,
    /// The value clap read (from the argument or the environment).
    pub(crate) value: Option<&'a str>,
    /// The file clap read from `--NAME-file` (or `ENV_FILE`).
    pub(crate) file: Option<&'a Path>,
}

impl SecretOption<'_> {
    /// The secret: the file's content without its trailing newline, else
    /// the value. Warns on stderr when the value was a command-line argument.
    pub(crate) fn resolve(&self) -> Result<Option<String>> {
        if let Some(path) = self.file {
            if self.value.is_some_and(|value| !value.is_empty()) {
                return Err(InvalidInput(format!(
                    "give {} or {}-file, not both",
                    self.flag, self.flag
                ))
                .into());
            }
            return read_secret_file(self.flag, path).map(Some);
        }
        let value = self.value.filter(|value| !value.is_empty());
        if value.is_some() && given_as_argument(self.flag, std::env::args_os()) {
            eprintln!(
                "warning: {flag} puts the secret where every user of this machine can read it \
                 (the process list); use {flag}-file PATH or the {env} variable instead",
                flag = self.flag,
                env = self.env,
            );
        }
        Ok(value.map(str::to_owned))
    }
}

fn read_secret_file(flag: &str, path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        InvalidInput(format!(
            "{flag}-file: cannot read {}: {error}",
            path.display()
        ))
    })?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.trim().is_empty() {
        return Err(InvalidInput(format!("{flag}-file: {} is empty", path.display())).into());
    }
    Ok(secret.to_owned())
}

/// True when `flag` (as `--flag VALUE` or `--flag=VALUE`) is among `args`.
fn given_as_argument(flag: &str, args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let with_value = format!("{flag}=");
    args.map(|arg| arg.to_string_lossy().into_owned())
        .any(|arg| arg == flag || arg.starts_with(&with_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = std::ffi::OsString> {
        list.iter()
            .map(std::ffi::OsString::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn an_argument_is_told_apart_from_the_environment() {
        assert!(given_as_argument(
            "--api-token",
            args(&["clockwork", "run", "--api-token", "x"])
        ));
        assert!(given_as_argument(
            "--api-token",
            args(&["clockwork", "--api-token=x"])
        ));
        assert!(!given_as_argument(
            "--api-token",
            args(&["clockwork", "--api-token-file", "f"])
        ));
        assert!(!given_as_argument(
            "--api-token",
            args(&["clockwork", "x.js"])
        ));
    }
}
