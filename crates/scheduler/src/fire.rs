//! Exact firing: an in-memory min-heap of each scheduled job's pending
//! occurrence, built from the database; the loop sleeps until shortly
//! before the earliest instant (no polling tick, see
//! [`SchedulerConfig::claim_ahead`](crate::SchedulerConfig)), claims every
//! occurrence of that instant — in batches, one transaction each — and
//! starts the claimed runs on free workers exactly at the instant, the
//! database work already done. Overdue occurrences are claimed at once.
//! Job changes wake it; a lost claim means another node fired the
//! occurrence (or the job changed), so the job is re-read.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use jiff::{Timestamp, tz::TimeZone};
use store::{
    ClaimedOccurrences, Engine, Misfire, OccurrenceClaim, RunStatus, ScheduledJob, StoreError,
};
use tokio::sync::mpsc;

use crate::{
    budget::Slot,
    core::{Core, far_future},
    ended::run_ended,
    events::RunEvent,
    live::StopReason,
    policy::{self, Due, PlanRules},
    workers::{Start, start_batch_at},
};

/// Wait before retrying occurrences whose claim failed (database error).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// What the loop is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FireCommand {
    /// Re-read one job (created, edited, paused, resumed, deleted).
    JobChanged(i64),
    /// Re-read every job (notifications may have been lost).
    ReloadAll,
    /// Look at the clock again (it may have jumped).
    Poke,
}

/// A scheduled job as the loop keeps it.
struct Entry {
    /// The job's `next_fire_at` in the database: what a claim expects.
    expected: Timestamp,
    schedule: Arc<cron::Schedule>,
    zone: TimeZone,
    misfire: Misfire,
    /// Heap items of older generations are stale.
    generation: u64,
}

pub(crate) struct FireLoop {
    core: Arc<Core>,
    jobs: HashMap<i64, Entry>,
    /// (wake-up instant in ms, job, generation), earliest first.
    heap: BinaryHeap<Reverse<(i64, i64, u64)>>,
    generation: u64,
    schedules: HashMap<String, Arc<cron::Schedule>>,
    zones: HashMap<String, TimeZone>,
}

impl FireLoop {
    /// Builds the heap from every enabled scheduled job.
    pub(crate) async fn load(core: Arc<Core>) -> Result<FireLoop, StoreError> {
        let mut fire = FireLoop {
            core,
            jobs: HashMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
            schedules: HashMap::new(),
            zones: HashMap::new(),
        };
        fire.reload_all().await?;
        Ok(fire)
    }

    /// How many jobs the loop is waiting on.
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    async fn reload_all(&mut self) -> Result<(), StoreError> {
        let jobs = self.core.store.jobs_scheduled().await?;
        self.jobs.clear();
        self.heap.clear();
        self.heap.reserve(jobs.len());
        self.jobs.reserve(jobs.len());
        for job in jobs {
            self.upsert(job);
        }
        Ok(())
    }

    async fn reload_job(&mut self, id: i64) {
        match self.core.store.job_scheduled(id).await {
            Ok(Some(job)) => self.upsert(job),
            Ok(None) => {
                self.jobs.remove(&id);
            }
            Err(error) => {
                tracing::warn!(%error, job = id, "cannot re-read a changed job; retrying");
                if let Some(entry) = self.jobs.get(&id) {
                    let retry = self.core.now() + RETRY_AFTER_ERROR;
                    let expected = entry.expected;
                    self.push(id, retry.max(expected));
                }
            }
        }
    }

    fn upsert(&mut self, job: ScheduledJob) {
        let Some(next) = job.next_fire_at else {
            self.jobs.remove(&job.id);
            return;
        };
        let (schedule, zone) = match self.parse(&job.schedule.cron, &job.schedule.timezone) {
            Ok(parsed) => parsed,
            Err(reason) => {
                tracing::warn!(job = job.id, %reason, "job has an invalid schedule; it will not fire");
                self.jobs.remove(&job.id);
                return;
            }
        };
        self.jobs.insert(
            job.id,
            Entry {
                expected: next,
                schedule,
                zone,
                misfire: job.misfire,
                generation: 0,
            },
        );
        self.push(job.id, next);
    }

    /// Parses (once per distinct text) an expression and a zone.
    fn parse(&mut self, cron: &str, zone: &str) -> Result<(Arc<cron::Schedule>, TimeZone), String> {
        let schedule = match self.schedules.get(cron) {
            Some(schedule) => schedule.clone(),
            None => {
                let parsed = Arc::new(cron::Schedule::parse(cron).map_err(|e| e.to_string())?);
                self.schedules.insert(cron.to_string(), parsed.clone());
                parsed
            }
        };
        let zone = match self.zones.get(zone) {
            Some(zone) => zone.clone(),
            None => {
                let parsed = cron::time_zone(zone).map_err(|e| e.to_string())?;
                self.zones.insert(zone.to_string(), parsed.clone());
                parsed
            }
        };
        Ok((schedule, zone))
    }

