//! Chains through a real executor: chunks in order with their state, delays,
//! interrupted chunks resumed, the state limit, overlap with a whole chain,
//! cancelling a chain.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use serde_json::json;
use store::{
    JobEnable, ManualClock, NewRun, Overlap, Run, RunClaim, RunFilter, RunStatus, Trigger,
};

use crate::harness::{TestEnv, eventually, is, next_second, scheduled, spec, wait_for, wait_for_n};

scheduler_tests! {
    a_chain_runs_its_chunks_in_order_each_with_the_state_saved_before_it,
    a_chunk_interrupted_by_shutdown_is_resumed_from_its_own_state,
    a_chunk_of_a_dead_node_is_resumed_though_the_job_has_no_retries,
    a_state_over_one_mib_fails_the_chunk_with_a_clear_error,
    cancelling_a_chain_cancels_its_queued_chunk_and_ends_it,
    overlap_skip_sees_the_whole_chain_as_running,
    overlap_queue_one_waits_for_the_whole_chain,
    overlap_replace_cancels_the_chain,
}

/// Walks `cursor` from 0 to `last`, one chunk per step, `delay` seconds apart.
fn walker(last: u32, delay: u32) -> String {
    format!(
        "const cursor = context.state ? context.state.cursor : 0;\n\
         if (cursor < {last}) context.continueWith({{ cursor: cursor + 1 }}, {{ delaySeconds: {delay} }});\n\
         return {{ cursor, trigger: context.run.trigger }};"
    )
}

async fn job_runs(env: &TestEnv, job_id: i64) -> Vec<Run> {
    let mut runs = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job_id),
            limit: 500,
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    runs.reverse();
    runs
}

async fn chain_ended(env: &TestEnv, chain_id: i64) -> store::Chain {
    let store = env.store.clone();
    eventually("the chain ends", || {
        let store = store.clone();
        async move {
            store
                .chain_summary(chain_id)
                .await
                .unwrap()
                .is_some_and(|chain| chain.status != RunStatus::Running)
        }
    })
    .await;
    env.store.chain_get(chain_id).await.unwrap().unwrap()
}

