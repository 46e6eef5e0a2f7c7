//! Table-driven checks: each case is a script body and the exact `String(…)`
//! of its result (or `THROW <constructor> <name>: <message>`).

use super::harness::{eval, eval_async, with_web};

pub(super) fn check(cases: &[(&str, &str)]) {
    run(cases, false);
}

/// Like [`check`], for bodies of async functions (the job queue is drained).
pub(super) fn check_async(cases: &[(&str, &str)]) {
    run(cases, true);
}

fn run(cases: &[(&str, &str)], asynchronous: bool) {
    with_web(|ctx| {
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(source, expected)| {
                let actual = if asynchronous {
                    eval_async(ctx, source)
                } else {
                    eval(ctx, source)
                };
                (actual != *expected)
                    .then(|| format!("{source}\n  expected: {expected:?}\n  actual:   {actual:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    });
}
