//! The one seam to the web-platform globals (URL, Headers, Response, …) and
//! to console formatting, both implemented in [`web`](crate::web).

use rquickjs::{Ctx, Value};

/// Installs the web-platform globals on the context's global object.
pub(crate) fn install_web_globals(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    crate::web::install(ctx)
}

/// Drops the web globals' per-engine state (see [`crate::web::uninstall`]).
pub(crate) fn uninstall_web_globals(ctx: &Ctx<'_>) -> bool {
    crate::web::uninstall(ctx)
}

/// Formats `console.log` arguments into one line, as Node's `util.format` does.
pub(crate) fn format_console_args<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> String {
    crate::web::format_console_args(ctx, args)
}
