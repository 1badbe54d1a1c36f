//! Every error answer is problem+json (actix's own too: payload limits, unmatched methods and
//! routes, content types), bearer schemes, customer text that cannot be printed, and the OpenAPI
//! conformance harness itself (`common::contract`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::{test, web};
use bespoke::config::Settings;
use common::contract::{self, Contract};
use common::db::TestDb;
use serde_json::{Value, json};

use common::http::{ADMIN, TestApp};

/// The app serving `catalog` on `db`, with `edit` applied to the test settings.
fn start(db: TestDb, catalog: &std::path::Path, edit: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::start_in(db, catalog, edit)
}

/// The app serving the sample catalog.
fn app() -> TestApp {
    TestApp::sample()
}

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let svc = test::init_service(common::contract::checked(web::Data::clone(&$app))).await;
        let res = test::call_service(&svc, $req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, headers, json)
    }};
}

/// `(status, headers, body)` is the problem document `kind` with `status`.
fn assert_problem(got: &(StatusCode, HeaderMap, Value), status: StatusCode, kind: &str) {
    let (s, headers, body) = got;
    assert_eq!((*s, body["type"].as_str()), (status, Some(kind)), "{body}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

fn bearer(scheme: &str) -> (&'static str, String) {
    ("authorization", format!("{scheme} {ADMIN}"))
}

#[actix_web::test]
async fn bodies_over_the_limit_are_problems() {
    let app = start(TestDb::sqlite(), &common::repo(), |s| {
        s.upload_limit = 64 * 1024;
    });
    let got = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .insert_header(("content-type", "application/octet-stream"))
            .set_payload(vec![0u8; 100 * 1024])
    );
    assert_problem(
        &got,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/problems/body-too-large",
    );

    let big = vec![b' '; bespoke::app::CHECK_LIMIT + 1];
    let got = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/admin/check")
            .insert_header(bearer("Bearer"))
            .insert_header(("content-type", "application/json"))
            .set_payload(big)
    );
    assert_problem(
        &got,
        StatusCode::PAYLOAD_TOO_LARGE,
        "/problems/body-too-large",
    );
    assert!(
        got.2["detail"]
            .as_str()
            .unwrap()
            .contains(&bespoke::app::CHECK_LIMIT.to_string()),
        "{}",
        got.2
    );
}

#[actix_web::test]
async fn malformed_bodies_and_wrong_content_types_are_problems() {
    let app = app();
    // The admin check parses its body as the JSON extractor does: the same problem.
    for body in [
        "{\"files\": {",
        "{\"files\": 1}",
        "{\"files\": {}, \"extra\": 1}",
    ] {
        let got = call!(
            app,
            test::TestRequest::post()
                .uri("/v1/admin/check")
                .insert_header(bearer("Bearer"))
                .insert_header(("content-type", "application/json"))
                .set_payload(body)
        );
        assert_problem(&got, StatusCode::BAD_REQUEST, "/problems/malformed-json");
    }
    let got = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"selection\": {")
    );
    assert_problem(&got, StatusCode::BAD_REQUEST, "/problems/malformed-json");
    for ctype in ["text/plain", "application/x-www-form-urlencoded"] {
        let got = call!(
            app,
            test::TestRequest::post()
                .uri("/v1/products/classic-tee/configure")
                .insert_header(("content-type", ctype))
                .set_payload("{\"selection\": {}}")
        );
        assert_problem(
            &got,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "/problems/unsupported-media-type",
        );
    }
}

#[actix_web::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = app();
    let got = call!(app, test::TestRequest::get().uri("/v2/nothing"));
    assert_problem(&got, StatusCode::NOT_FOUND, "/problems/not-found");
    for (method, uri) in [
        (actix_web::http::Method::GET, "/v1/uploads"),
        (actix_web::http::Method::PUT, "/v1/admin/check"),
    ] {
        let got = call!(app, test::TestRequest::default().method(method).uri(uri));
        assert_problem(
            &got,
            StatusCode::METHOD_NOT_ALLOWED,
            "/problems/method-not-allowed",
        );
        // The router's Allow header survives the rewrite.
        assert_eq!(
            got.1.get("allow").and_then(|v| v.to_str().ok()),
            Some("POST"),
            "{uri}"
        );
        // So does the request id, set outside.
        assert!(got.1.contains_key("x-request-id"));
    }
    // A handler's problem is left as it is.
    let got = call!(app, test::TestRequest::get().uri("/v1/products/no-such"));
    assert_problem(&got, StatusCode::NOT_FOUND, "/problems/unknown-product");
}

