//! What the web UI needs from a real `clockwork serve`: the first user from
//! `CLOCKWORK_ADMIN_PASSWORD`, `clockwork user add` (in the database and
//! through the server), signing in for a session cookie, and a console run
//! in the same environment as scheduled runs (the database's storage).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Serve, ok, stderr};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `POST /api/v1/session` with `body`: the status and the body.
fn sign_in(server: &Serve, body: Value) -> (u16, Value) {
    runtime().block_on(async {
        let response = client()
            .post(format!("{}/api/v1/session", server.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
}

/// `clockwork user add …` with `stdin`.
fn user_add(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .arg("user")
        .arg("add")
        .args(args)
        .env_remove("CLOCKWORK_DATABASE")
        .env_remove("CLOCKWORK_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_admin_password_creates_the_first_user_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Serve::start_with_env(
        &data,
        &[],
        &[("CLOCKWORK_ADMIN_PASSWORD", "first admin password")],
    );
    let (status, body) = sign_in(
        &server,
        json!({"username": "admin", "password": "first admin password"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(server.terminate(), Some(0));

    // Users exist now: a different password on a later start changes nothing.
    let server = Serve::start_with_env(
        &data,
        &[],
        &[("CLOCKWORK_ADMIN_PASSWORD", "another password")],
    );
    let (status, _) = sign_in(
        &server,
        json!({"username": "admin", "password": "another password"}),
    );
    assert_eq!(status, 401);
    let (status, _) = sign_in(
        &server,
        json!({"username": "admin", "password": "first admin password"}),
    );
    assert_eq!(status, 200);
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn a_short_admin_password_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("CLOCKWORK_ADMIN_PASSWORD", "short")
        .env("CLOCKWORK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("CLOCKWORK_DATABASE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("CLOCKWORK_ADMIN_PASSWORD: invalid password"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn users_are_added_in_the_database_or_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    // Before the server ever ran: straight into a new database.
    let added = user_add(
        &["ada", "--role", "editor", "--data-dir", &data_arg],
        "ada's long password\n",
        &[],
    );
    assert_eq!(ok(&added), "created user ada (editor)\n");
    let again = user_add(
        &["ada", "--role", "viewer", "--data-dir", &data_arg],
        "ada's long password\n",
        &[],
    );
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("already exists"));
    let short = user_add(
        &["bob", "--role", "viewer", "--data-dir", &data_arg],
        "short\n",
        &[],
    );
    assert_eq!(short.status.code(), Some(2));
    let empty = user_add(
        &["bob", "--role", "viewer", "--data-dir", &data_arg],
        "",
        &[],
    );
    assert_eq!(empty.status.code(), Some(2));
    assert!(stderr(&empty).contains("no password"));
    let bad_role = user_add(
        &["bob", "--role", "owner", "--data-dir", &data_arg],
        "a long password\n",
        &[],
    );
    assert_eq!(bad_role.status.code(), Some(2));

    let server = Serve::start(&data, &[]);
    let (status, body) = sign_in(
        &server,
        json!({"username": "ada", "password": "ada's long password"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "editor");

    // Through the server, with the admin token and the password from a variable.
    let server_env = [
        ("CLOCKWORK_SERVER", server.url.as_str()),
        ("CLOCKWORK_TOKEN", ADMIN_TOKEN),
        ("BOB_PASSWORD", "bob's long password"),
    ];
    let added = user_add(
        &["bob", "--role", "viewer", "--password-env", "BOB_PASSWORD"],
        "",
        &server_env,
    );
    assert_eq!(ok(&added), "created user bob (viewer)\n");
    let (status, _) = sign_in(
        &server,
        json!({"username": "bob", "password": "bob's long password"}),
    );
    assert_eq!(status, 200);
    let taken = user_add(
        &["bob", "--role", "viewer", "--password-env", "BOB_PASSWORD"],
        "",
        &server_env,
    );
    assert_eq!(taken.status.code(), Some(2), "{}", stderr(&taken));
    let unset = user_add(
        &[
            "carl",
            "--role",
            "viewer",
            "--password-env",
            "NOT_SET_ANYWHERE",
        ],
        "",
        &server_env,
    );
    assert_eq!(unset.status.code(), Some(2));
    assert!(stderr(&unset).contains("NOT_SET_ANYWHERE is not set"));
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn a_console_run_streams_and_uses_the_servers_storage() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let (text, entry) = runtime().block_on(async {
        let client = client();
        let script = "console.log('hello from the console');\n\
                      await storage.set('console-key', {n: 1});\n\
                      return 'done';";
        let response = client
            .post(format!("{}/api/v1/console/run", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(json!({"script": script}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let entry = client
            .get(format!("{}/api/v1/storage/console-key", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let entry: Value = serde_json::from_str(&entry).unwrap();
        (text, entry)
    });
    assert!(
        text.contains("event: log\n") && text.contains("hello from the console"),
        "{text}"
    );
    assert!(
        text.contains("event: outcome\ndata: {") && text.contains("\"result\":\"done\""),
        "{text}"
    );
    assert_eq!(entry["value"], json!({"n": 1}));
    assert_eq!(server.terminate(), Some(0));
}