    /// Makes `wake` the job's one live heap item.
    fn push(&mut self, id: i64, wake: Timestamp) {
        self.generation += 1;
        if let Some(entry) = self.jobs.get_mut(&id) {
            entry.generation = self.generation;
            self.heap
                .push(Reverse((wake.as_millisecond(), id, self.generation)));
        }
    }

    /// The earliest live wake-up, dropping stale items.
    fn peek(&mut self) -> Option<i64> {
        while let Some(&Reverse((wake, id, generation))) = self.heap.peek() {
            match self.jobs.get(&id) {
                Some(entry) if entry.generation == generation => return Some(wake),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<FireCommand>) {
        let mut stopping = self.core.stopping.subscribe();
        let backstop = match self.core.store.engine() {
            Engine::Postgres => self.core.config.backstop_poll,
            Engine::Sqlite => Duration::from_secs(86_400 * 365),
        };
        let mut next_backstop = tokio::time::Instant::now() + backstop;
        loop {
            if self.core.is_stopping() {
                return;
            }
            let ahead = self.core.config.claim_ahead;
            let wake = self
                .peek()
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .map_or_else(far_future, |at| self.core.deadline(at - ahead));
            tokio::select! {
                biased;
                _ = stopping.changed() => {}
                command = commands.recv() => match command {
                    None => return,
                    Some(FireCommand::JobChanged(id)) => self.reload_job(id).await,
                    Some(FireCommand::ReloadAll) => self.backstop().await,
                    Some(FireCommand::Poke) => {}
                },
                _ = tokio::time::sleep_until(wake) => self.fire_due().await,
                _ = tokio::time::sleep_until(next_backstop) => {
                    next_backstop = tokio::time::Instant::now() + backstop;
                    self.backstop().await;
                }
            }
        }
    }

    async fn backstop(&mut self) {
        if let Err(error) = self.reload_all().await {
            tracing::warn!(%error, "cannot re-read the scheduled jobs");
        }
    }

    /// Claims every occurrence due now or within the claim-ahead window,
    /// one instant and one batch per transaction.
    async fn fire_due(&mut self) {
        loop {
            let Some((at, batch)) = self.take_due(self.core.now()) else {
                return;
            };
            let full = batch.len() == self.core.config.claim_batch;
            self.claim(batch, at).await;
            if self.core.is_stopping() || (!full && self.peek().is_none()) {
                return;
            }
        }
    }

    /// The instant to claim at and up to a batch of jobs due by then with
    /// their due occurrences: every overdue job (claimed as of now), or else
    /// the jobs due at the earliest instant within the claim-ahead window.
    fn take_due(&mut self, now: Timestamp) -> Option<(Timestamp, Vec<(i64, Due)>)> {
        let earliest = self.peek()?;
        let horizon = (now + self.core.config.claim_ahead).as_millisecond();
        let at = if earliest <= now.as_millisecond() {
            now
        } else if earliest <= horizon {
            Timestamp::from_millisecond(earliest).ok()?
        } else {
            return None;
        };
        let mut batch = Vec::new();
        while batch.len() < self.core.config.claim_batch {
            let Some(wake) = self.peek() else { break };
            if wake > at.as_millisecond() {
                break;
            }
            let Some(Reverse((_, id, _))) = self.heap.pop() else {
                break;
            };
            let Some(entry) = self.jobs.get(&id) else {
                continue;
            };
            let due = policy::due_occurrences(&entry.schedule, &entry.zone, entry.expected, at);
            batch.push((id, due));
        }
        Some((at, batch))
    }

    async fn claim(&mut self, batch: Vec<(i64, Due)>, now: Timestamp) {
        let core = self.core.clone();
        let claims: Vec<OccurrenceClaim> = batch
            .iter()
            .filter_map(|(id, due)| {
                self.jobs.get(id).map(|entry| OccurrenceClaim {
                    job_id: *id,
                    expected_next_fire_at: entry.expected,
                    new_next_fire_at: due.next,
                })
            })
            .collect();
        let plans: HashMap<i64, (&Due, PlanRules)> = batch
            .iter()
            .filter_map(|(id, due)| {
                let misfire = self.jobs.get(id)?.misfire;
                Some((*id, (due, self.rules(misfire, now))))
            })
            .collect();
        let mut slots: Vec<Slot> = Vec::new();
        let claimed = core
            .store
            .occurrences_claim(&claims, now, |claim, job| {
                let Some((due, rules)) = plans.get(&claim.job_id) else {
                    return store::OccurrencePlan::default();
                };
                // Lateness is judged when the claim is made, not when it was
                // planned: a claim that waited for the database (an outage)
                // until the job's next occurrence came is stale. It is
                // abandoned and made again at once with everything due by
                // now, so those occurrences follow the misfire policy instead
                // of one running late as if on time and the next being
                // `skipped` behind it.
                let made_at = core.now();
                if due.next.is_some_and(|next| next <= made_at) {
                    return store::OccurrencePlan {
                        abandon: true,
                        ..store::OccurrencePlan::default()
                    };
                }
                let rules = &rules.made_at(made_at, core.lease_until(made_at));
                // A run starts now only if a worker and its memory are free;
                // otherwise it is queued for the feeder.
                let memory_limit_mb = job.memory_limit_mb;
                let mut take_worker = || match core.budget.take(memory_limit_mb) {
                    Some(slot) => {
                        slots.push(slot);
                        true
                    }
                    None => false,
                };
                let job = core.unwritten_ends.discount(job);
                policy::plan(due, &job, rules, &mut take_worker)
            })
            .await;
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(StoreError::ClaimAbandoned) => {
                tracing::info!(
                    jobs = claims.len(),
                    "a claim waited for the database past the next occurrence; claiming again with what is due now"
                );
                let retry = self.core.now();
                for claim in &claims {
                    self.push(claim.job_id, retry);
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, jobs = claims.len(), "cannot claim due occurrences; retrying");
                for claim in &claims {
                    self.push(claim.job_id, now + RETRY_AFTER_ERROR);
                }
                return;
            }
        };
        let won: HashSet<i64> = claimed.iter().map(|c| c.job_id).collect();
        let next_by_job: HashMap<i64, Option<Timestamp>> =
            batch.iter().map(|(id, due)| (*id, due.next)).collect();
        let mut slots = slots.into_iter();
        let mut starts = Vec::new();
        let mut queued_any = false;
        for occurrences in claimed {
            match next_by_job.get(&occurrences.job_id).copied().flatten() {
                Some(next) => {
                    if let Some(entry) = self.jobs.get_mut(&occurrences.job_id) {
                        entry.expected = next;
                    }
                    self.push(occurrences.job_id, next);
                }
                None => {
                    self.jobs.remove(&occurrences.job_id);
                }
            }
            queued_any |= self
                .dispatch(occurrences, &mut slots, &mut starts, now)
                .await;
        }
        start_batch_at(&self.core, starts, now);
        for claim in claims.iter().filter(|c| !won.contains(&c.job_id)) {
            self.reload_job(claim.job_id).await;
        }
        if queued_any {
            self.core.wake_feeder.notify_one();
        }
    }

    fn rules(&self, misfire: Misfire, now: Timestamp) -> PlanRules {
        let config = &self.core.config;
        PlanRules {
            misfire,
            started: self.core.started,
            misfire_threshold: config.misfire_threshold,
            max_catch_up: config.max_catch_up,
            now,
            node: config.node_id.clone(),
            lease_until: self.core.lease_until(now),
        }
    }

    /// Collects the rows inserted running here into `starts`, reports the
    /// others, and stops the runs a `replace` cancelled on this node.
    /// Returns whether any row was queued.
    async fn dispatch(
        &self,
        occurrences: ClaimedOccurrences,
        slots: &mut impl Iterator<Item = Slot>,
        starts: &mut Vec<Start>,
        now: Timestamp,
    ) -> bool {
        let core = &self.core;
        let mut queued = false;
        let mut spec = occurrences.spec;
        for run in occurrences.runs {
            match run.status {
                RunStatus::Running => {
                    let Some(slot) = slots.next() else {
                        // Cannot happen: each running row took one slot.
                        tracing::error!(run = run.id, "a run claimed to start here has no worker");
                        continue;
                    };
                    if spec.is_none() {
                        spec = core
                            .store
                            .job_version(run.job_id, run.job_version)
                            .await
                            .ok()
                            .flatten()
                            .map(|version| version.spec);
                    }
                    match &spec {
                        Some(spec) => starts.push(Start {
                            run,
                            spec: spec.clone(),
                            slot,
                        }),
                        // Its lease will expire and the sweeper interrupts it.
                        None => {
                            tracing::error!(run = run.id, "cannot read the spec of a claimed run")
                        }
                    }
                }
                status if status.is_terminal() => run_ended(core, &run, status, now, None),
                status => {
                    queued |= status == RunStatus::Queued;
                    core.events.send(RunEvent::of(&run, status, now));
                }
            }
        }
        for (run_id, node) in occurrences.cancel_requested {
            if node == core.config.node_id {
                core.live.stop(run_id, StopReason::Cancelled);
            }
        }
        queued
    }
}