#[actix_web::test]
async fn bearer_is_case_insensitive_and_a_bad_authorization_is_a_401_problem() {
    let app = app();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR", "Bearer  "] {
        let (status, _, body) = call!(
            app,
            test::TestRequest::get()
                .uri("/v1/admin/catalog")
                .insert_header(bearer(scheme))
        );
        assert_eq!(status, StatusCode::OK, "{scheme:?}: {body}");
    }
    let missing = call!(app, test::TestRequest::get().uri("/v1/admin/catalog"));
    let malformed = [
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "BearerX admin-secret",
        "Bearer admin-secret extra",
        "Bearer wrong",
    ]
    .map(HeaderValue::from_static);
    let mut answers = vec![missing];
    for value in malformed
        .into_iter()
        .chain([HeaderValue::from_bytes(b"Bearer \xffadmin").unwrap()])
    {
        answers.push(call!(
            app,
            test::TestRequest::get()
                .uri("/v1/admin/catalog")
                .insert_header(("authorization", value))
        ));
    }
    for got in &answers {
        assert_problem(got, StatusCode::UNAUTHORIZED, "/problems/unauthorized");
        assert_eq!(
            got.1.get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }
}

/// The sample catalog with the tee's `front_text` charset removed: any text of the right length.
fn tee_without_charset() -> TestApp {
    let db = TestDb::sqlite();
    let dir = db.dir().join("catalog");
    common::copy_sample(&dir);
    let path = dir.join("catalog/classic-tee.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let edited = yaml.replace("    charset: \"A-Za-z0-9 !?.,'&-\"\n", "");
    assert_ne!(
        edited, yaml,
        "the tee's front_text has the charset this test removes"
    );
    std::fs::write(&path, edited).unwrap();
    start(db, &dir, |_| {})
}

#[actix_web::test]
async fn unprintable_customer_text_is_a_422_problem_not_a_500() {
    for app in [tee_without_charset(), app()] {
        for text in [
            "A\u{FFFE}",
            "\u{FFFF}",
            "ok\u{7}",
            "\u{1b}[31m",
            "\u{FDD0}",
            "\u{1FFFE}",
            "\u{10FFFF}",
        ] {
            let got = call!(
                app,
                test::TestRequest::post()
                    .uri("/v1/products/classic-tee/configure")
                    .set_json(json!({"selection": {"front_text": text}}))
            );
            assert_problem(
                &got,
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/invalid-text",
            );
            assert_eq!(got.2["option"], "front_text");
        }
        for (encoded, code) in [("%EF%BF%BE", "U+FFFE"), ("%EF%BF%BF", "U+FFFF")] {
            for extra in ["", "&print_position=center-chest"] {
                let got = call!(
                    app,
                    test::TestRequest::get().uri(&format!(
                        "/v1/products/classic-tee/preview?front_text={encoded}{extra}"
                    ))
                );
                assert_problem(
                    &got,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "/problems/invalid-text",
                );
                assert!(
                    got.2["detail"].as_str().unwrap().contains(code),
                    "{}",
                    got.2
                );
            }
        }
    }
    // Without a charset, printable text (tabs and line breaks included) is still accepted.
    let app = tee_without_charset();
    for text in ["Hello, wörld", "two\tcolumns", "é✓"] {
        let (status, _, body) = call!(
            app,
            test::TestRequest::post()
                .uri("/v1/products/classic-tee/configure")
                .set_json(json!({"selection": {"front_text": text}}))
        );
        assert_eq!(status, StatusCode::OK, "{text:?}: {body}");
    }
}

