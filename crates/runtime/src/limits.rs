//! Enforcing a run's time and memory limits, and cancellation.
//!
//! QuickJS polls its interrupt handler only every ~10,000 back-edges or calls,
//! and most native built-ins never poll: `while (true) new Array(1e6).fill(0)`
//! would outlive its deadline by seconds. So every run's heap comes from a
//! [`CappedAllocator`] that refuses every allocation once its [`Guard`] has
//! tripped (deadline passed, run cancelled, or memory cap reached): each
//! expensive iteration then fails at once, and the interrupt handler — which
//! returns the same flag — ends the script with an exception it cannot catch.
//!
//! Creating a QuickJS runtime and context does not survive a failing
//! allocation, so the allocator only refuses once the engine is set up and
//! the guard [armed](Guard::arm); until then it only counts. And the error
//! QuickJS throws on an interrupt is uncatchable only if it can be allocated
//! (otherwise it throws a catchable `null`), so each time the interrupt
//! handler stops the script it grants a small allowance for that error.
//! QuickJS drops that error when it is thrown in script code the engine
//! calls while building a stack trace (`Error.prepareStackTrace` and the
//! like), so our copy of QuickJS (`vendor/README.md`) asks the handler again
//! at the very next check once it has said stop; it also polls at each index
//! of the array walks that allocate nothing (a sparse array's holes) and at
//! each comparison of a sort (which runs no bytecode with the default order).
//!
//! The allocator only reads a flag. The [`Watchdog`], one thread per
//! executor, trips guards when their deadline passes, independently of the
//! tokio workers (which a busy script occupies); the interrupt handler also
//! reads the clock as a second line of defence.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use rquickjs::allocator::{Allocator, RustAllocator};
use tokio::sync::Notify;

/// Why a run was stopped from outside the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Trip {
    Timeout = 1,
    Cancelled = 2,
    Memory = 3,
    /// The executor is being dropped.
    Shutdown = 4,
    /// The host ended the run (the reason is recorded where it was decided).
    Aborted = 5,
}

/// The limits state of one run, shared by the interrupt handler, the
/// watchdog, the run task and its handle. Its memory is counted by the
/// [`Meter`] of the engine serving it, which it is [attached](Guard::arm) to.
#[derive(Debug)]
pub(crate) struct Guard {
    tripped: AtomicU8,
    deadline: Instant,
    memory_cap: usize,
    /// The engine's meter and this run's generation on it, once armed.
    engine: OnceLock<(Arc<Meter>, u64)>,
    /// The run's peak, copied from the meter when the run ends.
    peak: AtomicUsize,
    wake: Notify,
}

/// Enough for the interrupt error, its message and its stack trace.
const INTERRUPT_GRACE_BYTES: usize = 64 * 1024;

