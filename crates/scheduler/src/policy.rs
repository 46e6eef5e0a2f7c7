//! The policies as pure functions of what is known: which occurrences are
//! due, which rows a claim writes (overlap and misfire), when a retry runs
//! (exponential backoff with jitter) and a failed attempt's retry.
//! No I/O, no clock: time is an argument, so every rule is unit-tested.

use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};
use store::{
    ClaimedJob, JobSpec, Misfire, NewRun, OccurrenceKind, OccurrencePlan, OccurrenceRow, Overlap,
    RetryPolicy, Run, RunStatus, Trigger,
};

/// Occurrences counted at most when a job was down for long; a missed row
/// then says "at least" this many (counting further costs start-up time).
pub(crate) const MAX_COUNTED_OCCURRENCES: u64 = 100_000;
/// Occurrences kept (the newest) for planning catch-up runs.
const KEPT_OCCURRENCES: usize = 1_000;
/// The longest retry backoff.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(24 * 3600);

/// The occurrences of one job due at a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Due {
    /// The newest due occurrences (at most [`KEPT_OCCURRENCES`]), ascending.
    pub(crate) kept: Vec<Timestamp>,
    /// How many were due in all (capped at [`MAX_COUNTED_OCCURRENCES`]).
    pub(crate) total: u64,
    /// The first occurrence after now: the job's next fire instant.
    pub(crate) next: Option<Timestamp>,
}

/// The occurrences from `first` (the job's pending instant, at or before
/// `now`) up to `now`, and the one after.
pub(crate) fn due_occurrences(
    schedule: &cron::Schedule,
    zone: &TimeZone,
    first: Timestamp,
    now: Timestamp,
) -> Due {
    let mut kept = std::collections::VecDeque::with_capacity(4);
    kept.push_back(first);
    let mut total: u64 = 1;
    let mut next = None;
    for instant in schedule.iter_after(first, zone).map(|z| z.timestamp()) {
        if instant > now {
            next = Some(instant);
            break;
        }
        total += 1;
        kept.push_back(instant);
        if kept.len() > KEPT_OCCURRENCES {
            kept.pop_front();
        }
        if total >= MAX_COUNTED_OCCURRENCES {
            next = schedule.next_after(now, zone).map(|z| z.timestamp());
            break;
        }
    }
    Due {
        kept: kept.into(),
        total,
        next,
    }
}

/// What the plan needs besides the occurrences and the job.
#[derive(Debug, Clone)]
pub(crate) struct PlanRules {
    pub(crate) misfire: Misfire,
    /// When the scheduler started: occurrences before it fell in downtime.
    pub(crate) started: Timestamp,
    pub(crate) misfire_threshold: Duration,
    pub(crate) max_catch_up: usize,
    pub(crate) now: Timestamp,
    pub(crate) node: String,
    pub(crate) lease_until: Timestamp,
}

impl PlanRules {
    /// The same rules for a claim made at `made_at` (never before the
    /// instant it was planned for), its runs leased until `lease_until`.
    pub(crate) fn made_at(&self, made_at: Timestamp, lease_until: Timestamp) -> PlanRules {
        PlanRules {
            now: self.now.max(made_at),
            lease_until: self.lease_until.max(lease_until),
            ..self.clone()
        }
    }
}

/// The job's live runs as the plan adds rows.
#[derive(Debug, Clone, Copy)]
struct Live {
    queued: u64,
    running: u64,
}

