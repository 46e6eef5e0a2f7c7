//! What a script can import or `require`: the `@forge/*` packages and the
//! pure Node built-ins (FORGE-API §5), by name, with the names each exports;
//! and the messages for everything else (host modules are refused as not
//! available in the sandbox, npm packages as needing a bundle).
//!
//! The `@forge/*` modules are served from the Forge surface (`forge.js`),
//! the Node ones from the Node surface (`node.js`); both are built on first use.

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declarations, Declared, Exports, ModuleDef};
use rquickjs::{Ctx, Exception, Module, Object, Value};

/// Which surface serves a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    Forge,
    Node,
}

/// `assert` and `assert/strict` export the same names (Node's strict
/// variant differs in behaviour, not in its surface).
const ASSERT_EXPORTS: &[&str] = &[
    "default",
    "ok",
    "equal",
    "notEqual",
    "strictEqual",
    "notStrictEqual",
    "deepEqual",
    "deepStrictEqual",
    "notDeepStrictEqual",
    "throws",
    "rejects",
    "fail",
    "AssertionError",
];

/// Every importable module: its canonical name, its surface, its exports
/// (kept equal to what `forge.js` / `node.js` build; a test checks).
pub(crate) const MODULES: [(&str, Surface, &[&str]); 20] = [
    (
        "@forge/api",
        Surface::Forge,
        &[
            "default",
            "asApp",
            "asUser",
            "route",
            "assumeTrustedRoute",
            "routeFromAbsolute",
            "fetch",
            "authorize",
            "requestJira",
            "requestConfluence",
            "requestBitbucket",
            "storage",
            "properties",
            "webTrigger",
            "startsWith",
            "WhereConditions",
            "FilterConditions",
            "SortOrder",
            "invokeRemote",
            "invokeService",
            "privacy",
            "i18n",
            "permissions",
            "getAppContext",
            "isForgePlatformError",
            "HttpError",
            "FetchError",
            "NotAllowedError",
            "ProxyRequestError",
            "ExternalEndpointNotAllowedError",
            "InvalidWorkspaceRequestedError",
            "RequestProductNotAllowedError",
            "NeedsAuthenticationError",
            "ProductEndpointNotAllowedError",
            "InvalidRemoteError",
            "InvalidContainerServiceError",
        ],
    ),
    (
        "@forge/kvs",
        Surface::Forge,
        &[
            "default",
            "kvs",
            "WhereConditions",
            "FilterConditions",
            "Sort",
        ],
    ),
    (
        "@forge/events",
        Surface::Forge,
        &["Queue", "InvocationError", "InvocationErrorCode"],
    ),
    ("@forge/resolver", Surface::Forge, &["default"]),
    (
        "@forge/bridge",
        Surface::Forge,
        &["requestJira", "requestConfluence"],
    ),
    (
        "buffer",
        Surface::Node,
        &["default", "Buffer", "atob", "btoa", "kMaxLength"],
    ),
    (
        "crypto",
        Surface::Node,
        &[
            "default",
            "createHash",
            "createHmac",
            "randomBytes",
            "randomUUID",
            "randomInt",
            "getRandomValues",
            "timingSafeEqual",
            "getHashes",
            "webcrypto",
            "subtle",
        ],
    ),
    (
        "util",
        Surface::Node,
        &[
            "default",
            "format",
            "inspect",
            "promisify",
            "callbackify",
            "deprecate",
            "inherits",
            "isDeepStrictEqual",
            "types",
            "TextEncoder",
            "TextDecoder",
        ],
    ),
    ("url", Surface::Node, &["default", "URL", "URLSearchParams"]),
    (
        "querystring",
        Surface::Node,
        &[
            "default",
            "parse",
            "stringify",
            "escape",
            "unescape",
            "decode",
            "encode",
        ],
    ),
    (
        "events",
        Surface::Node,
        &["default", "EventEmitter", "once"],
    ),
    (
        "timers",
        Surface::Node,
        &[
            "default",
            "setTimeout",
            "clearTimeout",
            "setInterval",
            "clearInterval",
            "setImmediate",
            "clearImmediate",
        ],
    ),
    (
        "timers/promises",
        Surface::Node,
        &["default", "setTimeout", "setImmediate"],
    ),
    ("assert", Surface::Node, ASSERT_EXPORTS),
    ("assert/strict", Surface::Node, ASSERT_EXPORTS),
    (
        "path",
        Surface::Node,
        &[
            "default",
            "join",
            "resolve",
            "normalize",
            "dirname",
            "basename",
            "extname",
            "isAbsolute",
            "relative",
            "sep",
            "delimiter",
            "posix",
        ],
    ),
    (
        "path/posix",
        Surface::Node,
        &[
            "default",
            "join",
            "resolve",
            "normalize",
            "dirname",
            "basename",
            "extname",
            "isAbsolute",
            "relative",
            "sep",
            "delimiter",
            "posix",
        ],
    ),
    ("process", Surface::Node, &["default", "env", "nextTick"]),
    (
        "string_decoder",
        Surface::Node,
        &["default", "StringDecoder"],
    ),
    (
        "punycode",
        Surface::Node,
        &["default", "toASCII", "toUnicode"],
    ),
];

