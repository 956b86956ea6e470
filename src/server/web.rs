//! The web page at `/`: the built assets of `web/` (committed in `web/dist`,
//! rebuilt by `web/build.sh`) compiled into the binary, so that `shoal serve`
//! needs no files beside it.
//!
//! | Path | What |
//! |---|---|
//! | `GET /`, `GET /index.html` | the page |
//! | `GET /app.js`, `GET /app.css` | its script (with uPlot bundled) and styles |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One built file of the page.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

/// The page's files, as built into `web/dist`.
pub static ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../web/dist/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/dist/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/dist/app.css"),
    },
];

/// The page's routes, merged into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/index.html", get(|| async { serve(&ASSETS[0]) }));
    for asset in &ASSETS {
        router = router.route(asset.path, get(move || async move { serve(asset) }));
    }
    router
}

/// An asset with its type. `no-cache` makes browsers revalidate, so a new
/// binary's page is picked up at once; the files are small and local.
fn serve(asset: &'static Asset) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_the_assets_it_is_served_with() {
        let html = ASSETS[0].body;
        for asset in &ASSETS[1..] {
            assert!(
                html.contains(&format!("\"{}\"", asset.path)),
                "index.html does not load {}",
                asset.path
            );
            assert!(!asset.body.is_empty(), "{} is empty", asset.path);
        }
    }
}
