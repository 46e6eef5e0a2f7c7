//! What the web UI's jobs page reads: a page of jobs filtered by search,
//! enabled and newest-run status, the total matching, and each job's 20
//! newest runs in one query — checked on 10,000 jobs and ~120,000 runs
//! written straight into the database — and all of it with each job's mean
//! duration and newest chain in one read ([`store::Store::jobs_overview`]).

use store::{JobFilter, LastRunFilter, NewJob, RunStatus};

use crate::{fixtures::scheduled_spec, harness::TestDb};

store_tests! {
    ten_thousand_jobs_page_with_their_recent_runs_and_totals,
}

const JOBS: i64 = 10_000;
/// Job `i` has `i % 25` runs: some none, some fewer than 20, some more.
fn runs_of(i: i64) -> i64 {
    i % 25
}
/// Run `k` (1 = oldest) of job `i`.
fn status_of(i: i64, k: i64) -> &'static str {
    if (i + k) % 3 == 0 {
        "failed"
    } else {
        "succeeded"
    }
}
fn duration_of(i: i64, k: i64) -> i64 {
    (i % 7) * 10 + k
}
/// Job `i`'s id; its run `k` has id `i * 100 + k`.
fn job_id(i: i64) -> i64 {
    i + 10
}

async fn fill(db: &TestDb) {
    // A job made by the store gives the spec every other job copies.
    let template = db
        .store
        .job_create(&NewJob {
            spec: scheduled_spec("template"),
            next_fire_at: None,
            actor: "test".into(),
        })
        .await
        .unwrap();
    let sqlite = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {JOBS}) \
         INSERT INTO jobs (id, name, version, enabled, overlap, misfire, keep_runs, keep_days, \
             created_at_ms, updated_at_ms) \
         SELECT i + 10, printf('job-%05d', i), 1, i % 2, 'skip', 'run_once', 1000, 30, 0, 0 FROM n; \
         INSERT INTO job_versions (job_id, version, spec, actor, created_at_ms) \
         SELECT j.id, 1, json_set(t.spec, '$.name', j.name), 'test', 0 \
         FROM jobs j, (SELECT spec FROM job_versions WHERE job_id = {template}) t \
         WHERE j.id <> {template}; \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {JOBS}), \
              k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < 24) \
         INSERT INTO runs (id, job_id, job_version, trigger, status, attempt, queued_at_ms, \
             not_before_ms, started_at_ms, finished_at_ms) \
         SELECT i * 100 + k, i + 10, 1, 'manual', \
             CASE WHEN (i + k) % 3 = 0 THEN 'failed' ELSE 'succeeded' END, 1, k * 1000, \
             k * 1000, k * 1000, k * 1000 + (i % 7) * 10 + k \
         FROM n, k WHERE k <= i % 25; \
         DELETE FROM jobs WHERE id = {template};",
        template = template.id
    );
    let postgres = format!(
        "INSERT INTO jobs (id, name, version, enabled, overlap, misfire, keep_runs, keep_days, \
             created_at_ms, updated_at_ms) \
         SELECT i + 10, 'job-' || lpad(i::text, 5, '0'), 1, i % 2 = 1, 'skip', 'run_once', \
             1000, 30, 0, 0 FROM generate_series(1, {JOBS}) i; \
         INSERT INTO job_versions (job_id, version, spec, actor, created_at_ms) \
         SELECT j.id, 1, jsonb_set(t.spec::jsonb, '{{name}}', to_jsonb(j.name::text))::text, \
             'test', 0 \
         FROM jobs j, (SELECT spec FROM job_versions WHERE job_id = {template}) t \
         WHERE j.id <> {template}; \
         INSERT INTO runs (id, job_id, job_version, trigger, status, attempt, queued_at_ms, \
             not_before_ms, started_at_ms, finished_at_ms) \
         SELECT i * 100 + k, i + 10, 1, 'manual', \
             CASE WHEN (i + k) % 3 = 0 THEN 'failed' ELSE 'succeeded' END, 1, k * 1000, \
             k * 1000, k * 1000, k * 1000 + (i % 7) * 10 + k \
         FROM generate_series(1, {JOBS}) i, generate_series(1, 24) k WHERE k <= i % 25; \
         DELETE FROM jobs WHERE id = {template}; ANALYZE;",
        template = template.id
    );
    db.execute_raw(&sqlite, &postgres).await;
}

