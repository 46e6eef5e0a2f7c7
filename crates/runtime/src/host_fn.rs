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

use rquickjs::function::IntoJsFunc;
use rquickjs::object::{AsProperty, PropertyFlags};
use rquickjs::{Ctx, Function, IntoJs, Undefined, Value, qjs};

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