/// Node modules that reach the host: refused with a message that says so.
const HOST_MODULES: [&str; 22] = [
    "fs",
    "fs/promises",
    "child_process",
    "net",
    "tls",
    "dgram",
    "dns",
    "dns/promises",
    "os",
    "http",
    "https",
    "http2",
    "cluster",
    "worker_threads",
    "vm",
    "v8",
    "module",
    "readline",
    "repl",
    "inspector",
    "stream",
    "zlib",
];

/// The canonical name of an importable module (`node:crypto` → `crypto`).
pub(crate) fn canonical(name: &str) -> Result<&'static str, String> {
    let bare = name.strip_prefix("node:").unwrap_or(name);
    if let Some((found, _, _)) = MODULES.iter().find(|(known, _, _)| *known == bare) {
        return Ok(found);
    }
    Err(refusal(name, bare))
}

fn refusal(name: &str, bare: &str) -> String {
    if HOST_MODULES.contains(&bare) {
        return format!(
            "Cannot import '{name}': it is not available in Clockwork's sandbox \
             (scripts have no files, sockets, processes or host information)"
        );
    }
    if bare.starts_with("@forge/") {
        return format!(
            "Cannot import '{name}': Clockwork provides @forge/api, @forge/kvs, @forge/events, \
             @forge/resolver and @forge/bridge"
        );
    }
    format!(
        "Cannot import '{name}': only @forge/api, @forge/kvs, @forge/events, @forge/resolver, \
         @forge/bridge and Node's pure built-ins (crypto, buffer, util, url, querystring, events, \
         timers/promises, assert, path) can be imported; bundle npm packages into the script \
         (esbuild --bundle --platform=node --format=esm)"
    )
}

/// The names module `name` (canonical) exports.
fn exports_of(index: usize) -> &'static [&'static str] {
    MODULES[index].2
}

/// The namespace object module `index` is served from.
fn namespace<'js>(ctx: &Ctx<'js>, index: usize) -> rquickjs::Result<Object<'js>> {
    let (name, surface, _) = MODULES[index];
    match surface {
        Surface::Forge => crate::host::module(ctx, name),
        Surface::Node => {
            let modules: Object<'js> = crate::node::surface(ctx)?.get("modules")?;
            modules.get(name)
        }
    }
}

/// The exports of module `name` as one object (what `require(name)` returns).
pub(crate) fn required<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Value<'js>> {
    let canonical = canonical(name).map_err(|message| Exception::throw_message(ctx, &message))?;
    let index = index_of(canonical);
    let namespace = namespace(ctx, index)?;
    // CommonJS sees `module.exports`: a module whose default export is the
    // whole module (events, assert, Node's built-ins) returns that.
    let default: Value<'js> = namespace.get("default")?;
    if MODULES[index].1 == Surface::Node && !default.is_undefined() {
        return Ok(default);
    }
    Ok(namespace.into_value())
}

fn index_of(canonical: &str) -> usize {
    MODULES
        .iter()
        .position(|(name, _, _)| *name == canonical)
        .unwrap_or(0)
}

struct Builtin<const I: usize>;

impl<const I: usize> ModuleDef for Builtin<I> {
    fn declare(declarations: &Declarations<'_>) -> rquickjs::Result<()> {
        for name in exports_of(I) {
            declarations.declare(*name)?;
        }
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> rquickjs::Result<()> {
        let namespace = namespace(ctx, I)?;
        for name in exports_of(I) {
            exports.export(*name, namespace.get::<_, Value<'js>>(*name)?)?;
        }
        Ok(())
    }
}

/// Declares module `index` (a type per module, as rquickjs's loader wants).
fn declare<'js>(ctx: &Ctx<'js>, index: usize) -> rquickjs::Result<Module<'js, Declared>> {
    macro_rules! by_index {
        ($($i:literal)*) => {
            match index {
                $($i => Module::declare_def::<Builtin<$i>, _>(ctx.clone(), MODULES[$i].0),)*
                _ => Err(rquickjs::Error::new_loading(MODULES.get(index).map_or("?", |m| m.0))),
            }
        };
    }
    by_index!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19)
}

/// Resolves and loads the importable modules; nothing else can be imported.
pub(crate) struct BuiltinModules;

impl Resolver for BuiltinModules {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        _base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        canonical(name)
            .map(str::to_owned)
            .map_err(|message| Exception::throw_message(ctx, &message))
    }
}

impl Loader for BuiltinModules {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        match canonical(name) {
            Ok(canonical) => declare(ctx, index_of(canonical)),
            Err(_) => Err(rquickjs::Error::new_loading(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_prefix_and_bare_names_are_the_same_module() {
        assert_eq!(canonical("node:crypto"), Ok("crypto"));
        assert_eq!(canonical("crypto"), Ok("crypto"));
        assert_eq!(canonical("node:timers/promises"), Ok("timers/promises"));
        assert_eq!(canonical("@forge/resolver"), Ok("@forge/resolver"));
    }

    #[test]
    fn host_modules_and_packages_are_refused_with_reasons() {
        let fs = canonical("node:fs").unwrap_err();
        assert!(fs.contains("not available in Clockwork's sandbox"), "{fs}");
        assert!(canonical("child_process").unwrap_err().contains("sandbox"));
        let lodash = canonical("lodash").unwrap_err();
        assert!(lodash.contains("bundle npm packages"), "{lodash}");
        assert!(
            canonical("@forge/ui")
                .unwrap_err()
                .contains("Clockwork provides")
        );
    }
}