/// The rows one claim writes for one job.
///
/// An occurrence the scheduler could not fire at its instant is "late"
/// and follows the misfire policy: one due before the scheduler started
/// (downtime: the process was stopped, restarting or not yet up), one
/// found later than the misfire threshold (a pause, a stalled database),
/// and every due occurrence but the newest (the loop was held up past a
/// later one). Late occurrences are never `skipped`: `skipped` only ever
/// means the job was running. The misfire policy: `run_once` writes one
/// `missed` row counting all but the newest and one catch-up run for the
/// newest (when no on-time one is due); `skip` writes only the `missed`
/// row; `run_all` writes catch-up runs for the newest `max_catch_up` and
/// counts the rest missed. The on-time occurrence, if any, follows the
/// overlap policy against the job's runs as the claim found them, queued
/// behind any catch-up planned before it. A row starts at once on this
/// node (`running`) when `take_worker` grants a free worker and nothing is
/// queued ahead of it; otherwise it is queued.
pub(crate) fn plan(
    due: &Due,
    job: &ClaimedJob,
    rules: &PlanRules,
    take_worker: &mut dyn FnMut() -> bool,
) -> OccurrencePlan {
    let newest = due.kept.last().copied();
    let (late, recent): (Vec<Timestamp>, Vec<Timestamp>) = due.kept.iter().partition(|&&at| {
        at < rules.started
            || Some(at) != newest
            || rules.now.duration_since(at).unsigned_abs() > rules.misfire_threshold
    });
    let late_total = due.total - recent.len() as u64;
    let claimed = Live {
        queued: job.active.queued,
        running: job.active.running,
    };
    let mut planner = Planner {
        rows: Vec::new(),
        cancel_running: false,
        claimed,
        live: claimed,
        overlap: job.overlap,
        rules,
        take_worker,
    };
    if late_total > 0 {
        planner.misfired(&late, late_total, !recent.is_empty());
    }
    for at in recent {
        planner.occurrence(at);
    }
    OccurrencePlan {
        rows: planner.rows,
        cancel_running: planner.cancel_running,
        abandon: false,
    }
}

struct Planner<'a> {
    rows: Vec<OccurrenceRow>,
    cancel_running: bool,
    /// The job's live runs when the claim read them.
    claimed: Live,
    /// Those and the rows planned since.
    live: Live,
    overlap: Overlap,
    rules: &'a PlanRules,
    take_worker: &'a mut dyn FnMut() -> bool,
}

impl Planner<'_> {
    fn misfired(&mut self, late: &[Timestamp], late_total: u64, recent_follows: bool) {
        let Some(&earliest) = late.first() else {
            return;
        };
        match self.rules.misfire {
            Misfire::Skip => self.missed(earliest, late_total),
            Misfire::RunOnce if recent_follows => self.missed(earliest, late_total),
            Misfire::RunOnce => {
                let newest = late[late.len() - 1];
                if late_total > 1 {
                    self.missed(earliest, late_total - 1);
                }
                self.catch_up(newest);
            }
            Misfire::RunAll => {
                // Fewer than the kept occurrences, so the missed row's
                // instant (the earliest kept) is never a catch-up's too.
                let cap = self.rules.max_catch_up.min(KEPT_OCCURRENCES - 1);
                let run = late.len().min(cap);
                let missed = late_total - run as u64;
                if missed > 0 {
                    self.missed(earliest, missed);
                }
                for &at in &late[late.len() - run..] {
                    self.catch_up(at);
                }
            }
        }
    }

    fn missed(&mut self, at: Timestamp, count: u64) {
        self.rows.push(OccurrenceRow {
            scheduled_for: at,
            trigger: Trigger::Schedule,
            kind: OccurrenceKind::Missed { count },
        });
    }

    /// A catch-up run is never skipped: it is the point of the policy.
    fn catch_up(&mut self, at: Timestamp) {
        if self.overlap == Overlap::Replace && self.live.running > 0 {
            self.cancel_running = true;
        }
        let kind = self.start_or_queue();
        self.rows.push(OccurrenceRow {
            scheduled_for: at,
            trigger: Trigger::CatchUp,
            kind,
        });
    }

    /// An on-time occurrence: `skipped` only if the job had a run going
    /// (or, for `queue_one`, one waiting) when it was claimed; catch-ups
    /// planned just before it make it wait behind them instead.
    fn occurrence(&mut self, at: Timestamp) {
        let Live { queued, running } = self.claimed;
        let kind = match self.overlap {
            Overlap::Skip if queued + running > 0 => OccurrenceKind::Skipped,
            Overlap::QueueOne if queued > 0 => OccurrenceKind::Skipped,
            Overlap::Replace if running > 0 => {
                self.cancel_running = true;
                self.queue()
            }
            Overlap::Skip | Overlap::QueueOne | Overlap::Replace | Overlap::Allow => {
                self.start_or_queue()
            }
        };
        self.rows.push(OccurrenceRow {
            scheduled_for: at,
            trigger: Trigger::Schedule,
            kind,
        });
    }

    fn start_or_queue(&mut self) -> OccurrenceKind {
        let may_start = match self.overlap {
            Overlap::Allow => true,
            _ => self.live.queued == 0 && self.live.running == 0,
        };
        if may_start && (self.take_worker)() {
            self.live.running += 1;
            OccurrenceKind::Running {
                node: self.rules.node.clone(),
                lease_until: self.rules.lease_until,
            }
        } else {
            self.queue()
        }
    }

    fn queue(&mut self) -> OccurrenceKind {
        self.live.queued += 1;
        OccurrenceKind::Queued
    }
}

