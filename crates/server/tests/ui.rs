//! The embedded web UI over real HTTP: the page, its hashed assets (plain
//! and gzip), cache headers, the client-side routes falling back to the
//! page, and API paths keeping their problem documents.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;

async fn fetch(server: &TestServer, path: &str, gzip: bool) -> reqwest::Response {
    // The workspace builds reqwest with `gzip` (for egress), which would
    // decode the body and drop the header this test checks.
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut request = client.get(server.url(path));
    if gzip {
        request = request.header("accept-encoding", "gzip, deflate, br");
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The `/assets/…` paths the page links.
fn asset_links(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_types_caching_and_gzip() {
    let server = TestServer::sqlite().await;
    let page = fetch(&server, "/", false).await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        header(&page, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&page, "cache-control").unwrap(), "no-cache");
    assert!(header(&page, "content-security-policy").is_some());
    assert_eq!(header(&page, "content-encoding"), None);
    let html = page.text().await.unwrap();
    let links = asset_links(&html);
    assert_eq!(links.len(), 2, "one script and one stylesheet: {html}");

    for link in links {
        served_hashed(&server, &link).await;
    }
    server.stop().await;
}

/// Checks that the hashed asset `link` is served with its type, a year's
/// caching and a smaller gzip copy; returns its plain text.
async fn served_hashed(server: &TestServer, link: &str) -> String {
    let plain = fetch(server, link, false).await;
    assert_eq!(plain.status(), 200, "{link}");
    assert_eq!(
        header(&plain, "cache-control").unwrap(),
        "public, max-age=31536000, immutable"
    );
    let expected_type = if link.ends_with(".js") {
        "text/javascript; charset=utf-8"
    } else {
        "text/css; charset=utf-8"
    };
    assert_eq!(header(&plain, "content-type").unwrap(), expected_type);
    assert_eq!(header(&plain, "vary").unwrap(), "accept-encoding");
    let text = plain.text().await.unwrap();

    let zipped = fetch(server, link, true).await;
    assert_eq!(header(&zipped, "content-encoding").unwrap(), "gzip");
    let zipped = zipped.bytes().await.unwrap();
    assert_eq!(&zipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        zipped.len() < text.len(),
        "{link}: the gzip copy is smaller"
    );
    text
}

/// The `/assets/` path of the chunk `script` imports whose name starts with `stem-`.
fn chunk_of(script: &str, stem: &str) -> String {
    let needle = format!("\"./{stem}-");
    let start = script
        .find(&needle)
        .unwrap_or_else(|| panic!("no {stem} chunk is imported"))
        + 3;
    let end = start + script[start..].find('"').unwrap();
    format!("/assets/{}", &script[start..end])
}

#[tokio::test]
async fn the_lazy_chunks_are_served_like_the_rest() {
    // The editor and, behind it, the formatter load only when used: each
    // is its own hashed file, cached and compressed like the page's.
    let server = TestServer::sqlite().await;
    let html = fetch(&server, "/", false).await.text().await.unwrap();
    let app = asset_links(&html)
        .into_iter()
        .find(|link| link.ends_with(".js"))
        .unwrap();
    let app = served_hashed(&server, &app).await;
    let editor = served_hashed(&server, &chunk_of(&app, "editor")).await;
    let formatter = served_hashed(&server, &chunk_of(&editor, "format")).await;
    assert!(
        formatter.contains("babel-ts"),
        "the formatter parses TypeScript"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_apps_own_routes_get_the_page_and_server_paths_stay_problems() {
    let server = TestServer::sqlite().await;
    for path in ["/jobs/7", "/runs/12", "/settings/tokens", "/console"] {
        let reply = fetch(&server, path, false).await;
        assert_eq!(reply.status(), 200, "{path}");
        assert_eq!(header(&reply, "cache-control").unwrap(), "no-cache");
        assert!(reply.text().await.unwrap().contains("<div id=\"app\">"));
    }
    // Unknown API paths, unknown assets and writes to page paths are not the app's.
    server.get("/api/v1/nothing-here").await.problem(404);
    server.get("/assets/app-NOPE.js").await.problem(404);
    server.get("/api").await.problem(404);
    let post = server.send(server.client.post(server.url("/jobs/7"))).await;
    post.problem(404);
    server.stop().await;
}
