//! The storefront contract over HTTP (in-process, every response checked against /openapi.json):
//! completions keep customer input, values are typed, configure's version pins orders, preview
//! URLs cannot collide with option names, conflicts keep the rest usable, designs, value images,
//! and a property: the completion posted as an order gives the same order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::http::{ADMIN, Res, TestApp, send as send_to};
use serde_json::{Value, json};

fn app_on(catalog: &std::path::Path) -> TestApp {
    TestApp::start(catalog, |s| {
        s.warm_up.level = bespoke::config::WarmUp::Off;
    })
}

fn app() -> TestApp {
    app_on(&common::repo())
}

async fn send(app: &TestApp, req: test::TestRequest) -> Res {
    send_to(app, req).await
}

async fn configure(app: &TestApp, product: &str, selection: Value) -> Value {
    let r = send(
        app,
        test::TestRequest::post()
            .uri(&format!("/v1/products/{product}/configure"))
            .set_json(json!({ "selection": selection })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    r.json()
}

async fn order(app: &TestApp, key: &str, body: Value) -> Res {
    send(
        app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("Idempotency-Key", key))
            .set_json(body),
    )
    .await
}

fn option<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("no option {id}"))
}

/// Defect 1: the completion keeps the customer's text (it used to be its length) and an order
/// of it prints the text.
#[actix_web::test]
async fn the_completion_keeps_customer_text_and_orders_as_is() {
    let app = app();
    let answer = configure(
        &app,
        "classic-tee",
        json!({"color": "heather", "size": "L", "front_text": "HI MOM"}),
    )
    .await;
    let completion = &answer["completion"];
    assert_eq!(
        completion["selection"]["front_text"], "HI MOM",
        "{completion}"
    );
    assert_eq!(completion["selection"]["color"], "heather");
    assert_eq!(completion["needs_input"], json!([]));
    let r = order(
        &app,
        "hi-mom",
        json!({"product": "classic-tee", "selection": completion["selection"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["selection"]["front_text"], "HI MOM");
}

/// Defect 2: one typed representation per option kind, in every part of the answer.
#[actix_web::test]
async fn values_are_typed_the_same_everywhere() {
    let app = app();
    let answer = configure(
        &app,
        "classic-tee",
        json!({"quantity": 30, "sleeve_print": true, "front_text": "HELLO"}),
    )
    .await;
    assert_eq!(option(&answer, "quantity")["selected"], json!(30));
    assert_eq!(option(&answer, "sleeve_print")["selected"], json!(true));
    assert_eq!(option(&answer, "front_text")["selected"], json!("HELLO"));
    let sleeve: Vec<&Value> = option(&answer, "sleeve_print")["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["value"])
        .collect();
    assert_eq!(sleeve, [&json!(false), &json!(true)]);
    // Text lengths and numbers are numbers; defaults have the value's type.
    assert!(option(&answer, "front_text")["range"]["max"].is_i64());
    assert_eq!(option(&answer, "quantity")["default"], json!(1));
    assert_eq!(option(&answer, "sleeve_print")["default"], json!(false));
    let c = &answer["completion"]["selection"];
    assert_eq!(c["quantity"], json!(30));
    assert_eq!(c["sleeve_print"], json!(true));
    // The product schema and the order use the same types.
    let r = send(
        &app,
        test::TestRequest::get().uri("/v1/products/classic-tee"),
    )
    .await;
    let detail = r.json();
    let q = detail["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "quantity")
        .unwrap();
    assert_eq!(q["default"], json!(1));
    let r = order(
        &app,
        "typed",
        json!({"product": "classic-tee", "selection": c}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["selection"]["quantity"], json!(30));
    assert_eq!(r.json()["selection"]["sleeve_print"], json!(true));
    // JSON has one number type: 30.0 is the integer 30; 2.5 is no option's value.
    let answer = configure(&app, "classic-tee", json!({"quantity": 30.0})).await;
    assert_eq!(option(&answer, "quantity")["selected"], json!(30));
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .set_json(json!({"selection": {"quantity": 2.5}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["type"], "/problems/malformed-json");
    // Strings for booleans and numbers are refused, not guessed.
    for bad in [json!({"sleeve_print": "yes"}), json!({"quantity": "30"})] {
        let r = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/products/classic-tee/configure")
                .set_json(json!({ "selection": bad })),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json()["type"], "/problems/wrong-type");
    }
}

/// Defect 3: the version configure answers with pins an order, and an order of a partial
/// selection is completed with defaults exactly as configure completes it.
#[actix_web::test]
async fn configures_version_pins_orders_which_complete_with_defaults() {
    let app = app();
    let selection = json!({"color": "black", "size": "S", "front_text": "GO"});
    let answer = configure(&app, "classic-tee", selection.clone()).await;
    let version = answer["version"].as_str().unwrap();
    for (key, field, pin) in [
        ("pin-product", "catalog_version", version),
        ("pin-alias", "version", version),
        (
            "pin-catalog",
            "catalog_version",
            answer["catalog_version"].as_str().unwrap(),
        ),
    ] {
        let r = order(
            &app,
            key,
            json!({"product": "classic-tee", "selection": selection, field: pin}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{key}: {}", r.json());
        let o = r.json();
        assert_eq!(o["selection"], answer["completion"]["selection"], "{key}");
        assert_eq!(
            o["filled"], answer["completion"]["filled"],
            "{key}: the stored spec says what was filled"
        );
    }
    let r = order(
        &app,
        "pin-unknown",
        json!({"product": "classic-tee", "selection": selection, "catalog_version": "f00d"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["type"], "/problems/unknown-catalog-version");
}

/// Defect 4: preview URLs address choices as `o.<option>`, so an option named `width`,
/// `format` or `v` cannot change the image's size, format or pin.
#[actix_web::test]
async fn option_names_never_collide_with_preview_parameters() {
    let dir = common::db::TestDb::sqlite();
    let root = dir.dir().join("catalog-dir");
    common::copy_sample(&root);
    std::fs::write(
        root.join("catalog/poster.yaml"),
        r#"id: poster
name: Poster
currency: EUR
base_price: "10.00"
options:
  width:
    type: integer
    min: 100
    max: 300
    step: 100
    default: 100
  format:
    type: choice
    values: [a4, a3]
    default: a4
preview:
  template: assets/poster.svg
  size: [200, 100]
  bind:
    sheet: { visible: format == a3 }
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("assets/poster.svg"),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100"><rect id="sheet" width="200" height="100" fill="#336699"/></svg>"##,
    )
    .unwrap();
    let app = app_on(&root);
    let answer = configure(&app, "poster", json!({"width": 100, "format": "a3"})).await;
    let url = answer["preview_url"].as_str().unwrap();
    assert!(
        url.contains("o.width=100") && url.contains("o.format=a3"),
        "{url}"
    );
    let r = send(&app, test::TestRequest::get().uri(url)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "image/png");
    let img = image::load_from_memory(&r.body).unwrap();
    assert_eq!(img.width(), 512, "the preview width, not the option's 100");
}

/// Defect 5: an order naming a well-formed upload id that is not stored is a 422, not a 500.
#[actix_web::test]
async fn unknown_uploads_are_refused_with_a_problem() {
    let app = app();
    let missing = "ab".repeat(32);
    let r = order(
        &app,
        "ghost-upload",
        json!({"product": "framed-print", "selection": {"photo": missing}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.json()["type"], "/problems/unknown-upload");
    let r = send(
        &app,
        test::TestRequest::get().uri(&format!(
            "/v1/products/framed-print/preview?o.photo={missing}"
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Defect 7: a conflict keeps availability relative to what the repair keeps, and the repaired
/// selection configures cleanly.
#[actix_web::test]
async fn a_conflict_reports_the_repair_and_keeps_the_rest_available() {
    let app = app();
    let answer = configure(
        &app,
        "classic-tee",
        json!({"color": "heather", "fabric": "polyester"}),
    )
    .await;
    assert_eq!(answer["consistent"], false);
    assert_eq!(answer["availability"], "repaired_selection");
    assert_eq!(answer["conflict"]["rules"][0]["id"], "heather-is-cotton");
    // Unrelated options are not greyed out.
    for id in ["size", "print_position"] {
        let o = option(&answer, id);
        assert!(
            o["values"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["available"] == true),
            "{o}"
        );
    }
    // The dropped choice shows why it is unavailable with what is kept.
    let heather = option(&answer, "color")["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["value"] == "heather")
        .unwrap()
        .clone();
    assert_eq!(heather["available"], false);
    assert_eq!(heather["reason"]["choices"][0]["option"], "fabric");
    let repair = &answer["repair"];
    assert_eq!(repair["drop"], json!(["color"]));
    let fixed = configure(&app, "classic-tee", repair["selection"].clone()).await;
    assert_eq!(fixed["consistent"], true, "{fixed}");
}

/// Designs: saved completed and priced, read back, ordered at their pinned version; a
/// conflicting one is refused; an unknown id is a 404.
#[actix_web::test]
async fn designs_are_saved_read_and_ordered() {
    let app = app();
    let answer = configure(
        &app,
        "classic-tee",
        json!({"size": "XL", "front_text": "CART"}),
    )
    .await;
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({
                "product": "classic-tee",
                "selection": {"size": "XL", "front_text": "CART"},
                "version": answer["version"],
            })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let design = r.json();
    let id = design["id"].as_str().unwrap().to_owned();
    assert_eq!(design["selection"], answer["completion"]["selection"]);
    assert_eq!(design["version"], answer["version"]);
    assert!(
        design["preview_url"]
            .as_str()
            .unwrap()
            .contains("o.front_text=CART")
    );
    assert!(design["share_url"].as_str().unwrap().contains(&id));
    assert!(design["expires_at"].is_string());
    let r = send(
        &app,
        test::TestRequest::get().uri(&format!("/v1/designs/{id}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), design);
    // The stored selection keeps the order chosen (the request's, then what was filled).
    let raw = std::str::from_utf8(&r.body).unwrap();
    let at = |k: &str| raw.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("front_text") < at("size") && at("size") < at("color"),
        "{raw}"
    );
    let r = order(
        &app,
        "from-design",
        json!({"design": id, "customer_ref": "c-1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let o = r.json();
    assert_eq!(o["design_id"], json!(id));
    assert_eq!(o["selection"], design["selection"]);
    assert_eq!(o["quote"], design["quote"]);
    assert_eq!(o["links"]["design"], json!(format!("/v1/designs/{id}")));
    // A design with its own selection is ambiguous.
    let r = order(
        &app,
        "ambiguous",
        json!({"design": id, "selection": {"size": "M"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({
                "product": "classic-tee",
                "selection": {"color": "heather", "fabric": "polyester"},
            })),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["type"], "/problems/invalid-configuration");
    let r = send(
        &app,
        test::TestRequest::get().uri("/v1/designs/0190aaaa-0000-7000-8000-000000000000"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["type"], "/problems/design-not-found");
}

/// Value images are served under the URL configure gives, immutable when pinned.
#[actix_web::test]
async fn value_images_are_served_under_pinned_urls() {
    let app = app();
    let answer = configure(&app, "framed-print", json!({})).await;
    let art = option(&answer, "artwork")["values"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(&app, test::TestRequest::get().uri(&art)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "image/svg+xml");
    assert!(std::str::from_utf8(&r.body).unwrap().contains("<svg"));
    let r = send(
        &app,
        test::TestRequest::get().uri("/v1/products/framed-print/options/artwork/values/nope/image"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The CLI's `configure --json` is the very document the HTTP API answers.
#[actix_web::test]
async fn the_cli_json_is_the_http_answer() {
    let app = app();
    let answer = configure(
        &app,
        "classic-tee",
        json!({"color": "heather", "quantity": 3, "front_text": "A B"}),
    )
    .await;
    let (code, out, err) = common::bespoke(&[
        "configure",
        "classic-tee",
        // In the order the request's (sorted) JSON object names them: a selection is ordered.
        "color=heather",
        "front_text=A B",
        "quantity=3",
        "--json",
        "--catalog",
        &common::repo().to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli, answer);
}

/// A small deterministic generator (no dependency on the order tests run in).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}

/// A random value of an option, from its configure state (any value, available or not).
fn random_value(rng: &mut Rng, o: &Value, upload: &str) -> Option<Value> {
    match o["type"].as_str().unwrap() {
        "choice" | "boolean" => {
            let values = o["values"].as_array().unwrap();
            Some(values[rng.below(values.len())]["value"].clone())
        }
        "integer" | "quantity" => {
            let r = &o["range"];
            let (lo, hi, step) = (
                r["declared_min"].as_i64().unwrap(),
                r["declared_max"].as_i64().unwrap(),
                r["step"].as_i64().unwrap(),
            );
            let n = usize::try_from((hi - lo) / step + 1).unwrap();
            Some(json!(
                lo + step * i64::try_from(rng.below(n.min(50))).unwrap()
            ))
        }
        "text" => {
            let max = o["text"]["max_length"].as_u64().unwrap().min(8);
            let len = 1 + rng.below(usize::try_from(max).unwrap().max(1));
            let text: String = (0..len)
                .map(|_| char::from(b'A' + u8::try_from(rng.below(26)).unwrap()))
                .collect();
            Some(json!(text))
        }
        "upload" => Some(json!(upload)),
        _ => None,
    }
}

/// The property: for random selections of every sample product, the completion posted as an
/// order gives 201 and the stored selection equals the completion value for value.
#[actix_web::test]
async fn the_completion_posted_as_an_order_gives_the_same_order() {
    let app = app();
    // One real upload for upload options.
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(32, 24, image::Rgba([200, 40, 40, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .insert_header(("content-type", "image/png"))
            .set_payload(png),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let upload = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(&app, test::TestRequest::get().uri("/v1/products")).await;
    let products: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ordered, mut conflicts) = (0, 0);
    for product in &products {
        let empty = configure(&app, product, json!({})).await;
        for case in 0..12 {
            let mut selection = serde_json::Map::new();
            for o in empty["options"].as_array().unwrap() {
                if rng.below(3) == 0
                    && let Some(v) = random_value(&mut rng, o, &upload)
                {
                    selection.insert(o["id"].as_str().unwrap().to_owned(), v);
                }
            }
            let r = send(
                &app,
                test::TestRequest::post()
                    .uri(&format!("/v1/products/{product}/configure"))
                    .set_json(json!({ "selection": selection })),
            )
            .await;
            // Texts outside a product's charset or pattern are refused as such; never a 5xx.
            assert!(
                r.status.is_success() || r.status == StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                r.json()
            );
            if !r.status.is_success() {
                continue;
            }
            let answer = r.json();
            let Some(completion) = answer["completion"].as_object() else {
                assert_eq!(answer["consistent"], false, "{answer}");
                conflicts += 1;
                continue;
            };
            // Every value the customer gave is kept as given.
            for (k, v) in &selection {
                assert_eq!(&completion["selection"][k], v, "{product}: {k}");
            }
            if completion["needs_input"] != json!([]) {
                continue;
            }
            let r = order(
                &app,
                &format!("prop-{product}-{case}"),
                json!({"product": product, "selection": completion["selection"]}),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{product} {selection:?}: {}",
                r.json()
            );
            let stored = r.json();
            assert_eq!(stored["selection"], completion["selection"], "{product}");
            assert_eq!(stored["filled"], json!([]), "a completion needs no filling");
            ordered += 1;
        }
    }
    assert!(
        ordered >= 30,
        "only {ordered} orders ({conflicts} conflicts)"
    );
}

/// A design is priced at its pinned version: after the merchant raises the price, ordering the
/// design still gives the design's quote, while a new order gets the new price.
#[actix_web::test]
async fn a_design_is_ordered_at_its_pinned_version() {
    let dir = common::db::TestDb::sqlite();
    let root = dir.dir().join("catalog-dir");
    common::copy_sample(&root);
    let app = app_on(&root);
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({
                "product": "classic-tee",
                "selection": {"size": "M", "color": "white"},
            })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let design = r.json();
    let path = root.join("catalog/classic-tee.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("base_price: \"19.00\""));
    std::fs::write(
        &path,
        text.replace("base_price: \"19.00\"", "base_price: \"25.00\""),
    )
    .unwrap();
    let status = app.0.reload(bespoke::app::ReloadTrigger::Admin);
    assert_eq!(
        status.outcome,
        bespoke::app::ReloadOutcome::Ok,
        "{status:?}"
    );
    let r = order(&app, "pinned-design", json!({"design": design["id"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["quote"], design["quote"]);
    assert_eq!(r.json()["catalog_version"], design["catalog_version"]);
    let r = order(
        &app,
        "new-price",
        json!({"product": "classic-tee", "selection": design["selection"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_ne!(r.json()["quote"]["total"], design["quote"]["total"]);
}

/// A tour of the API: one successful call of every documented operation, each checked against
/// the document; then every (method, path) the document declares has been answered.
#[actix_web::test]
async fn every_documented_operation_is_exercised_and_conforms() {
    use common::contract::Contract;
    let app = app();
    let auth = ("Authorization", format!("Bearer {ADMIN}"));
    let get = |uri: &str| test::TestRequest::get().uri(uri);
    for uri in [
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/v1/products",
        "/v1/products/framed-print",
    ] {
        let r = send(&app, get(uri)).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
    }
    let answer = configure(&app, "framed-print", json!({"frame": "oak"})).await;
    let preview = answer["preview_url"].as_str().unwrap().to_owned();
    assert_eq!(send(&app, get(&preview)).await.status, StatusCode::OK);
    let image = option(&answer, "artwork")["values"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(send(&app, get(&image)).await.status, StatusCode::OK);
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(16, 16, image::Rgba([0, 90, 200, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .set_payload(png),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let upload = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({
                "product": "framed-print", "selection": {"photo": upload, "frame": "oak"},
            })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let design = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(&app, get(&format!("/v1/designs/{design}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = order(&app, "tour", json!({"design": design})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(&app, get("/v1/orders").insert_header(auth.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    for uri in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/events"),
        format!("/v1/orders/{id}/print"),
        format!("/v1/uploads/{upload}"),
    ] {
        let r = send(&app, get(&uri).insert_header(auth.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
    }
    // The print area's files, once the print job has made them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let files = loop {
        let r = send(
            &app,
            get(&format!("/v1/orders/{id}/files")).insert_header(auth.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        if r.json()["state"] != "pending" {
            break r.json();
        }
        assert!(std::time::Instant::now() < deadline, "files still pending");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(files["state"], "ready", "{files}");
    let url = files["files"][0]["url"].as_str().unwrap().to_owned();
    let r = send(&app, get(&url).insert_header(auth.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{url}");
    let r = send(
        &app,
        test::TestRequest::post()
            .uri(&format!("/v1/orders/{id}/status"))
            .insert_header(auth.clone())
            .insert_header(("If-Match", "\"1\""))
            .set_json(json!({"to": "accepted"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let r = send(&app, get("/v1/admin/catalog").insert_header(auth.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/admin/reload")
            .insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/admin/check")
            .insert_header(auth.clone())
            .set_json(json!({"files": {}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["ok"], true);
    let r = send(
        &app,
        get("/v1/admin/catalog-versions").insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let hash = r.json()[0]["hash"].as_str().unwrap().to_owned();
    let r = send(
        &app,
        get(&format!("/v1/admin/catalog-versions/{hash}")).insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/admin/products/classic-tee/history")
            .insert_header(auth.clone())
            .insert_header(("content-type", "text/csv"))
            .set_payload("size,color\nL,black\n"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let r = send(&app, get("/v1/products/classic-tee/popular?limit=1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let r = send(
        &app,
        test::TestRequest::delete()
            .uri("/v1/admin/customers/c-9/history")
            .insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    // Webhooks (a public address literal: nothing is resolved, and no event follows).
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/admin/webhooks")
            .insert_header(auth.clone())
            .set_json(
                json!({"url": "https://93.184.216.34/hooks", "events": ["order.created"],
                             "secret": "0123456789abcdef"}),
            ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let hook = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(&app, get("/v1/admin/webhooks").insert_header(auth.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        get(&format!("/v1/admin/webhooks/{hook}/deliveries")).insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        test::TestRequest::delete()
            .uri(&format!("/v1/admin/webhooks/{hook}"))
            .insert_header(auth.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(&app, get("/metrics").insert_header(auth.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    let operations = |set: &std::collections::BTreeSet<common::contract::Seen>| {
        set.iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let documented = operations(&Contract::served().documented());
    let seen = operations(&common::contract::seen());
    let missing: Vec<_> = documented.difference(&seen).collect();
    assert!(missing.is_empty(), "operations never answered: {missing:?}");
}

/// A documented path asked with a method it does not take is a 405 problem with `Allow`.
#[actix_web::test]
async fn a_known_path_with_another_method_is_405() {
    let app = app();
    let r = send(
        &app,
        test::TestRequest::delete().uri("/v1/products/classic-tee"),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.header("allow").as_deref(), Some("GET"));
    let r = send(&app, test::TestRequest::get().uri("/v1/nothing-here")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// With no time for reasons (`explain_within` zero), configure defers each reason the engine
/// does not know yet (`reason: null`, `reason_deferred: true`); `POST .../explain` gives it,
/// the same as an answer with every reason; an available value explains as available; the
/// deferred answer is not cached, so asking again after the explanation gives the reason.
#[actix_web::test]
async fn deferred_reasons_are_given_on_request() {
    let quick = TestApp::start(&common::repo(), |s| {
        s.warm_up.level = bespoke::config::WarmUp::Off;
        s.explain_within = Some(std::time::Duration::ZERO);
    });
    let full = app();
    let sel = json!({"fabric": "polyester"});
    let value = |answer: &Value, option: &str, v: &str| {
        option_values(answer, option)
            .into_iter()
            .find(|x| x["value"] == v)
            .unwrap()
    };
    let answer = configure(&quick, "classic-tee", sel.clone()).await;
    let heather = value(&answer, "color", "heather");
    assert_eq!(heather["available"], false);
    assert_eq!(heather["reason"], Value::Null, "{heather}");
    assert_eq!(heather["reason_deferred"], true);
    let reference = value(
        &configure(&full, "classic-tee", sel.clone()).await,
        "color",
        "heather",
    );
    assert_eq!(reference["reason_deferred"], false);
    assert_eq!(reference["reason"]["rules"][0]["id"], "heather-is-cotton");

    let explain = |body: Value| {
        send(
            &quick,
            test::TestRequest::post()
                .uri("/v1/products/classic-tee/explain")
                .set_json(body),
        )
    };
    let r = explain(json!({"selection": sel, "option": "color", "value": "heather"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let why = r.json();
    assert_eq!(why["available"], false);
    assert_eq!(why["value"], "heather");
    assert_eq!(why["reason"], reference["reason"]);

    let open = option_values(&answer, "color")
        .into_iter()
        .find(|x| x["available"] == true)
        .unwrap();
    let r = explain(json!({"selection": sel, "option": "color", "value": open["value"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["available"], true);
    assert_eq!(r.json()["reason"], Value::Null);

    let r = explain(json!({"selection": sel, "option": "colour", "value": "x"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
    assert_eq!(r.json()["type"], "/problems/unknown-option");
    assert_eq!(r.json()["suggestion"], "color");
    let r = explain(json!({"selection": sel, "option": "color", "value": "no-such-color"})).await;
    assert!(r.status.is_client_error(), "{}", r.json());

    // Known now: the same request recalls it within no time at all.
    let again = configure(&quick, "classic-tee", sel).await;
    let heather = value(&again, "color", "heather");
    assert_eq!(heather["reason_deferred"], false, "{heather}");
    assert_eq!(heather["reason"], reference["reason"]);
}

fn option_values(answer: &Value, id: &str) -> Vec<Value> {
    option(answer, id)["values"].as_array().unwrap().clone()
}
