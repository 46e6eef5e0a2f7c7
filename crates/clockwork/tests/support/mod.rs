//! Real `clockwork serve` processes for end-to-end tests, and the client
//! commands run against them.

#![allow(dead_code, unreachable_pub)]

pub mod e2e;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "cw_e2e-admin-token-0123456789";

/// A running `clockwork serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    stderr_log: PathBuf,
}

impl Serve {
    /// Starts `clockwork serve` on a free port with its data in `data_dir`
    /// and `extra` arguments; returns once it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Serve {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// [`Serve::start`] with these environment variables set too.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
        let stderr_log = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_clockwork"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("CLOCKWORK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("CLOCKWORK_DATABASE")
            .env_remove("CLOCKWORK_SECRET_KEY")
            .env_remove("CLOCKWORK_ADMIN_PASSWORD")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("clockwork serve starts");
        let stdout = child.stdout.take().unwrap();
        // The first stdout line is written once the listener is bound.
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("clockwork listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_log).unwrap_or_default()
                )
            })
            .to_owned();
        Serve {
            child,
            url,
            data_dir: data_dir.to_owned(),
            stderr_log,
        }
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Runs a client command against this server with the admin token.
    pub fn client(&self, args: &[&str]) -> Output {
        self.client_with_token(Some(ADMIN_TOKEN), args)
    }

    pub fn client_with_token(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clockwork"));
        command
            .args(args)
            .env("CLOCKWORK_SERVER", &self.url)
            .env_remove("CLOCKWORK_TOKEN");
        if let Some(token) = token {
            command.env("CLOCKWORK_TOKEN", token);
        }
        command.output().expect("the clockwork client runs")
    }

    /// Sends SIGTERM and waits for the process to exit; returns its code.
    pub fn terminate(self) -> Option<i32> {
        self.sigterm();
        self.wait()
    }

    /// Sends SIGTERM and returns at once (the shutdown goes on).
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its code.
    pub fn wait(mut self) -> Option<i32> {
        let code = self.child.wait().unwrap().code();
        std::mem::forget(self);
        code
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // A failing test shows what its server said (its log file goes
        // with the test's temporary folder), and whether it had exited.
        if std::thread::panicking() {
            let exited = self.child.try_wait().ok().flatten();
            eprintln!(
                "--- clockwork serve at {} (exited: {exited:?}), its stderr:\n{}",
                self.url,
                self.stderr()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts the command succeeded and returns its stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Polls `check` until it returns `Some` or `deadline` passes (for state in
/// another process, where there is no event to await).
pub fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
