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

criterion_group!(benches, overhead);
criterion_main!(benches);
