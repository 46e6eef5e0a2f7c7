//! `setTimeout`, `setInterval`, `clearTimeout`, `clearInterval`.
//!
//! One queue per run, ordered by due instant and then by creation, so timers
//! due together fire in the order they were set (as in browsers and Node).
//! One driver future, spawned on the run's context while timers are pending,
//! sleeps until the earliest is due. An exception thrown by a callback fails
//! the run, as an uncaught exception ends a Node process. Timers still
//! pending when the script's result settles never fire.
//!
//! The queue holds script functions, so it must never be owned by a script
//! function: QuickJS cannot see through Rust references, and such a cycle
//! would outlive the run (and fail QuickJS's leak assertion at teardown).
//! Only the run's driving future ([`TimerQueue`]) and the timer driver own
//! it; the global functions hold weak references.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use rquickjs::prelude::{Opt, Rest};
use rquickjs::{Coerced, Ctx, Exception, FromJs, Function, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::host::Host;

/// Pending timers a run may hold; beyond it `setTimeout` throws (the queue
/// lives outside the script's capped heap).
const MAX_PENDING: usize = 100_000;
/// Node's largest delay; longer ones fire after 1 ms, as in Node.
const MAX_DELAY_MS: f64 = 2_147_483_647.0;

type Key = (Instant, u64);

struct Timer<'js> {
    id: u32,
    callback: Function<'js>,
    args: Vec<Value<'js>>,
    repeat: Option<Duration>,
}

struct Timers<'js> {
    next_id: u32,
    next_seq: u64,
    queue: BTreeMap<Key, Timer<'js>>,
    keys: HashMap<u32, Key>,
    driving: bool,
    changed: Rc<Notify>,
}

impl<'js> Timers<'js> {
    fn insert(&mut self, at: Instant, timer: Timer<'js>) {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.keys.insert(timer.id, key);
        self.queue.insert(key, timer);
    }

    fn remove(&mut self, id: u32) {
        if let Some(key) = self.keys.remove(&id) {
            self.queue.remove(&key);
        }
    }

    fn pop_due(&mut self, now: Instant) -> Option<Timer<'js>> {
        let (&key, _) = self.queue.first_key_value()?;
        if key.0 > now {
            return None;
        }
        let timer = self.queue.remove(&key)?;
        self.keys.remove(&timer.id);
        Some(timer)
    }
}

type Shared<'js> = Rc<RefCell<Timers<'js>>>;

/// Owns a run's timers: dropping it (with the run's driving future) drops
/// every pending callback.
pub(crate) struct TimerQueue<'js>(Shared<'js>);

impl TimerQueue<'_> {
    /// Drops every pending timer. Called when the script's result settles:
    /// from then on the run has ended and none of its timers may fire, even
    /// one already due while the last promise jobs still run.
    pub(crate) fn cancel_pending(&self) {
        let mut state = self.0.borrow_mut();
        state.queue.clear();
        state.keys.clear();
        state.changed.notify_one();
    }
}

pub(crate) fn install<'js>(ctx: &Ctx<'js>, host: &Arc<Host>) -> rquickjs::Result<TimerQueue<'js>> {
    let timers: Shared<'js> = Rc::new(RefCell::new(Timers {
        next_id: 1,
        next_seq: 0,
        queue: BTreeMap::new(),
        keys: HashMap::new(),
        driving: false,
        changed: Rc::new(Notify::new()),
    }));
    let globals = ctx.globals();
    for (name, repeat) in [("setTimeout", false), ("setInterval", true)] {
        let timers = Rc::downgrade(&timers);
        let host = Arc::clone(host);
        let set = crate::host_fn::function(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  callback: Value<'js>,
                  delay: Opt<Value<'js>>,
                  args: Rest<Value<'js>>| {
                let Some(timers) = timers.upgrade() else {
                    return Err(Exception::throw_message(&ctx, "the run has ended"));
                };
                schedule(&ctx, &timers, &host, callback, delay.0, args.0, repeat)
            },
        )?;
        globals.set(name, set)?;
    }
    for name in ["clearTimeout", "clearInterval"] {
        let timers: Weak<RefCell<Timers<'js>>> = Rc::downgrade(&timers);
        let clear = crate::host_fn::function(ctx.clone(), move |id: Opt<Value<'js>>| {
            if let (Some(timers), Some(id)) = (timers.upgrade(), id.0.and_then(|id| id.as_number()))
            {
                timers.borrow_mut().remove(id as u32);
            }
        })?;
        globals.set(name, clear)?;
    }
    Ok(TimerQueue(timers))
}