#[actix_web::test]
async fn the_conformance_harness_passes_a_conforming_response() {
    let app = app();
    let svc = test::init_service(contract::checked(web::Data::clone(&app))).await;
    let res = test::call_service(
        &svc,
        test::TestRequest::get().uri("/v1/products").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert!(body.as_array().is_some_and(|a| !a.is_empty()), "{body}");
    let seen = contract::seen();
    assert!(
        seen.contains(&("GET".into(), "/v1/products".into(), 200)),
        "{seen:?}"
    );
    assert!(
        Contract::served()
            .documented()
            .contains(&("GET".into(), "/v1/products".into(), 200))
    );
}

// `test` is actix's here: the standard attribute by its full path.
#[::core::prelude::v1::test]
fn the_conformance_harness_reports_what_does_not_conform() {
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things/{id}": {"get": {"responses": {
                "200": {"description": "a thing", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "304": {"description": "not modified"},
                "404": {"description": "no thing", "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }}},
            "/things/{id}/image": {"get": {"responses": {
                "200": {"description": "an image", "content": {"image/png": {}}}
            }}},
            "/things/special": {"get": {"responses": {
                "204": {"description": "nothing"}
            }}}
        },
        "components": {"schemas": {
            "Thing": {"type": "object", "required": ["id", "size"], "properties": {
                "id": {"type": "string"},
                "size": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}},
            "Tag": {"type": "string", "enum": ["a", "b"]},
            "Problem": {"type": "object", "required": ["type", "status"], "properties": {
                "type": {"type": "string"}, "status": {"type": "integer"}}}
        }}
    });
    let c = Contract::new(doc);
    let json = Some("application/json; charset=utf-8");
    let problem = Some("application/problem+json");
    // Conforming answers, with the template they matched.
    let ok = |r: Result<Option<contract::Seen>, String>| r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok(c.check(
            "GET",
            "/things/x1",
            200,
            json,
            br#"{"id": "x1", "size": 2, "tags": ["a"]}"#
        )),
        Some(("GET".into(), "/things/{id}".into(), 200))
    );
    assert_eq!(
        ok(c.check("GET", "/things/special", 204, None, b"")),
        Some(("GET".into(), "/things/special".into(), 204))
    );
    assert!(ok(c.check("GET", "/things/x1", 304, None, b"")).is_some());
    assert!(
        ok(c.check(
            "GET",
            "/things/x1/image",
            200,
            Some("image/png"),
            b"\x89PNG"
        ))
        .is_some()
    );
    assert!(
        ok(c.check(
            "GET",
            "/things/x1",
            404,
            problem,
            br#"{"type": "/p/x", "status": 404}"#
        ))
        .is_some()
    );
    // The router's answer to an undocumented route: a valid problem, not recorded.
    assert_eq!(
        ok(c.check(
            "POST",
            "/nowhere",
            404,
            problem,
            br#"{"type": "/p/nf", "status": 404}"#
        )),
        None
    );

    let err = |r: Result<Option<contract::Seen>, String>| r.expect_err("a mismatch");
    // A body that breaks its schema, through a reference inside a reference.
    let e = err(c.check(
        "GET",
        "/things/x1",
        200,
        json,
        br#"{"id": 5, "tags": ["c"]}"#,
    ));
    assert!(e.contains("\"size\" is a required property"), "{e}");
    assert!(e.contains("5 is not of type \"string\""), "{e}");
    assert!(e.contains("/tags/0"), "{e}");
    // An undocumented status, content type, missing or unexpected body, non-JSON.
    assert!(
        err(c.check("GET", "/things/x1", 500, problem, b"{}"))
            .contains("status 500 is not documented")
    );
    assert!(
        err(c.check("GET", "/things/x1", 200, Some("text/plain"), b"hi"))
            .contains("text/plain is not documented")
    );
    assert!(
        err(c.check("GET", "/things/x1", 404, json, b"{}"))
            .contains("application/json is not documented")
    );
    assert!(err(c.check("GET", "/things/x1", 200, None, b"")).contains("no body"));
    assert!(err(c.check("GET", "/things/special", 204, json, b"{}")).contains("not documented"));
    assert!(err(c.check("GET", "/things/x1", 200, json, b"{")).contains("not JSON"));
    // An undocumented route that is not a problem, and a problem that breaks the schema.
    assert!(err(c.check("GET", "/nowhere", 200, json, b"{}")).contains("no operation"));
    assert!(
        err(c.check("GET", "/nowhere", 404, problem, br#"{"status": "404"}"#)).contains("required")
    );

    // The served document: the product list is an array of summaries.
    let served = Contract::served();
    assert!(
        served
            .check("GET", "/v1/products", 200, json, b"[]")
            .is_ok()
    );
    let e = served
        .check("GET", "/v1/products", 200, json, br#"{"not": "a list"}"#)
        .expect_err("an object is not the list");
    assert!(e.contains("not of type \"array\""), "{e}");
    let e = served
        .check("GET", "/v1/products", 418, json, b"[]")
        .expect_err("418 is not documented");
    assert!(e.contains("not documented"), "{e}");
}