impl Guard {
    pub(crate) fn new(deadline: Instant, memory_cap: usize) -> Self {
        Self {
            tripped: AtomicU8::new(0),
            deadline,
            memory_cap,
            engine: OnceLock::new(),
            peak: AtomicUsize::new(0),
            wake: Notify::new(),
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// From now on `meter`'s allocator refuses beyond this run's cap or
    /// after a trip; the run's memory is counted from what the engine holds now.
    pub(crate) fn arm(self: &Arc<Self>, meter: &Arc<Meter>) {
        let generation = meter.begin(self);
        if self.engine.set((Arc::clone(meter), generation)).is_err() {
            return;
        }
        // A trip that came before the engine was known still stops it (both
        // sides are sequentially consistent: one of them sees the other).
        if self.tripped.load(Ordering::SeqCst) != 0 {
            meter.stop(generation);
        }
    }

    /// The run is over for its engine: the allocator counts only, and the
    /// run's peak is kept.
    pub(crate) fn disarm(&self) {
        if let Some((meter, generation)) = self.engine.get() {
            self.peak.store(meter.peak_bytes(), Ordering::Relaxed);
            meter.end(*generation);
        }
    }

    /// Stops the run; the first reason wins.
    pub(crate) fn trip(&self, reason: Trip) {
        if self
            .tripped
            .compare_exchange(0, reason as u8, Ordering::SeqCst, Ordering::Acquire)
            .is_ok()
        {
            if let Some((meter, generation)) = self.engine.get() {
                meter.stop(*generation);
            }
            // `notify_one` keeps a permit when nobody waits yet, so the run task
            // cannot miss it between checking the flag and waiting.
            self.wake.notify_one();
        }
    }

    pub(crate) fn tripped(&self) -> Option<Trip> {
        match self.tripped.load(Ordering::Acquire) {
            1 => Some(Trip::Timeout),
            2 => Some(Trip::Cancelled),
            3 => Some(Trip::Memory),
            4 => Some(Trip::Shutdown),
            5 => Some(Trip::Aborted),
            _ => None,
        }
    }

    /// Whether the run is over: tripped, or past the deadline.
    pub(crate) fn is_over(&self) -> bool {
        if self.tripped.load(Ordering::Relaxed) != 0 {
            return true;
        }
        if Instant::now() >= self.deadline {
            self.trip(Trip::Timeout);
            return true;
        }
        false
    }

    /// The interrupt handler: stops the script when the run is over, and
    /// lets QuickJS allocate the uncatchable error it throws then.
    pub(crate) fn should_interrupt(&self) -> bool {
        let over = self.is_over();
        if over && let Some((meter, _)) = self.engine.get() {
            meter.grace.store(INTERRUPT_GRACE_BYTES, Ordering::Relaxed);
        }
        over
    }

    /// Resolves once the guard has tripped.
    pub(crate) async fn wait_tripped(&self) -> Trip {
        loop {
            if let Some(reason) = self.tripped() {
                return reason;
            }
            self.wake.notified().await;
        }
    }

    /// The most the run's engine held while it ran (known once it ended).
    pub(crate) fn peak_bytes(&self) -> usize {
        match self.engine.get() {
            Some((meter, generation)) if meter.serves(*generation) => meter.peak_bytes(),
            _ => self.peak.load(Ordering::Relaxed),
        }
    }
}

/// The memory of one engine (a QuickJS runtime), counted by its
/// [`CappedAllocator`] across the runs it serves one after another, and the
/// limits of the run it serves now.
///
/// `run` holds the current run's generation shifted left by one, with the
/// low bit set once that run is stopped; zero between runs. A guard stops
/// its engine only while the engine still serves it (compare-and-swap on
/// its own generation), so a late cancel of a finished run never reaches
/// the next one.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    run: AtomicU64,
    generations: AtomicU64,
    cap: AtomicUsize,
    /// Written only by the allocator, which QuickJS calls under its runtime
    /// lock; so plain loads and stores suffice (no read-modify-write).
    used: AtomicUsize,
    peak: AtomicUsize,
    /// Bytes still allowed after a trip, for the interrupt's own error.
    grace: AtomicUsize,
    /// The run served now, to trip when it reaches its memory cap.
    current: Mutex<Weak<Guard>>,
}

const STOPPED: u64 = 1;

impl Meter {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Bytes the engine holds now.
    pub(crate) fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn begin(&self, guard: &Arc<Guard>) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(guard);
        self.cap.store(guard.memory_cap, Ordering::Relaxed);
        self.grace.store(0, Ordering::Relaxed);
        self.peak.store(self.used_bytes(), Ordering::Relaxed);
        self.run.store(generation << 1, Ordering::SeqCst);
        generation
    }

