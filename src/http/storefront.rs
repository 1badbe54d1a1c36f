//! The reference storefront page: `GET /` (the product list) and `GET /p/{product}` (the configurator), embedded in the binary.
//!
//! Plain HTML, CSS and JavaScript built on the public API only; the assets under
//! content-hashed URLs, cached for good. These are page routes, not API routes: they are not in
//! the OpenAPI document.
//!
//! The page is one HTML shell for both paths: the script reads the path, calls the API and
//! draws the page (docs/storefront.md lists the calls each click makes). The shell is
//! revalidated on every load (`no-cache` with an `ETag`, so a reload costs a `304`), and names
//! its script and stylesheet by content hash, so a new binary's page never runs an old script.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// The URL folder the page's assets are served from.
pub const ASSET_PREFIX: &str = "/storefront/";

/// Hex digits of the content hash in asset URLs and ETags: 64 bits are plenty to tell two
/// builds' files apart, and keep the URLs short.
const HASH_CHARS: usize = 16;

/// `Cache-Control` of a content-hashed asset: its URL changes with its bytes, so a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of the HTML shell: always revalidated (its `ETag` makes that a `304`).
const REVALIDATE: &str = "no-cache";

/// The page's Content-Security-Policy: its own script and stylesheet only, images from this
/// origin (previews, thumbnails, value images), `data:` (the empty favicon) and `blob:` (the
/// shopper's own upload shown before it is sent), API calls to this origin.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; \
    script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

/// The embedded files: the HTML shell names the others by `{{file}}` placeholders.
const SHELL: &str = include_str!("storefront/index.html");
const FILES: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("storefront/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("storefront/style.css"),
    ),
];

/// One file as served: its URL path, type, bytes and strong `ETag`.
#[derive(Debug)]
struct Asset {
    path: String,
    content_type: &'static str,
    body: web::Bytes,
    etag: String,
}

impl Asset {
    fn of(path: String, content_type: &'static str, body: web::Bytes) -> Asset {
        let etag = format!("\"{}\"", content_hash(&body));
        Asset {
            path,
            content_type,
            body,
            etag,
        }
    }
}

/// The page and its assets, hashed once per process.
#[derive(Debug)]
struct Storefront {
    page: Asset,
    assets: Vec<Asset>,
}

static STOREFRONT: LazyLock<Storefront> = LazyLock::new(|| {
    let mut shell = SHELL.to_owned();
    let mut assets = Vec::new();
    for (name, content_type, text) in FILES {
        let body = web::Bytes::from_static(text.as_bytes());
        let path = hashed_path(name, &content_hash(&body));
        shell = shell.replace(&format!("{{{{{name}}}}}"), &path);
        assets.push(Asset::of(path, content_type, body));
    }
    let page = Asset::of(
        "/".to_owned(),
        "text/html; charset=utf-8",
        web::Bytes::from(shell),
    );
    Storefront { page, assets }
});

/// The first [`HASH_CHARS`] hex digits of the SHA-256 of `bytes`.
fn content_hash(bytes: &[u8]) -> String {
    let mut hex = crate::config::hex(&Sha256::digest(bytes));
    hex.truncate(HASH_CHARS);
    hex
}

/// `app.js` with hash `h` is served at `/storefront/app.h.js`.
fn hashed_path(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{ASSET_PREFIX}{stem}.{hash}.{ext}"),
        None => format!("{ASSET_PREFIX}{name}.{hash}"),
    }
}

/// The storefront's routes; `build()` adds them before its fallback.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .route(web::get().to(page))
            .route(web::head().to(page)),
    )
    .service(
        web::resource("/p/{product}")
            .route(web::get().to(page))
            .route(web::head().to(page)),
    )
    .service(
        web::resource(format!("{ASSET_PREFIX}{{file}}"))
            .route(web::get().to(asset))
            .route(web::head().to(asset)),
    );
}

/// The HTML shell (both `/` and `/p/{product}`: the script draws the page the path names).
async fn page(req: HttpRequest) -> HttpResponse {
    let page = &STOREFRONT.page;
    let mut res = respond(&req, page, REVALIDATE);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// A content-hashed asset; any other name under the folder is the API's `404` problem.
async fn asset(req: HttpRequest) -> HttpResponse {
    match STOREFRONT.assets.iter().find(|a| a.path == req.path()) {
        Some(a) => respond(&req, a, IMMUTABLE),
        None => super::problem::not_found(req).await,
    }
}

/// `200` with the body, or `304` when `If-None-Match` names its `ETag`.
fn respond(req: &HttpRequest, asset: &Asset, cache_control: &'static str) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == asset.etag || t == "*")
        });
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, asset.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return res.finish();
    }
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .body(asset.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_names_every_asset_by_its_hash() {
        let sf = &*STOREFRONT;
        let html = std::str::from_utf8(&sf.page.body).unwrap_or_default();
        assert!(!html.contains("{{"), "an asset placeholder is left: {html}");
        for a in &sf.assets {
            assert!(html.contains(&a.path), "{} is not in the shell", a.path);
            assert!(a.path.starts_with(ASSET_PREFIX));
        }
    }

    #[test]
    fn hashed_paths_keep_the_extension() {
        assert_eq!(hashed_path("app.js", "ab12"), "/storefront/app.ab12.js");
        assert_eq!(hashed_path("LICENSE", "ab12"), "/storefront/LICENSE.ab12");
    }
}
