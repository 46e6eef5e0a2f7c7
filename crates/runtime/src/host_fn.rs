//! Host functions — Rust closures a script can call — that belong to the
//! run's own realm.
//!
//! rquickjs gives every Rust-backed function the prototype it cached for the
//! runtime when the first one was made: that first context's
//! `Function.prototype`. On a pooled engine that object is an earlier run's:
//! every later run's `console.log`, `setTimeout`, `require`… would inherit
//! from it, so a run could change what the next run's host functions
//! inherit (`Object.getPrototypeOf(console.log).call = …`), and
//! `console.log instanceof Function` would be false. Every host function is
//! made here instead, re-parented to the current context's
//! `Function.prototype`.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use rquickjs::function::{IntoJsFunc, This};
use rquickjs::object::{AsProperty, PropertyFlags};
use rquickjs::{Ctx, FromJs, Function, IntoJs, Promise, Undefined, Value, qjs};

/// A host function whose prototype is this context's `Function.prototype`.
pub(crate) fn function<'js, P, F>(ctx: Ctx<'js>, f: F) -> rquickjs::Result<Function<'js>>
where
    F: IntoJsFunc<'js, P> + 'js,
{
    let function = Function::new(ctx.clone(), f)?;
    function.set_prototype(Some(&Function::prototype(ctx)))?;
    Ok(function)
}

/// A configurable, enumerable accessor property whose getter and setter are
/// host functions made by [`function`] (rquickjs's `Accessor` makes its
/// own, with the cached prototype).
pub(crate) struct HostAccessor<'js> {
    pub(crate) get: Function<'js>,
    pub(crate) set: Function<'js>,
}

impl<'js> AsProperty<'js, ()> for HostAccessor<'js> {
    fn config(
        self,
        ctx: &Ctx<'js>,
    ) -> rquickjs::Result<(PropertyFlags, Value<'js>, Value<'js>, Value<'js>)> {
        let flags = qjs::JS_PROP_HAS_GET
            | qjs::JS_PROP_HAS_SET
            | qjs::JS_PROP_HAS_CONFIGURABLE
            | qjs::JS_PROP_CONFIGURABLE
            | qjs::JS_PROP_HAS_ENUMERABLE
            | qjs::JS_PROP_ENUMERABLE;
        Ok((
            flags as PropertyFlags,
            Undefined.into_js(ctx)?,
            self.get.into_value(),
            self.set.into_value(),
        ))
    }
}

/// Waits for a script's promise to settle, with `then` callbacks made here,
/// in the run's own realm.
///
/// rquickjs's own `Promise::into_future` passes `then` callbacks it makes
/// itself, with the runtime's cached prototype; a script that replaces
/// `Promise.prototype.then` would catch them, and through their prototype
/// reach whichever realm filled that cache.
pub(crate) fn settled<'js, T: FromJs<'js>>(promise: Promise<'js>) -> Settled<'js, T> {
    Settled {
        promise,
        waker: None,
        _value: PhantomData,
    }
}

/// The future of [`settled`].
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Settled<'js, T> {
    promise: Promise<'js>,
    /// Shared with the `then` callbacks once they are attached.
    waker: Option<Rc<RefCell<Waker>>>,
    _value: PhantomData<T>,
}

// Nothing in it is pinned.
impl<T> Unpin for Settled<'_, T> {}

impl<'js, T: FromJs<'js>> Future for Settled<'js, T> {
    type Output = rquickjs::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(result) = this.promise.result() {
            return Poll::Ready(result);
        }
        // An interrupt (a limit) is the one exception that ends the wait;
        // any other pending one does not settle the promise.
        let ctx = this.promise.ctx().clone();
        if ctx.has_exception() {
            let exception = ctx.catch();
            if exception.is_uncatchable_error() {
                ctx.throw(exception);
                return Poll::Ready(Err(rquickjs::Error::Exception));
            }
        }
        match &this.waker {
            Some(waker) => waker.borrow_mut().clone_from(cx.waker()),
            None => {
                let waker = Rc::new(RefCell::new(cx.waker().clone()));
                let wake = {
                    let waker = Rc::clone(&waker);
                    function(ctx, move || waker.borrow().wake_by_ref())?
                };
                this.waker = Some(waker);
                this.promise.then()?.call::<_, ()>((
                    This(this.promise.clone()),
                    wake.clone(),
                    wake,
                ))?;
            }
        }
        Poll::Pending
    }
}
