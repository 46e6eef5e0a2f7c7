//! The fixed cost of one run: a fresh engine, the whole API installed, a
//! trivial script, and teardown.
//!
//! `cargo bench -p runtime --bench overhead`

use criterion::{Criterion, criterion_group, criterion_main};
use runtime::{Executor, ExecutorConfig, RunSpec, RunStatus};

fn overhead(c: &mut Criterion) {
    let executor = Executor::new(ExecutorConfig { worker_threads: 1 }).expect("executor starts");
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime to wait on");
    let mut group = c.benchmark_group("run");
    for (name, script) in [
        ("return 1+1", "return 1+1"),
        (
            "module handler",
            "export async function run() { return 1 + 1 }",
        ),
        (
            "route + storage",
            "await kvs.set('k', { n: 1 });\nreturn [route`/rest/api/3/issue/${'A-1'}`.value, await kvs.get('k')]",
        ),
    ] {
        let spec = RunSpec::new(script);
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = waiter.block_on(executor.start(spec.clone()).outcome());
                assert_eq!(outcome.status, RunStatus::Succeeded);
            })
        });
    }
    group.finish();
}

/// The floor under `overhead`: QuickJS alone (runtime, full context,
/// `1+1`, teardown) on the calling thread, for comparing under any load.
fn bare_engine(c: &mut Criterion) {
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime to wait on");
    c.bench_function("bare quickjs: runtime + full context + 1+1 + drop", |b| {
        b.iter(|| {
            waiter.block_on(async {
                let runtime = rquickjs::AsyncRuntime::new().expect("runtime");
                let context = rquickjs::AsyncContext::full(&runtime)
                    .await
                    .expect("context");
                let two: i32 = context
                    .with(|ctx| ctx.eval("1+1"))
                    .await
                    .expect("evaluates");
                assert_eq!(two, 2);
            })
        })
    });
}

criterion_group!(benches, overhead, bare_engine);
criterion_main!(benches);
