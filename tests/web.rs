//! The web page as the binary serves it: a real `shoal serve` process on
//! 127.0.0.1 answers `/` and the page's assets with the files built into
//! `web/dist`, next to the API. (The page itself is tested in a browser by
//! `web/test/page.test.mjs`, which `.ci/run` runs.)

mod support;

use support::{Server, TempDir};

/// The committed build, read from disk to compare with what is served.
fn dist(file: &str) -> String {
    let path = format!("{}/web/dist/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let dir = TempDir::new("web");
    // Started in an empty directory: nothing is read from disk at run time.
    let s = Server::start(&[], &dir.0);
    for (path, file, content_type) in [
        ("/", "index.html", "text/html"),
        ("/index.html", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        ("/app.css", "app.css", "text/css"),
    ] {
        let r = s.http.get(s.url(path)).send().await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(content_type), "{path}: {ct}");
        assert_eq!(r.text().await.unwrap(), dist(file), "{path}");
    }
    // The page loads exactly the assets served.
    let html = dist("index.html");
    assert!(html.contains("src=\"/app.js\""), "{html}");
    assert!(html.contains("href=\"/app.css\""), "{html}");

    // The API is still there, and unknown paths are 404.
    let (status, v) = s.get("/v1/health").await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")), "{v}");
    let r = s.http.get(s.url("/nope.js")).send().await.expect("GET");
    assert_eq!(r.status(), 404);
}
