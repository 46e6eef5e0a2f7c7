//! What a live run holds on its node: a worker, and its memory limit's
//! share of the node's memory budget. A run starts only when both are
//! free; otherwise it stays `queued` (for this node later, or any node with
//! room), so the memory the live runs' limits add up to never exceeds the
//! budget.

use std::{collections::HashMap, sync::Arc};

use store::{ClaimCandidate, JobSpec};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The workers and memory (in MiB) of one node.
pub(crate) struct Budget {
    workers: Arc<Semaphore>,
    memory: Arc<Semaphore>,
    total_memory_mb: u32,
}

/// A live run's share of the node: released when dropped.
pub(crate) struct Slot {
    _worker: OwnedSemaphorePermit,
    /// `None` for a run that is refused (its limit exceeds the whole budget).
    _memory: Option<OwnedSemaphorePermit>,
}

/// The workers a feeder's claim took, and the memory it reserved for each
/// run it accepted, by run id.
pub(crate) struct ClaimReservation {
    workers: OwnedSemaphorePermit,
    memory: HashMap<i64, Option<OwnedSemaphorePermit>>,
    /// Takes a worker with each run it accepts (none up front).
    grows: bool,
}

impl Budget {
    pub(crate) fn new(workers: usize, total_memory_mb: u32) -> Budget {
        let memory = usize::try_from(total_memory_mb)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Budget {
            workers: Arc::new(Semaphore::new(workers.max(1))),
            memory: Arc::new(Semaphore::new(memory)),
            total_memory_mb,
        }
    }

    /// Workers free now.
    pub(crate) fn free_workers(&self) -> usize {
        self.workers.available_permits()
    }

    /// A worker and `memory_limit_mb` of the budget, if both are free now.
    pub(crate) fn take(&self, memory_limit_mb: u32) -> Option<Slot> {
        let worker = self.workers.clone().try_acquire_owned().ok()?;
        let memory = self
            .memory
            .clone()
            .try_acquire_many_owned(memory_limit_mb)
            .ok()?;
        Some(Slot {
            _worker: worker,
            _memory: Some(memory),
        })
    }

    /// Takes `count` workers for a claim of queued runs, if they are free.
    pub(crate) fn claim(&self, count: usize) -> Option<ClaimReservation> {
        let workers = self
            .workers
            .clone()
            .try_acquire_many_owned(u32::try_from(count).ok()?)
            .ok()?;
        Some(ClaimReservation {
            workers,
            memory: HashMap::new(),
            grows: false,
        })
    }

    /// A claim that holds no worker until it accepts a run, and then takes
    /// one for it if one is still free (else it refuses the run): for a
    /// claim that may wait long for the database (the group commit's, behind
    /// the ends it writes), so the workers stay free for the feeder
    /// meanwhile.
    pub(crate) fn claim_as_taken(&self) -> Option<ClaimReservation> {
        Some(ClaimReservation {
            workers: self.workers.clone().try_acquire_many_owned(0).ok()?,
            memory: HashMap::new(),
            grows: true,
        })
    }

    /// Why a run of `spec` can never start on this node, if it cannot: its
    /// memory limit alone exceeds the node's whole budget.
    pub(crate) fn refusal(&self, spec: &JobSpec) -> Option<String> {
        (spec.memory_limit_mb > self.total_memory_mb).then(|| {
            format!(
                "not started: the job's memory_limit_mb ({} MiB) exceeds this node's memory budget ([limits] total_memory_mb = {} MiB); lower the job's limit or raise the budget",
                spec.memory_limit_mb, self.total_memory_mb
            )
        })
    }
}

impl ClaimReservation {
    /// Whether the claim takes `candidate`: it does while its memory limit
    /// fits what is free of the budget. A run that could never fit is taken
    /// too (with no memory), so its node fails it with a clear error
    /// instead of it waiting forever at the head of the queue.
    pub(crate) fn offer(&mut self, budget: &Budget, candidate: &ClaimCandidate<'_>) -> bool {
        let worker = if self.grows {
            match budget.workers.clone().try_acquire_owned() {
                Ok(worker) => Some(worker),
                Err(_) => return false,
            }
        } else {
            None
        };
        let memory = if budget.refusal(candidate.spec).is_some() {
            None
        } else {
            match budget
                .memory
                .clone()
                .try_acquire_many_owned(candidate.spec.memory_limit_mb)
            {
                Ok(memory) => Some(memory),
                // The worker taken for it, if any, is given back.
                Err(_) => return false,
            }
        };
        if let Some(worker) = worker {
            self.workers.merge(worker);
        }
        self.memory.insert(candidate.run_id, memory);
        true
    }