/// The wait before retry number `attempt` (1 for the first retry):
/// `backoff × 2^(attempt−1)`, then "equal jitter" — a random point in its
/// upper half (`jitter` in [0, 1)), so retries of many runs spread out but
/// never come sooner than half the nominal wait. At most 24 hours.
pub(crate) fn retry_delay(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let base = Duration::from_secs(u64::from(policy.backoff_seconds));
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let nominal = base.saturating_mul(factor).min(MAX_RETRY_DELAY);
    nominal.div_f64(2.0) + nominal.div_f64(2.0).mul_f64(jitter.clamp(0.0, 1.0))
}

/// The job's retry of `run` ending in `status`: a failed, timed-out or
/// interrupted attempt is retried after its backoff while attempts remain.
pub(crate) fn retry(
    spec: &JobSpec,
    run: &Run,
    status: RunStatus,
    now: Timestamp,
    jitter: f64,
) -> Option<NewRun> {
    if !status.is_retryable() || run.attempt >= spec.retry.max_attempts {
        return None;
    }
    let delay = retry_delay(&spec.retry, run.attempt, jitter);
    Some(NewRun {
        attempt: run.attempt + 1,
        scheduled_for: run.scheduled_for,
        not_before: now + delay,
        parent_run_id: Some(run.id),
        params: run.params.clone(),
        state: run.state.clone(),
        event: run.event.clone(),
        chain_id: run.chain_id,
        ..NewRun::new(run.job_id, Trigger::Retry, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::ActiveRuns;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn every_second() -> cron::Schedule {
        cron::Schedule::parse("* * * * * *").unwrap()
    }

    fn job(overlap: Overlap, queued: u64, running: u64) -> ClaimedJob {
        ClaimedJob {
            job_id: 1,
            version: 1,
            overlap,
            active: ActiveRuns { queued, running },
            memory_limit_mb: 64,
        }
    }

    fn rules(misfire: Misfire, now: Timestamp) -> PlanRules {
        PlanRules {
            misfire,
            started: t(-1_000_000),
            misfire_threshold: Duration::from_secs(5),
            max_catch_up: 100,
            now,
            node: "n".into(),
            lease_until: now + Duration::from_secs(30),
        }
    }

    /// Kinds of the rows as short words, for readable assertions.
    fn kinds(plan: &OccurrencePlan) -> Vec<String> {
        plan.rows
            .iter()
            .map(|row| match &row.kind {
                OccurrenceKind::Queued => format!("queued@{}", row.trigger),
                OccurrenceKind::Running { .. } => format!("running@{}", row.trigger),
                OccurrenceKind::Skipped => "skipped".into(),
                OccurrenceKind::Missed { count } => format!("missed×{count}"),
            })
            .collect()
    }

    fn plan_with(due: &Due, job: &ClaimedJob, rules: &PlanRules, workers: usize) -> OccurrencePlan {
        let mut free = workers;
        plan(due, job, rules, &mut || {
            let granted = free > 0;
            free = free.saturating_sub(1);
            granted
        })
    }

    #[test]
    fn due_occurrences_counts_the_passed_ones_and_finds_the_next() {
        let due = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(0));
        assert_eq!(due.kept, [t(0)]);
        assert_eq!((due.total, due.next), (1, Some(t(1))));
        let due = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(9));
        assert_eq!(due.total, 10);
        assert_eq!(due.kept.first(), Some(&t(0)));
        assert_eq!(due.kept.last(), Some(&t(9)));
        assert_eq!(due.next, Some(t(10)));
    }

    #[test]
    fn a_long_downtime_keeps_the_newest_occurrences_and_caps_the_count() {
        let due = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(5000));
        assert_eq!(due.total, 5001);
        assert_eq!(due.kept.len(), KEPT_OCCURRENCES);
        assert_eq!(due.kept.last(), Some(&t(5000)));
        let long = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(1_000_000));
        assert_eq!(long.total, MAX_COUNTED_OCCURRENCES);
        assert_eq!(long.next, Some(t(1_000_001)));
    }

    #[test]
    fn an_on_time_occurrence_runs_here_when_a_worker_is_free() {
        let due = Due {
            kept: vec![t(0)],
            total: 1,
            next: Some(t(1)),
        };
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::RunOnce, t(0)),
            1,
        );
        assert_eq!(kinds(&plan), ["running@schedule"]);
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::RunOnce, t(0)),
            0,
        );
        assert_eq!(
            kinds(&plan),
            ["queued@schedule"],
            "no free worker: any node's"
        );
    }

    #[test]
    fn overlap_policies_against_live_runs() {
        let due = Due {
            kept: vec![t(0)],
            total: 1,
            next: Some(t(1)),
        };
        let r = rules(Misfire::RunOnce, t(0));
        let case = |overlap, queued, running| {
            let plan = plan_with(&due, &job(overlap, queued, running), &r, 4);
            (kinds(&plan), plan.cancel_running)
        };
        assert_eq!(
            case(Overlap::Skip, 0, 1),
            (vec!["skipped".to_string()], false)
        );
        assert_eq!(
            case(Overlap::Skip, 1, 0),
            (vec!["skipped".to_string()], false)
        );
        assert_eq!(
            case(Overlap::QueueOne, 0, 1),
            (vec!["queued@schedule".to_string()], false)
        );
        assert_eq!(
            case(Overlap::QueueOne, 1, 1),
            (vec!["skipped".to_string()], false)
        );
        assert_eq!(
            case(Overlap::Allow, 3, 2),
            (vec!["running@schedule".to_string()], false)
        );
        assert_eq!(
            case(Overlap::Replace, 0, 1),
            (vec!["queued@schedule".to_string()], true)
        );
        assert_eq!(
            case(Overlap::Replace, 0, 0),
            (vec!["running@schedule".to_string()], false)
        );
    }

    #[test]
    fn occurrences_the_loop_was_held_past_are_missed_not_skipped() {
        // The loop was held up 2 s: three occurrences due at once. Only the
        // newest is on time; the job was not running at the others, so they
        // are missed (never `skipped`), whatever the overlap policy.
        let due = Due {
            kept: vec![t(0), t(1), t(2)],
            total: 3,
            next: Some(t(3)),
        };
        let r = rules(Misfire::RunOnce, t(2));
        for overlap in [Overlap::Skip, Overlap::QueueOne, Overlap::Allow] {
            let plan = plan_with(&due, &job(overlap, 0, 0), &r, 4);
            assert_eq!(
                kinds(&plan),
                ["missed×2", "running@schedule"],
                "{overlap:?}"
            );
        }
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::RunAll, t(2)),
            4,
        );
        assert_eq!(
            kinds(&plan),
            ["running@catch_up", "queued@catch_up", "queued@schedule"],
            "run_all catches both up; the on-time one waits behind them"
        );
    }

    #[test]
    fn occurrences_due_before_the_scheduler_started_fell_in_its_downtime() {
        // Down from t(-1) to t(5): t(0), t(2) and t(4) were due meanwhile,
        // all within the threshold when the restarted scheduler claims them.
        let due = Due {
            kept: vec![t(0), t(2), t(4)],
            total: 3,
            next: Some(t(6)),
        };
        let mut r = rules(Misfire::RunOnce, t(5));
        r.started = t(5);
        let job = job(Overlap::Skip, 0, 0);
        assert_eq!(
            kinds(&plan_with(&due, &job, &r, 4)),
            ["missed×2", "running@catch_up"]
        );
        r.misfire = Misfire::Skip;
        assert_eq!(kinds(&plan_with(&due, &job, &r, 4)), ["missed×3"]);
        r.misfire = Misfire::RunAll;
        assert_eq!(
            kinds(&plan_with(&due, &job, &r, 4)),
            ["running@catch_up", "queued@catch_up", "queued@catch_up"]
        );
        // An occurrence at the restart instant itself is on time.
        let at_start = Due {
            kept: vec![t(5)],
            total: 1,
            next: Some(t(7)),
        };
        r.misfire = Misfire::RunOnce;
        assert_eq!(
            kinds(&plan_with(&at_start, &job, &r, 4)),
            ["running@schedule"]
        );
    }

    #[test]
    fn misfire_run_once_records_the_missed_and_catches_up_once() {
        let due = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(100));
        let plan = plan_with(
            &due,
            &job(Overlap::Allow, 0, 0),
            &rules(Misfire::RunOnce, t(100)),
            10,
        );
        // Only t(100) is on time: the loop was held up past the others.
        assert_eq!(kinds(&plan), ["missed×100", "running@schedule"]);
        // Only late ones: a missed row for all but the newest and one catch-up.
        let due = Due {
            kept: vec![t(0), t(10), t(20)],
            total: 3,
            next: Some(t(1000)),
        };
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::RunOnce, t(900)),
            1,
        );
        assert_eq!(kinds(&plan), ["missed×2", "running@catch_up"]);
        assert_eq!(plan.rows[0].scheduled_for, t(0));
        assert_eq!(plan.rows[1].scheduled_for, t(20));
        // A single late occurrence: just the catch-up.
        let due = Due {
            kept: vec![t(0)],
            total: 1,
            next: Some(t(1000)),
        };
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 1),
            &rules(Misfire::RunOnce, t(900)),
            1,
        );
        assert_eq!(
            kinds(&plan),
            ["queued@catch_up"],
            "a busy job queues its catch-up"
        );
    }

    #[test]
    fn misfire_skip_records_only_the_missed_row() {
        let due = Due {
            kept: vec![t(0), t(10), t(20)],
            total: 3,
            next: Some(t(1000)),
        };
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::Skip, t(900)),
            1,
        );
        assert_eq!(kinds(&plan), ["missed×3"]);
    }

    #[test]
    fn misfire_run_all_catches_up_at_most_the_cap_and_counts_the_rest() {
        let due = Due {
            kept: vec![t(0), t(10), t(20)],
            total: 3,
            next: Some(t(1000)),
        };
        let plan = plan_with(
            &due,
            &job(Overlap::Skip, 0, 0),
            &rules(Misfire::RunAll, t(900)),
            1,
        );
        assert_eq!(
            kinds(&plan),
            ["running@catch_up", "queued@catch_up", "queued@catch_up"]
        );
        let due = due_occurrences(&every_second(), &TimeZone::UTC, t(0), t(500));
        let mut r = rules(Misfire::RunAll, t(10_000));
        r.max_catch_up = 100;
        let plan = plan_with(&due, &job(Overlap::Skip, 0, 0), &r, 0);
        let k = kinds(&plan);
        assert_eq!(k[0], "missed×401");
        assert_eq!(k.len(), 101);
        assert_eq!(plan.rows[1].scheduled_for, t(401));
        assert_eq!(plan.rows[100].scheduled_for, t(500));
        let instants: std::collections::HashSet<_> =
            plan.rows.iter().map(|r| r.scheduled_for).collect();
        assert_eq!(instants.len(), plan.rows.len(), "one row per instant");
    }

    #[test]
    fn retry_delays_double_with_jitter_in_their_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 10,
            backoff_seconds: 30,
        };
        assert_eq!(retry_delay(&policy, 1, 0.0), Duration::from_secs(15));
        assert_eq!(retry_delay(&policy, 1, 1.0), Duration::from_secs(30));
        assert_eq!(retry_delay(&policy, 2, 0.0), Duration::from_secs(30));
        assert_eq!(retry_delay(&policy, 3, 0.5), Duration::from_secs(90));
        assert_eq!(retry_delay(&policy, 40, 1.0), MAX_RETRY_DELAY);
    }
}
