//! `console`: every call becomes one log line of the run.

use std::sync::Arc;

use rquickjs::prelude::Rest;
use rquickjs::{Ctx, Object, Value};

use crate::globals::format_console_args;
use crate::logs::LogSink;
use crate::outcome::LogLevel;

const METHODS: [(&str, LogLevel); 6] = [
    ("log", LogLevel::Info),
    ("info", LogLevel::Info),
    ("warn", LogLevel::Warn),
    ("error", LogLevel::Error),
    ("debug", LogLevel::Debug),
    ("trace", LogLevel::Debug),
];

pub(crate) fn install<'js>(ctx: &Ctx<'js>, logs: &Arc<LogSink>) -> rquickjs::Result<()> {
    let console = Object::new(ctx.clone())?;
    for (name, level) in METHODS {
        let logs = Arc::clone(logs);
        let method =
            crate::host_fn::function(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
                logs.push(level, format_console_args(&ctx, &args.0));
            })?;
        console.set(name, method)?;
    }
    ctx.globals().set("console", console)
}
