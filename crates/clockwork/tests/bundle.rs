//! A Forge-style job that imports an npm package (date-fns), bundled into
//! one ESM file with esbuild as docs/forge-compatibility.md tells users to,
//! then run unchanged with `clockwork run` against the fake Jira. The
//! packages come from `tests/bundle/package-lock.json` through `npm ci`
//! (like scripts/browser-tests installs its packages), into a scratch copy
//! so the source tree stays clean. Needs Node 20+ and npm.

#![allow(clippy::unwrap_used)]

mod run_support;

use std::path::Path;
use std::process::Command;

use run_support::{Fake, Scratch, finish};
use serde_json::json;

fn copy_fixture(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bundle");
    for name in ["package.json", "package-lock.json", "index.js"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

fn succeed(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot start ({error}); install Node 20+ and npm"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_esbuild_bundle_of_an_npm_library_runs_as_a_job() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    copy_fixture(dir);
    succeed(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir),
        "npm ci",
    );
    succeed(
        Command::new(dir.join("node_modules/.bin/esbuild"))
            .args([
                "index.js",
                "--bundle",
                "--platform=node",
                "--format=esm",
                "--external:@forge/*",
                "--outfile=nightly-sync.js",
            ])
            .current_dir(dir),
        "esbuild",
    );
    let fake = Fake::start(0);
    let mut command = scratch.command();
    command.arg("--json").args(fake.site_args());
    let finished = finish(command.args(["--handler", "trigger", "nightly-sync.js"]));
    let report = finished.report();
    assert_eq!(
        report["status"], "succeeded",
        "{report:#}\n{}",
        finished.stderr
    );
    assert_eq!(
        report["result"],
        json!({ "due": "2025-04-09", "days": 10, "site": 200, "digest": "bd1d66c5" })
    );
}