async fn a_chain_runs_its_chunks_in_order_each_with_the_state_saved_before_it(env: TestEnv) {
    let job = env.create_job(spec("walker", &walker(5, 0)), None).await;
    let handle = env.start(env.config("node-a")).await;
    let first = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    let chain = chain_ended(&env, first.id).await;
    assert_eq!(chain.summary.status, RunStatus::Succeeded);
    assert_eq!(chain.summary.chunks_done, 6);
    assert_eq!(chain.runs.len(), 6);
    for (index, run) in chain.runs.iter().enumerate() {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.chain_id, Some(first.id));
        assert_eq!(run.result.as_ref().unwrap()["cursor"], json!(index));
        if index == 0 {
            assert_eq!(run.trigger, Trigger::Manual);
            assert_eq!(run.state, None);
        } else {
            assert_eq!(run.trigger, Trigger::Continuation);
            assert_eq!(run.state, Some(json!({"cursor": index})));
            assert_eq!(run.parent_run_id, Some(chain.runs[index - 1].id));
            // Strictly one after the other.
            assert!(run.started_at.unwrap() >= chain.runs[index - 1].finished_at.unwrap());
        }
    }
    assert_eq!(
        chain.summary.latest_state_bytes,
        r#"{"cursor":5}"#.len() as u64
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn a_chunk_interrupted_by_shutdown_is_resumed_from_its_own_state(env: TestEnv) {
    // The chunk with cursor 2 hangs on its first attempt only.
    let script = format!(
        "if (context.state && context.state.cursor === 2 && context.run.attempt === 1) \
             await new Promise(() => {{}});\n{}",
        walker(3, 1)
    );
    let job = env.create_job(spec("resumed", &script), None).await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let first = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    let mut delays_checked = 0;
    wait_for_n(&mut events, 3, "three chunks start", is(RunStatus::Running)).await;
    handle.shutdown(Duration::ZERO).await;
    let runs = job_runs(&env, job.id).await;
    assert_eq!(runs.len(), 4, "{runs:?}");
    let hung = &runs[2];
    assert_eq!(hung.status, RunStatus::Interrupted);
    let retry = &runs[3];
    assert_eq!(
        retry.status,
        RunStatus::Queued,
        "queued with the interruption"
    );
    assert_eq!(retry.trigger, Trigger::Retry);
    assert_eq!(retry.attempt, 2);
    assert_eq!(retry.chain_id, Some(first.id));
    assert_eq!(retry.state, Some(json!({"cursor": 2})));

    let handle = env.start(env.config("node-b")).await;
    let chain = chain_ended(&env, first.id).await;
    assert_eq!(chain.summary.status, RunStatus::Succeeded);
    let results: Vec<_> = chain
        .runs
        .iter()
        .filter(|run| run.status == RunStatus::Succeeded)
        .map(|run| run.result.as_ref().unwrap()["cursor"].clone())
        .collect();
    assert_eq!(results, [json!(0), json!(1), json!(2), json!(3)]);
    // A delay is counted from the end of the chunk that asked for it.
    for pair in chain.runs.windows(2) {
        if pair[1].trigger == Trigger::Continuation {
            let waited = pair[1]
                .started_at
                .unwrap()
                .duration_since(pair[0].finished_at.unwrap());
            assert!(waited.as_secs_f64() >= 1.0, "{waited:?}");
            delays_checked += 1;
        }
    }
    assert_eq!(delays_checked, 3);
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn a_chunk_of_a_dead_node_is_resumed_though_the_job_has_no_retries(env: TestEnv) {
    let start = Timestamp::now();
    let clock = Arc::new(ManualClock::new(start));
    let job = env
        .create_job(spec("orphaned-chunk", &walker(4, 0)), None)
        .await;
    assert_eq!(job.spec.retry.max_attempts, 1, "no retries configured");
    // A chunk (cursor 3) a node claimed before it died.
    env.store
        .run_insert(&NewRun {
            state: Some(json!({"cursor": 3})),
            chain_id: Some(999),
            ..NewRun::new(job.id, Trigger::Continuation, start)
        })
        .await
        .unwrap();
    let claimed = env
        .store
        .runs_claim_queued(&RunClaim {
            node: "dead-node".into(),
            now: start,
            lease_until: start + Duration::from_secs(10),
            limit: 1,
        })
        .await
        .unwrap();
    let orphan = claimed[0].run.id;
    clock.advance(Duration::from_secs(11));
    let handle = env
        .start_with_clock(env.config("node-a"), clock.clone())
        .await;
    let chain = chain_ended(&env, 999).await;
    assert_eq!(chain.runs[0].id, orphan);
    assert_eq!(chain.runs[0].status, RunStatus::Interrupted);
    let resumed = &chain.runs[1];
    assert_eq!(resumed.trigger, Trigger::Retry);
    assert_eq!(resumed.attempt, 2);
    assert_eq!(resumed.state, Some(json!({"cursor": 3})));
    assert_eq!(resumed.result.as_ref().unwrap()["cursor"], json!(3));
    assert_eq!(chain.runs.len(), 3, "then the last chunk: {:?}", chain.runs);
    assert_eq!(chain.summary.status, RunStatus::Succeeded);
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn a_state_over_one_mib_fails_the_chunk_with_a_clear_error(env: TestEnv) {
    let job = env
        .create_job(
            spec(
                "heavy",
                "context.continueWith({ blob: 'x'.repeat(1024 * 1024) }); return 1",
            ),
            None,
        )
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    let ended = wait_for(&mut events, "it ends", |e| {
        e.run_id == run.id && e.status.is_terminal()
    })
    .await;
    assert_eq!(ended.status, RunStatus::Failed);
    let run = env.store.run_get(run.id).await.unwrap().unwrap();
    let message = run.error.unwrap().message;
    assert!(message.contains("1 MiB"), "{message}");
    assert_eq!(run.chain_id, None);
    assert_eq!(job_runs(&env, job.id).await.len(), 1, "no next chunk");
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn cancelling_a_chain_cancels_its_queued_chunk_and_ends_it(env: TestEnv) {
    let job = env
        .create_job(spec("long-wait", &walker(3, 3600)), None)
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let first = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "the next chunk is queued", |e| {
        e.trigger == Trigger::Continuation && e.status == RunStatus::Queued
    })
    .await;
    assert!(handle.cancel_chain(first.id).await.unwrap());
    let chain = env.store.chain_get(first.id).await.unwrap().unwrap();
    assert_eq!(chain.summary.status, RunStatus::Cancelled);
    assert_eq!(
        chain.runs.iter().map(|run| run.status).collect::<Vec<_>>(),
        [RunStatus::Succeeded, RunStatus::Cancelled]
    );
    assert!(
        !handle.cancel_chain(first.id).await.unwrap(),
        "already ended"
    );
    assert!(!handle.cancel_chain(424242).await.unwrap(), "no such chain");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// A job firing every second whose every occurrence starts a three-chunk
/// chain with 1 s between chunks; paused once `enough` holds.
async fn overlapping(
    env: &TestEnv,
    name: &str,
    overlap: Overlap,
    enough: impl Fn(&[Run]) -> bool,
) -> Vec<Run> {
    let mut job = scheduled(name, "* * * * * *", &walker(2, 1));
    job.overlap = overlap;
    let job = env
        .create_job(job, Some(next_second(Duration::from_millis(300))))
        .await;
    let handle = env.start(env.config("node-a")).await;
    let store = env.store.clone();
    let job_id = job.id;
    let enough = &enough;
    eventually("enough runs", || {
        let store = store.clone();
        async move {
            let mut runs = store
                .runs_list(&RunFilter {
                    job_id: Some(job_id),
                    limit: 500,
                    ..RunFilter::default()
                })
                .await
                .unwrap()
                .items;
            runs.reverse();
            enough(&runs)
        }
    })
    .await;
    env.store
        .job_set_enabled(&JobEnable {
            id: job.id,
            enabled: false,
            next_fire_at: None,
            actor: "test".into(),
        })
        .await
        .unwrap();
    handle.job_changed(job.id);
    let store = env.store.clone();
    eventually("nothing is live", || {
        let store = store.clone();
        async move {
            let active = store.runs_active_count(job_id).await.unwrap();
            active.queued + active.running == 0
        }
    })
    .await;
    handle.shutdown(Duration::from_secs(1)).await;
    job_runs(env, job.id).await
}

/// (start, end) of each run that ran.
fn spans(runs: &[Run]) -> Vec<(i64, Timestamp, Timestamp)> {
    runs.iter()
        .filter_map(|run| Some((run.id, run.started_at?, run.finished_at?)))
        .collect()
}

fn assert_one_at_a_time(runs: &[Run]) {
    let mut spans = spans(runs);
    spans.sort_by_key(|span| span.1);
    for pair in spans.windows(2) {
        assert!(pair[1].1 >= pair[0].2, "runs overlap: {pair:?}");
    }
}

/// Each chain's runs, by chain id.
fn chains(runs: &[Run]) -> std::collections::BTreeMap<i64, Vec<&Run>> {
    let mut chains = std::collections::BTreeMap::<i64, Vec<&Run>>::new();
    for run in runs {
        if let Some(chain) = run.chain_id {
            chains.entry(chain).or_default().push(run);
        }
    }
    chains
}

async fn overlap_skip_sees_the_whole_chain_as_running(env: TestEnv) {
    let runs = overlapping(&env, "skip", Overlap::Skip, |runs| {
        chains(runs)
            .values()
            .filter(|chain| chain.len() == 3 && chain.iter().all(|r| r.status.is_terminal()))
            .count()
            >= 2
    })
    .await;
    assert_one_at_a_time(&runs);
    assert!(
        runs.iter().any(|run| run.status == RunStatus::Skipped),
        "occurrences during a chain are skipped: {runs:?}"
    );
    // Every occurrence that ran started a chain of its own, whole.
    for chain in chains(&runs).values() {
        let done: Vec<_> = chain
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .collect();
        if done.len() == 3 {
            assert_eq!(done[0].trigger, Trigger::Schedule);
        }
    }
}

async fn overlap_queue_one_waits_for_the_whole_chain(env: TestEnv) {
    let runs = overlapping(&env, "queue-one", Overlap::QueueOne, |runs| {
        chains(runs).len() >= 2
    })
    .await;
    assert_one_at_a_time(&runs);
    let chains = chains(&runs);
    let first: Vec<_> = chains.values().next().unwrap().clone();
    assert_eq!(first.len(), 3, "{first:?}");
    let first_end = first[2].finished_at.unwrap();
    // The occurrence queued during the first chain ran after all of it.
    let second_start = chains.keys().nth(1).unwrap();
    let second = runs.iter().find(|run| run.id == *second_start).unwrap();
    assert_eq!(second.trigger, Trigger::Schedule);
    assert!(
        second.queued_at < first_end,
        "queued while the chain went on"
    );
    assert!(second.started_at.unwrap() >= first_end);
}

async fn overlap_replace_cancels_the_chain(env: TestEnv) {
    let runs = overlapping(&env, "replace", Overlap::Replace, |runs| {
        chains(runs)
            .values()
            .any(|chain| chain.iter().any(|r| r.status == RunStatus::Cancelled))
    })
    .await;
    assert_one_at_a_time(&runs);
    let replaced = chains(&runs)
        .into_iter()
        .find(|(_, chain)| chain.iter().any(|r| r.status == RunStatus::Cancelled))
        .unwrap()
        .0;
    let chain = env.store.chain_summary(replaced).await.unwrap().unwrap();
    assert_eq!(chain.status, RunStatus::Cancelled);
    assert!(chain.chunks_done < 3, "the chain was cut short: {chain:?}");
}
