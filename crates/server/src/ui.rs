//! The web UI: the browser app's assets, embedded in the binary and served
//! at `/` beside the API (no CDN, nothing downloaded at run time).
//!
//! This module owns only serving the files; the app itself lives in
//! `crates/server/ui/` and speaks to the server through `/api/v1` alone.
//! `ui/build.mjs` bundles it into `ui/dist/` (committed, so `cargo build`
//! alone yields the full UI) and writes `ui/dist/assets.rs`, the table
//! included below. Hashed assets (`/assets/name-HASH.js`) are cached for a
//! year; `index.html` is revalidated on every load. Each file is embedded
//! twice, plain and gzip-compressed at build time, and the gzip copy is sent
//! when the client accepts it. Any other GET outside the API is the app's
//! own route (`/jobs/7`, `/runs/12`): it gets `index.html`, whose script
//! renders the page from the address.

use axum::{
    Router,
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};

use crate::{app::AppState, problem};

/// One embedded file of `ui/dist/`.
struct Asset {
    /// Its path below `/`, e.g. `assets/app-HASH.js`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// The same bytes, gzip-compressed.
    gzip: &'static [u8],
}

include!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/dist/assets.rs"));

/// Paths the app never owns: unknown ones there stay API-style 404s.
const SERVER_PREFIXES: [&str; 4] = ["/api/", "/healthz", "/metrics", "/assets/"];

/// The UI's routes, merged into the application beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
        .route("/{*path}", any(app_route))
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            // `gzip;q=0` is a refusal.
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn respond(asset: &'static Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let gzip = accepts_gzip(headers);
    let body = if gzip { asset.gzip } else { asset.body };
    let mut response = Response::new(Body::from(body));
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gzip {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn index_response(headers: &HeaderMap) -> Response {
    match find("index.html") {
        Some(index) => {
            let mut response = respond(index, headers, "no-cache");
            // The app loads only its own files and speaks only to this origin.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                ),
            );
            response
        }
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the UI bundle is missing",
        )
            .into_response(),
    }
}

async fn index(headers: HeaderMap) -> Response {
    index_response(&headers)
}

async fn asset(request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    match find(path) {
        Some(asset) if path != "index.html" => respond(
            asset,
            request.headers(),
            "public, max-age=31536000, immutable",
        ),
        _ => problem::not_found(request).await.into_response(),
    }
}

/// Any other path: the app's page for a GET/HEAD, else what the server
/// answers for an unknown path.
async fn app_route(request: Request) -> Response {
    let path = request.uri().path();
    let is_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !SERVER_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix) || path == prefix.trim_end_matches('/'));
    if is_page {
        index_response(request.headers())
    } else {
        problem::not_found(request).await.into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::*;

    /// FNV-1a 64, as `ui/build.mjs` computes `dist/SOURCE_HASH`.
    fn fnv(hash: &mut u64, bytes: &[u8]) {
        for byte in bytes {
            *hash ^= u64::from(*byte);
            *hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn files(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, base, out);
            } else {
                let relative = path.strip_prefix(base).unwrap();
                out.push(relative.to_str().unwrap().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn the_committed_bundle_is_built_from_the_current_sources() {
        let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut inputs = Vec::new();
        files(&ui.join("src"), &ui, &mut inputs);
        inputs.extend(["build.mjs", "package.json", "package-lock.json"].map(String::from));
        // JavaScript's default sort: by UTF-16 code units, the same as
        // byte order for these ASCII paths.
        inputs.sort();
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for input in &inputs {
            let bytes = fs::read(ui.join(input)).unwrap();
            fnv(&mut hash, format!("{input}\0{}\0", bytes.len()).as_bytes());
            fnv(&mut hash, &bytes);
        }
        let recorded = fs::read_to_string(ui.join("dist/SOURCE_HASH")).unwrap();
        assert_eq!(
            recorded.trim(),
            format!("{hash:016x}"),
            "crates/server/ui/dist is stale: run `node crates/server/ui/build.mjs` and commit dist/"
        );
    }

    #[test]
    fn every_embedded_file_has_its_gzip_copy_and_the_index_points_at_embedded_assets() {
        let index = find("index.html").expect("index.html is embedded");
        let html = std::str::from_utf8(index.body).unwrap();
        for attribute in ["href=\"/assets/", "src=\"/assets/"] {
            let start = html.find(attribute).expect("the index links its assets") + attribute.len()
                - "assets/".len();
            let end = start + html[start..].find('"').unwrap();
            assert!(
                find(&html[start..end]).is_some(),
                "{} is not embedded",
                &html[start..end]
            );
        }
        for asset in ASSETS {
            // gzip's magic number; the copy is never empty.
            assert_eq!(&asset.gzip[..2], &[0x1f, 0x8b], "{}", asset.path);
        }
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("br"));
        assert!(!with("gzip;q=0"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
