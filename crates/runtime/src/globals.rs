//! The one seam to the web-platform globals (URL, Headers, Response, …) and
//! to console formatting. Today they come from the minimal
//! [`globals_fallback`](crate::globals_fallback); swapping in the full
//! implementation means changing these two functions only.

use rquickjs::{Ctx, Value};

/// Installs the web-platform globals on the context's global object.
pub(crate) fn install_web_globals(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    crate::globals_fallback::install(ctx)
}

/// Formats `console.log` arguments into one line.
pub(crate) fn format_console_args<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> String {
    crate::globals_fallback::format_console_args(ctx, args)
}
