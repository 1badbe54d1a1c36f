//! One builder of in-process test apps for the HTTP tests (sample or any catalog, fresh SQLite database, API keys with every scope) and a request helper that goes through the OpenAPI conformance check.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{ApiKey, Scope, Settings, WarmUp, WarmUpPlan};
use serde_json::Value;

use super::db::TestDb;

/// A key with every scope (`Authorization: Bearer ADMIN`).
pub const ADMIN: &str = "admin-secret";
/// A key with `orders:read` only.
pub const FEED: &str = "feed-secret";

/// Test settings: `catalog` served from a fresh database, no watcher, single-choice warm-up
/// (a debug build's pair warm-up is a second of CPU per app), keys `ADMIN` and `FEED`; every
/// reason worked out (no time bound: a loaded test machine must not defer one by chance).
pub fn settings(catalog: &std::path::Path, db: &TestDb) -> Settings {
    Settings {
        explain_within: None,
        catalog_dir: catalog.to_owned(),
        database_url: db.url.clone(),
        data_dir: db.dir().join("data"),
        cors_origins: vec!["https://shop.example".into()],
        api_keys: vec![
            ApiKey {
                name: "ops".into(),
                sha256: ApiKey::hash(ADMIN),
                scopes: vec![Scope::Admin, Scope::OrdersRead, Scope::OrdersWrite],
            },
            ApiKey {
                name: "erp".into(),
                sha256: ApiKey::hash(FEED),
                scopes: vec![Scope::OrdersRead],
            },
        ],
        watch: false,
        warm_up: WarmUpPlan {
            level: WarmUp::Choices,
            limit: std::time::Duration::from_secs(60),
            memory: bespoke::rules::engine::DEFAULT_EXPLANATION_MEMORY,
            threads: 1,
            persist: false,
        },
        ..Settings::default()
    }
}

/// An app on its own SQLite database (kept alive with it).
pub struct TestApp(pub web::Data<App>, pub TestDb);

impl std::ops::Deref for TestApp {
    type Target = web::Data<App>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestApp {
    /// The app serving `catalog`, with `edit` applied to the test settings.
    pub fn start(catalog: &std::path::Path, edit: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::start_in(TestDb::sqlite(), catalog, edit)
    }

    /// The same on a given database (whose folder may hold the catalog).
    pub fn start_in(
        db: TestDb,
        catalog: &std::path::Path,
        edit: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut s = settings(catalog, &db);
        edit(&mut s);
        TestApp(web::Data::new(App::start(s).unwrap()), db)
    }

    /// A second instance on the same database and settings (another server behind the same
    /// load balancer).
    pub fn another(&self) -> web::Data<App> {
        web::Data::new(App::start(self.settings.clone()).unwrap())
    }

    /// The app serving the sample catalog.
    pub fn sample() -> TestApp {
        TestApp::start(&super::repo(), |_| {})
    }
}

/// A response, read whole.
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: web::Bytes,
}

impl Res {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Sends a request through the app, checked against the OpenAPI document.
pub async fn send(app: &web::Data<App>, req: test::TestRequest) -> Res {
    let svc = test::init_service(super::contract::checked(web::Data::clone(app))).await;
    let res = test::call_service(&svc, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    Res {
        status,
        headers,
        body,
    }
}