    /// The slot of the claimed run `run_id`: one of the claim's workers and
    /// the memory reserved for it. Workers and memory no claimed run took
    /// are released when the reservation is dropped.
    pub(crate) fn slot(&mut self, run_id: i64) -> Option<Slot> {
        let worker = self.workers.split(1)?;
        let memory = self.memory.remove(&run_id).flatten();
        Some(Slot {
            _worker: worker,
            _memory: memory,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(memory_limit_mb: u32) -> JobSpec {
        let mut spec = JobSpec::new("j", "1");
        spec.memory_limit_mb = memory_limit_mb;
        spec
    }

    #[test]
    fn a_run_starts_only_while_its_memory_fits() {
        let budget = Budget::new(8, 1000);
        let first = budget.take(600);
        assert!(first.is_some());
        assert!(budget.take(600).is_none(), "600 + 600 > 1000");
        let second = budget.take(400);
        assert!(second.is_some());
        drop(first);
        assert!(budget.take(600).is_some(), "freed when the run ended");
    }

    #[test]
    fn a_claim_stops_at_the_first_run_that_does_not_fit() {
        let budget = Budget::new(8, 1000);
        let mut claim = budget.claim(4).unwrap();
        let (small, large) = (spec(500), spec(700));
        let offer = |claim: &mut ClaimReservation, run_id, spec| {
            claim.offer(&budget, &ClaimCandidate { run_id, spec })
        };
        assert!(offer(&mut claim, 1, &small));
        assert!(!offer(&mut claim, 2, &large));
        let slot = claim.slot(1).unwrap();
        assert_eq!(budget.free_workers(), 4, "three unused workers held");
        drop(claim);
        assert_eq!(budget.free_workers(), 7, "the unused workers are back");
        assert!(budget.take(600).is_none(), "the claimed run holds its 500");
        drop(slot);
        assert!(budget.take(1000).is_some());
    }

    #[test]
    fn a_claim_as_taken_holds_a_worker_only_for_each_run_it_accepts() {
        let budget = Budget::new(2, 1000);
        let mut claim = budget.claim_as_taken().unwrap();
        assert_eq!(budget.free_workers(), 2, "nothing held up front");
        let (small, large) = (spec(100), spec(950));
        let offer = |claim: &mut ClaimReservation, run_id, spec| {
            claim.offer(&budget, &ClaimCandidate { run_id, spec })
        };
        assert!(offer(&mut claim, 1, &small));
        assert_eq!(budget.free_workers(), 1);
        assert!(!offer(&mut claim, 2, &large), "its memory does not fit");
        assert_eq!(budget.free_workers(), 1, "the worker it took is back");
        // Someone else takes the last worker while the claim goes on.
        let other = budget.take(100).unwrap();
        assert!(!offer(&mut claim, 3, &small), "no worker left for it");
        let slot = claim.slot(1).unwrap();
        assert!(claim.slot(3).is_none(), "one worker for one accepted run");
        drop(claim);
        assert_eq!(budget.free_workers(), 0);
        drop((slot, other));
        assert_eq!(budget.free_workers(), 2);
    }

    #[test]
    fn a_run_larger_than_the_whole_budget_is_taken_to_be_refused() {
        let budget = Budget::new(1, 1000);
        let mut claim = budget.claim(1).unwrap();
        let huge = spec(1500);
        assert!(claim.offer(
            &budget,
            &ClaimCandidate {
                run_id: 1,
                spec: &huge
            }
        ));
        let message = budget.refusal(&huge).unwrap();
        assert!(message.contains("memory_limit_mb (1500 MiB)"), "{message}");
        assert!(message.contains("total_memory_mb = 1000 MiB"), "{message}");
        assert!(budget.refusal(&spec(1000)).is_none());
        let _slot = claim.slot(1).unwrap();
        assert!(budget.take(1000).is_none(), "no worker left");
    }
}