    fn end(&self, generation: u64) {
        let _ = self
            .run
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |run| {
                (run >> 1 == generation).then_some(0)
            });
    }

    fn stop(&self, generation: u64) {
        let _ = self.run.compare_exchange(
            generation << 1,
            (generation << 1) | STOPPED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// Whether the run the engine serves now is over; `false` between runs.
    /// For checks made by a context furnished before its run was known.
    pub(crate) fn serving_run_is_over(&self) -> bool {
        let run = self.run.load(Ordering::Acquire);
        if run == 0 {
            return false;
        }
        if run & STOPPED != 0 {
            return true;
        }
        // The guard is read outside the lock: noticing the deadline trips it.
        let current = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade();
        current.is_some_and(|guard| guard.is_over())
    }

    fn serves(&self, generation: u64) -> bool {
        self.run.load(Ordering::Acquire) >> 1 == generation
    }

    fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether `extra` more bytes may be allocated; trips the run on its cap.
    fn admit(&self, extra: usize) -> bool {
        let run = self.run.load(Ordering::Relaxed);
        if run == 0 {
            return true;
        }
        if run & STOPPED != 0 {
            let grace = self.grace.load(Ordering::Relaxed);
            if extra > grace {
                return false;
            }
            self.grace.store(grace - extra, Ordering::Relaxed);
            return true;
        }
        let wanted = self.used.load(Ordering::Relaxed).saturating_add(extra);
        if wanted > self.cap.load(Ordering::Relaxed) {
            self.stop(run >> 1);
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(guard) = current.upgrade() {
                guard.trip(Trip::Memory);
            }
            return false;
        }
        true
    }

    fn add(&self, bytes: usize) {
        let used = self.used.load(Ordering::Relaxed) + bytes;
        self.used.store(used, Ordering::Relaxed);
        if used > self.peak.load(Ordering::Relaxed) {
            self.peak.store(used, Ordering::Relaxed);
        }
    }

    fn sub(&self, bytes: usize) {
        let used = self.used.load(Ordering::Relaxed).saturating_sub(bytes);
        self.used.store(used, Ordering::Relaxed);
    }
}

/// QuickJS's allocator for one engine: Rust's global allocator, counted and
/// capped, refusing everything once the run it serves has tripped. Frees
/// and shrinking reallocations always succeed, so teardown never fails.
pub(crate) struct CappedAllocator {
    meter: Arc<Meter>,
}

impl CappedAllocator {
    pub(crate) fn new(meter: Arc<Meter>) -> Self {
        Self { meter }
    }
}

// SAFETY: every block is obtained from, resized by and returned to
// `RustAllocator`, which upholds the `Allocator` contract (size and `usize`
// alignment, `usable_size` of its own blocks); this type only counts bytes and
// returns null instead of allocating, which the contract allows.
#[allow(unsafe_code)]
unsafe impl Allocator for CappedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.meter.admit(size) {
            return std::ptr::null_mut();
        }
        let block = RustAllocator.alloc(size);
        if !block.is_null() {
            // SAFETY: `block` was just allocated by `RustAllocator`.
            self.meter.add(unsafe { RustAllocator::usable_size(block) });
        }
        block
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if !self.meter.admit(total) {
            return std::ptr::null_mut();
        }
        let block = RustAllocator.calloc(count, size);
        if !block.is_null() {
            // SAFETY: `block` was just allocated by `RustAllocator`.
            self.meter.add(unsafe { RustAllocator::usable_size(block) });
        }
        block
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller passes a block of this allocator, i.e. of `RustAllocator`.
        unsafe {
            self.meter.sub(RustAllocator::usable_size(ptr));
            RustAllocator.dealloc(ptr);
        }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        // SAFETY: the caller passes a block of this allocator, i.e. of `RustAllocator`;
        // on failure the old block stays valid, as `realloc` requires.
        unsafe {
            let old = RustAllocator::usable_size(ptr);
            if new_size > old && !self.meter.admit(new_size - old) {
                return std::ptr::null_mut();
            }
            let block = RustAllocator.realloc(ptr, new_size);
            if !block.is_null() {
                self.meter.sub(old);
                self.meter.add(RustAllocator::usable_size(block));
            }
            block
        }
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a block of this allocator, i.e. of `RustAllocator`.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}

/// One thread that trips guards at their deadline.
pub(crate) struct Watchdog {
    shared: Arc<WatchShared>,
    thread: Option<JoinHandle<()>>,
}

struct WatchShared {
    state: Mutex<WatchState>,
    changed: Condvar,
}

struct WatchState {
    deadlines: BinaryHeap<Reverse<Watched>>,
    /// Finished runs leave entries behind; purge them when the heap reaches this size.
    purge_at: usize,
    shutdown: bool,
}

struct Watched {
    deadline: Instant,
    guard: Weak<Guard>,
}

