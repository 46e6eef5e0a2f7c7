//! The contract: every case of `testdata/cron` (copied into `tests/data`)
//! through the public API. Failures are collected and reported together.

use cron::{Schedule, format_instant, time_zone};
use jiff::Timestamp;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    expr: String,
    tz: String,
    from: String,
    next: Vec<String>,
}

#[derive(Deserialize)]
struct Invalid {
    expr: String,
    why: String,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_vector(vector: &Vector) -> Result<(), String> {
    let schedule = Schedule::parse(&vector.expr).map_err(|e| format!("parse failed: {e}"))?;
    let zone = time_zone(&vector.tz).map_err(|e| e.to_string())?;
    let from: Timestamp = vector.from.parse().map_err(|e| format!("bad from: {e}"))?;
    let actual: Vec<String> = schedule
        .iter_after(from, &zone)
        .take(vector.next.len())
        .map(|instant| format_instant(&instant))
        .collect();
    if actual != vector.next {
        return Err(format!(
            "expected {:?}\n      got      {actual:?}",
            vector.next
        ));
    }
    // next_after agrees with the iterator, one step at a time.
    let mut after = from;
    for expected in &vector.next {
        let next = schedule
            .next_after(after, &zone)
            .ok_or_else(|| format!("next_after({after}) returned None"))?;
        if &format_instant(&next) != expected {
            return Err(format!("next_after({after}) = {}", format_instant(&next)));
        }
        after = next.timestamp();
    }
    Ok(())
}

#[test]
fn all_valid_vectors_match() {
    let vectors: Vec<Vector> = load("vectors.json");
    assert_eq!(vectors.len(), 300);
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| {
            run_vector(v)
                .err()
                .map(|why| format!("{:?} in {} from {}: {why}", v.expr, v.tz, v.from))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn all_invalid_vectors_are_rejected() {
    let invalid: Vec<Invalid> = load("invalid.json");
    assert_eq!(invalid.len(), 40);
    let accepted: Vec<String> = invalid
        .iter()
        .filter(|case| Schedule::parse(&case.expr).is_ok())
        .map(|case| format!("{:?} ({})", case.expr, case.why))
        .collect();
    assert!(
        accepted.is_empty(),
        "{} invalid expressions were accepted:\n{}",
        accepted.len(),
        accepted.join("\n")
    );
}

#[test]
fn invalid_vectors_get_one_line_messages() {
    for case in load::<Invalid>("invalid.json") {
        let message = Schedule::parse(&case.expr)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{message:?}"
        );
        println!("{:<28} → {message}", format!("{:?}", case.expr));
    }
}