fn delay_of<'js>(ctx: &Ctx<'js>, delay: Option<Value<'js>>) -> rquickjs::Result<Duration> {
    let millis = match delay {
        None => 0.0,
        Some(value) => Coerced::<f64>::from_js(ctx, value)?.0,
    };
    let millis = if millis.is_nan() || millis < 0.0 {
        0.0
    } else if millis > MAX_DELAY_MS {
        1.0
    } else {
        millis.floor()
    };
    Ok(Duration::from_millis(millis as u64))
}

fn schedule<'js>(
    ctx: &Ctx<'js>,
    timers: &Shared<'js>,
    host: &Arc<Host>,
    callback: Value<'js>,
    delay: Option<Value<'js>>,
    args: Vec<Value<'js>>,
    repeat: bool,
) -> rquickjs::Result<u32> {
    let Some(callback) = callback.into_function() else {
        return Err(Exception::throw_type(
            ctx,
            "The \"callback\" argument must be a function",
        ));
    };
    let delay = delay_of(ctx, delay)?;
    let mut state = timers.borrow_mut();
    if state.queue.len() >= MAX_PENDING {
        return Err(Exception::throw_range(
            ctx,
            &format!("too many pending timers (the limit is {MAX_PENDING})"),
        ));
    }
    let id = state.next_id;
    state.next_id = state.next_id.wrapping_add(1).max(1);
    let at = Instant::now() + delay;
    let earliest = state
        .queue
        .first_key_value()
        .is_none_or(|(key, _)| at < key.0);
    state.insert(
        at,
        Timer {
            id,
            callback,
            args,
            repeat: repeat.then(|| delay.max(Duration::from_millis(1))),
        },
    );
    if !state.driving {
        state.driving = true;
        ctx.spawn(drive(ctx.clone(), Rc::clone(timers), Arc::clone(host)));
    } else if earliest {
        state.changed.notify_one();
    }
    Ok(id)
}

async fn drive<'js>(ctx: Ctx<'js>, timers: Shared<'js>, host: Arc<Host>) {
    loop {
        let (next, changed) = {
            let mut state = timers.borrow_mut();
            let next = state.queue.first_key_value().map(|(key, _)| key.0);
            if next.is_none() {
                state.driving = false;
            }
            (next, Rc::clone(&state.changed))
        };
        let Some(at) = next else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            () = changed.notified() => continue,
        }
        let now = Instant::now();
        loop {
            let due = {
                let mut state = timers.borrow_mut();
                let timer = state.pop_due(now);
                if let Some(timer) = &timer
                    && let Some(every) = timer.repeat
                {
                    // Re-armed before the call, so the callback may clear it.
                    state.insert(
                        now + every,
                        Timer {
                            id: timer.id,
                            callback: timer.callback.clone(),
                            args: timer.args.clone(),
                            repeat: timer.repeat,
                        },
                    );
                }
                timer
            };
            let Some(timer) = due else {
                break;
            };
            if timer.callback.call::<_, ()>((Rest(timer.args),)).is_err() {
                let thrown = ctx.catch();
                host.fail(crate::js_error::describe(&ctx, &thrown, &host.prepared));
                return;
            }
        }
    }
}