impl PartialEq for Watched {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Watched {}
impl PartialOrd for Watched {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Watched {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

const MIN_PURGE_AT: usize = 1024;

impl Watchdog {
    pub(crate) fn start() -> std::io::Result<Self> {
        let shared = Arc::new(WatchShared {
            state: Mutex::new(WatchState {
                deadlines: BinaryHeap::new(),
                purge_at: MIN_PURGE_AT,
                shutdown: false,
            }),
            changed: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name(String::from("clockwork-js-watchdog"))
            .spawn({
                let shared = Arc::clone(&shared);
                move || watch(&shared)
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Trips `guard` with [`Trip::Timeout`] at its deadline (unless it is dropped first).
    pub(crate) fn watch(&self, guard: &Arc<Guard>) {
        let mut state = self.shared.lock();
        if state.deadlines.len() >= state.purge_at {
            state
                .deadlines
                .retain(|entry| entry.0.guard.strong_count() > 0);
            state.purge_at = (state.deadlines.len() * 2).max(MIN_PURGE_AT);
        }
        let earliest = state
            .deadlines
            .peek()
            .is_none_or(|first| guard.deadline() < first.0.deadline);
        state.deadlines.push(Reverse(Watched {
            deadline: guard.deadline(),
            guard: Arc::downgrade(guard),
        }));
        drop(state);
        if earliest {
            self.shared.changed.notify_one();
        }
    }
}

impl Watchdog {
    /// Stops every run still going, with [`Trip::Shutdown`].
    pub(crate) fn stop_all(&self) {
        let mut state = self.shared.lock();
        for entry in state.deadlines.drain() {
            if let Some(guard) = entry.0.guard.upgrade() {
                guard.trip(Trip::Shutdown);
            }
        }
    }
}

impl WatchShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        // The state stays consistent even if a holder panicked: entries are plain data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn watch(shared: &WatchShared) {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return;
        }
        let now = Instant::now();
        while state
            .deadlines
            .peek()
            .is_some_and(|first| first.0.deadline <= now)
        {
            if let Some(Reverse(due)) = state.deadlines.pop()
                && let Some(guard) = due.guard.upgrade()
            {
                guard.trip(Trip::Timeout);
            }
        }
        state = match state.deadlines.peek().map(|first| first.0.deadline) {
            Some(next) => {
                let wait = next.saturating_duration_since(now);
                shared
                    .changed
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            // The thread wakes at once and returns; it cannot panic.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn watchdog_trips_a_guard_at_its_deadline() {
        let watchdog = Watchdog::start().unwrap();
        let later = Arc::new(Guard::new(
            Instant::now() + Duration::from_secs(3600),
            1 << 20,
        ));
        let soon = Arc::new(Guard::new(
            Instant::now() + Duration::from_millis(20),
            1 << 20,
        ));
        watchdog.watch(&later);
        watchdog.watch(&soon);
        assert_eq!(soon.wait_tripped().await, Trip::Timeout);
        assert!(Instant::now() >= soon.deadline());
        assert_eq!(later.tripped(), None);
    }

    #[test]
    fn first_trip_reason_wins() {
        let guard = Guard::new(Instant::now() + Duration::from_secs(60), 100);
        guard.trip(Trip::Cancelled);
        guard.trip(Trip::Memory);
        assert_eq!(guard.tripped(), Some(Trip::Cancelled));
        assert!(guard.should_interrupt());
    }

    fn free(allocator: &mut CappedAllocator, block: *mut u8) {
        // SAFETY (test): every block passed here came from this allocator.
        #[allow(unsafe_code)]
        unsafe {
            allocator.dealloc(block);
        }
    }

    #[test]
    fn allocator_refuses_beyond_the_cap_and_after_a_trip() {
        let meter = Meter::new();
        let guard = Arc::new(Guard::new(Instant::now() + Duration::from_secs(60), 4096));
        let mut allocator = CappedAllocator::new(Arc::clone(&meter));
        let setup = allocator.alloc(8192);
        assert!(!setup.is_null(), "an engine serving no run only counts");
        free(&mut allocator, setup);
        guard.arm(&meter);
        let block = allocator.alloc(1000);
        assert!(!block.is_null());
        assert!(allocator.alloc(5000).is_null());
        assert_eq!(guard.tripped(), Some(Trip::Memory));
        assert!(
            allocator.alloc(8).is_null(),
            "refuses everything once tripped"
        );
        free(&mut allocator, block);
        assert!(guard.peak_bytes() >= 1000);
        assert_eq!(meter.used_bytes(), 0);
    }

    #[test]
    fn a_late_trip_of_a_finished_run_does_not_reach_the_next_run() {
        let meter = Meter::new();
        let mut allocator = CappedAllocator::new(Arc::clone(&meter));
        let far = Instant::now() + Duration::from_secs(60);
        let first = Arc::new(Guard::new(far, 1 << 20));
        first.arm(&meter);
        let kept = allocator.alloc(5000);
        first.disarm();
        let second = Arc::new(Guard::new(far, 1 << 20));
        second.arm(&meter);
        first.trip(Trip::Cancelled);
        let block = allocator.alloc(1000);
        assert!(!block.is_null(), "the next run still allocates");
        assert_eq!(second.tripped(), None);
        assert!(first.peak_bytes() >= 5000, "the first run keeps its peak");
        second.trip(Trip::Cancelled);
        assert!(allocator.alloc(8).is_null(), "its own trip stops it");
        second.disarm();
        free(&mut allocator, block);
        free(&mut allocator, kept);
    }

    #[test]
    fn a_trip_before_arming_stops_the_engine_at_once() {
        let meter = Meter::new();
        let mut allocator = CappedAllocator::new(Arc::clone(&meter));
        let guard = Arc::new(Guard::new(
            Instant::now() + Duration::from_secs(60),
            1 << 20,
        ));
        guard.trip(Trip::Cancelled);
        guard.arm(&meter);
        assert!(allocator.alloc(8).is_null());
    }

    #[test]
    fn interrupt_handler_trips_past_the_deadline() {
        let guard = Guard::new(Instant::now(), 100);
        assert!(guard.should_interrupt());
        assert_eq!(guard.tripped(), Some(Trip::Timeout));
    }
}
