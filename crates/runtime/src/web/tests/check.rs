//! Table-driven checks: each case is a script body and the exact `String(…)`
//! of its result (or `THROW <constructor> <name>: <message>`).

use super::harness::{eval, eval_async, with_web};

pub(super) fn check(cases: &[(&str, &str)]) {
    run(cases, false);
}

/// Like [`check`], for locale-formatted text: ICU releases differ in which
/// space they put between fields (U+0020, U+00A0, U+202F or U+2009), which no
/// reader sees, so all three compare equal.
pub(super) fn check_locale(cases: &[(&str, &str)]) {
    let spaces = |text: &str| text.replace(['\u{a0}', '\u{202f}', '\u{2009}'], " ");
    let normalised: Vec<(String, String)> = cases
        .iter()
        .map(|(source, expected)| ((*source).to_owned(), spaces(expected)))
        .collect();
    with_web(|ctx| {
        let failures: Vec<String> = normalised
            .iter()
            .filter_map(|(source, expected)| {
                let actual = spaces(&eval(ctx, source));
                (actual != *expected)
                    .then(|| format!("{source}\n  expected: {expected:?}\n  actual:   {actual:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            normalised.len(),
            failures.join("\n")
        );
    });
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