async fn ten_thousand_jobs_page_with_their_recent_runs_and_totals(db: TestDb) {
    fill(&db).await;
    let all = JobFilter::default();
    assert_eq!(db.store.job_count(&all).await.unwrap(), JOBS as u64);

    // The first page, and the recent runs of exactly its jobs.
    let page = db
        .store
        .job_list(&JobFilter {
            limit: 50,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let names: Vec<String> = page.items.iter().map(|j| j.spec.name.clone()).collect();
    let expected: Vec<String> = (1..=50).map(|i| format!("job-{i:05}")).collect();
    assert_eq!(names, expected);
    let ids: Vec<i64> = page.items.iter().map(|j| j.id).collect();
    let recent = db.store.runs_recent_of_jobs(&ids, 20).await.unwrap();
    for i in 1..=50 {
        let runs = recent.get(&job_id(i)).cloned().unwrap_or_default();
        let n = runs_of(i);
        let expected_ids: Vec<i64> = (1..=n).rev().take(20).map(|k| i * 100 + k).collect();
        let got_ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        assert_eq!(got_ids, expected_ids, "job {i}: newest first, at most 20");
        for run in &runs {
            let k = run.id - i * 100;
            assert_eq!(run.status.as_str(), status_of(i, k), "run {}", run.id);
            assert_eq!(run.duration_ms, Some(duration_of(i, k)), "run {}", run.id);
        }
    }
    assert!(
        recent.keys().all(|id| ids.contains(id)),
        "only the page's jobs"
    );

    // A later page, through the cursor, with its own runs.
    let mut cursor = page.next_cursor.clone();
    for _ in 0..3 {
        let next = db
            .store
            .job_list(&JobFilter {
                limit: 500,
                cursor: cursor.clone(),
                ..JobFilter::default()
            })
            .await
            .unwrap();
        cursor = next.next_cursor;
    }
    let page = db
        .store
        .job_list(&JobFilter {
            limit: 10,
            cursor,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items[0].spec.name, "job-01551");
    let ids: Vec<i64> = page.items.iter().map(|j| j.id).collect();
    let recent = db.store.runs_recent_of_jobs(&ids, 20).await.unwrap();
    let i = 1551;
    assert_eq!(
        recent.get(&job_id(i)).map_or(0, Vec::len) as i64,
        runs_of(i).min(20)
    );

    // Filters on the newest run's status, with their totals.
    let never = JobFilter {
        last_run: Some(LastRunFilter::Never),
        limit: 500,
        ..JobFilter::default()
    };
    let expected_never: Vec<String> = (1..=JOBS)
        .filter(|i| runs_of(*i) == 0)
        .map(|i| format!("job-{i:05}"))
        .collect();
    assert_eq!(
        db.store.job_count(&never).await.unwrap(),
        expected_never.len() as u64
    );
    let listed = db.store.job_list(&never).await.unwrap();
    let listed: Vec<String> = listed.items.into_iter().map(|j| j.spec.name).collect();
    assert_eq!(listed, expected_never);

    let failed = JobFilter {
        last_run: Some(LastRunFilter::Status(RunStatus::Failed)),
        search: Some("job-00".into()),
        enabled: Some(true),
        limit: 500,
        ..JobFilter::default()
    };
    let expected_failed: Vec<String> = (1..=999)
        .filter(|i| i % 2 == 1 && runs_of(*i) > 0 && status_of(*i, runs_of(*i)) == "failed")
        .map(|i| format!("job-{i:05}"))
        .collect();
    assert_eq!(
        db.store.job_count(&failed).await.unwrap(),
        expected_failed.len() as u64
    );
    let listed = db.store.job_list(&failed).await.unwrap();
    assert!(listed.items.iter().all(|job| {
        job.last_run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Failed)
    }));
    let listed: Vec<String> = listed.items.into_iter().map(|j| j.spec.name).collect();
    assert_eq!(listed, expected_failed);

    // Nothing asked, nothing read.
    assert!(
        db.store
            .runs_recent_of_jobs(&[], 20)
            .await
            .unwrap()
            .is_empty()
    );

    overview_is_the_page_with_means_and_newest_chains(&db).await;
}

/// `jobs_overview` reads what the page, the count, the recent runs and one
/// `chain_newest_of_job` per job read: checked against them, with chains
/// made of the runs of some jobs (two chains for some).
async fn overview_is_the_page_with_means_and_newest_chains(db: &TestDb) {
    // Job i (i % 4 == 3) has a chain of its runs 1-3; when i % 8 == 3 also
    // a newer one of its runs 4 and up.
    db.execute_raw(
        "UPDATE runs SET chain_id = (job_id - 10) * 100 + 1 \
             WHERE (job_id - 10) % 4 = 3 AND id - (job_id - 10) * 100 <= 3; \
         UPDATE runs SET chain_id = (job_id - 10) * 100 + 4 \
             WHERE (job_id - 10) % 8 = 3 AND id - (job_id - 10) * 100 >= 4;",
        "UPDATE runs SET chain_id = (job_id - 10) * 100 + 1 \
             WHERE (job_id - 10) % 4 = 3 AND id - (job_id - 10) * 100 <= 3; \
         UPDATE runs SET chain_id = (job_id - 10) * 100 + 4 \
             WHERE (job_id - 10) % 8 = 3 AND id - (job_id - 10) * 100 >= 4;",
    )
    .await;
    let filter = JobFilter {
        limit: 60,
        search: Some("job-0".into()),
        ..JobFilter::default()
    };
    let overview = db.store.jobs_overview(&filter, 20).await.unwrap();
    let page = db.store.job_list(&filter).await.unwrap();
    assert_eq!(overview.total, db.store.job_count(&filter).await.unwrap());
    assert_eq!(overview.page.next_cursor, page.next_cursor);
    let ids: Vec<i64> = page.items.iter().map(|j| j.id).collect();
    let mut recent = db.store.runs_recent_of_jobs(&ids, 20).await.unwrap();
    assert_eq!(overview.page.items.len(), page.items.len());
    let mut chains = 0;
    for (item, job) in overview.page.items.iter().zip(page.items) {
        let i = job.id - 10;
        let runs = recent.remove(&job.id).unwrap_or_default();
        let durations: Vec<i64> = (1..=runs_of(i))
            .rev()
            .take(20)
            .map(|k| duration_of(i, k))
            .collect();
        let mean = (!durations.is_empty()).then(|| {
            let n = durations.len() as i64;
            (durations.iter().sum::<i64>() + n / 2) / n
        });
        assert_eq!(item.avg_duration_ms, mean, "job {i}");
        assert_eq!(item.recent_runs, runs, "job {i}");
        let newest = db.store.chain_newest_of_job(job.id).await.unwrap();
        assert_eq!(item.newest_chain, newest, "job {i}");
        if let Some(chain) = &newest {
            chains += 1;
            let first = if i % 8 == 3 && runs_of(i) >= 4 { 4 } else { 1 };
            assert_eq!(chain.id, i * 100 + first, "job {i}: its newest chain");
        }
        assert_eq!(item.job, job);
    }
    assert!(chains > 5, "only {chains} chains on the page");
}
