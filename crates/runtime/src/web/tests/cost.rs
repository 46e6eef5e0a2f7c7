//! Cost of `install` and of first use of each lazily loaded module, measured
//! (not asserted: speed is never a test condition). Run with
//! `cargo test -p runtime --release -- --ignored --nocapture web_cost`.

use std::time::{Duration, Instant};

use rquickjs::{Context, Runtime};

use super::super::{install, modules};
use super::harness::log;

const ROUNDS: usize = 2_000;

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

/// Median µs of `timed`, run in a fresh runtime + full context after the
/// untimed `prepare`; only `timed` is on the clock.
fn measure(prepare: impl Fn(&rquickjs::Ctx<'_>), timed: impl Fn(&rquickjs::Ctx<'_>)) -> f64 {
    let samples = (0..ROUNDS)
        .map(|_| {
            let runtime = Runtime::new().expect("runtime");
            let context = Context::full(&runtime).expect("context");
            context.with(|ctx| {
                prepare(&ctx);
                let start = Instant::now();
                timed(&ctx);
                start.elapsed()
            })
        })
        .collect();
    median(samples)
}

/// Median µs of creating a runtime + full context, running `work`, dropping both.
fn measure_run(work: impl Fn(&rquickjs::Ctx<'_>)) -> f64 {
    let samples = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let runtime = Runtime::new().expect("runtime");
            let context = Context::full(&runtime).expect("context");
            context.with(|ctx| work(&ctx));
            drop(context);
            drop(runtime);
            start.elapsed()
        })
        .collect();
    median(samples)
}

fn installed(ctx: &rquickjs::Ctx<'_>) {
    install(ctx).expect("install");
}

#[test]
#[ignore = "measurement, run explicitly with --release"]
fn web_cost() {
    let start = Instant::now();
    modules::precompile().expect("precompile");
    println!(
        "compiling all modules (once per process; 0 if another test did it first): {:.0} µs",
        start.elapsed().as_secs_f64() * 1e6
    );
    let install_only = measure(|_| {}, installed);
    let bootstrap_load = measure(
        |_| {},
        |ctx| {
            modules::load_default(ctx, "bootstrap").expect("load");
        },
    );
    println!(
        "install: {install_only:.1} µs median (of which loading the bootstrap module: {bootstrap_load:.1} µs)"
    );
    let bare = measure_run(|_| {});
    let with_install = measure_run(installed);
    println!(
        "runtime + context + drop: {bare:.1} µs; with install: {with_install:.1} µs (medians)"
    );
    let cases: [(&str, &str); 9] = [
        (
            "URL",
            "new URL('https://example.com/a?b=c').searchParams.get('b')",
        ),
        ("TextEncoder", "new TextEncoder().encode('x').length"),
        ("crypto.randomUUID", "crypto.randomUUID().length"),
        ("structuredClone", "structuredClone({ a: 1 }).a"),
        ("Response", "new Response('x').status"),
        ("AbortController", "new AbortController().signal.aborted"),
        (
            "Intl.NumberFormat",
            "new Intl.NumberFormat().format(1234.5)",
        ),
        ("toLocaleString", "(1234.5).toLocaleString()"),
        ("console inspector", "0"),
    ];
    for (name, source) in cases {
        let cost = if name == "console inspector" {
            measure(installed, |ctx| {
                log(ctx, "{ a: 1, b: [1, 2] }");
            })
        } else {
            measure(installed, |ctx| {
                ctx.eval::<rquickjs::Value<'_>, _>(source).expect("eval");
            })
        };
        println!("first use of {name:<18} {cost:.1} µs median");
    }
    let primitive = measure(installed, |ctx| {
        log(ctx, "'count', 1");
    });
    println!(
        "console.log('count', 1) (Rust fast path, incl. building args): {primitive:.1} µs median"
    );
}

#[test]
#[ignore = "measurement, run explicitly with --release"]
fn web_cost_modules() {
    modules::precompile().expect("precompile");
    for name in [
        "inspect", "url", "encoding", "crypto", "clone", "events", "fetch", "request", "intl",
    ] {
        let load = measure(
            |_| {},
            |ctx| {
                modules::load_default(ctx, name).expect("load");
            },
        );
        let size = modules::bytecode_size(name);
        println!("load module {name:<10} {load:.1} µs median ({size} bytes of bytecode)");
    }
}
