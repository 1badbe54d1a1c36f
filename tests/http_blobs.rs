//! Shared storage over HTTP (issue 24): an upload on one instance previews and orders on another on the same database, print files are fetched from either, `GET /v1/uploads/{id}` returns the original bytes to an order system, the decode budget answers 503 with Retry-After, and retention deletes only unreferenced uploads; on SQLite and (when BESPOKE_TEST_POSTGRES_URL is set) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{BlobStoreKind, Settings};
use common::db::TestDb;
use common::http::{ADMIN, FEED, Res, send};
use serde_json::{Value, json};
use sha2::Digest;

/// An app of the sample catalog on `db`, keeping its files under `data` (its own folder).
fn start(db: &TestDb, data: &str, edit: impl FnOnce(&mut Settings)) -> web::Data<App> {
    let mut s = common::http::settings(&common::repo(), db);
    s.data_dir = db.dir().join(data);
    edit(&mut s);
    web::Data::new(App::start(s).unwrap())
}

/// A JPEG the customer sends (with an APP marker the re-encoding drops: the original keeps it).
fn photo_jpeg(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, shade])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    // A comment segment right after SOI: metadata a customer's file may carry.
    let mut with_comment = out[..2].to_vec();
    with_comment.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x0A]);
    with_comment.extend_from_slice(b"shop-42!");
    with_comment.extend_from_slice(&out[2..]);
    with_comment
}

fn png(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 256) as u8, shade, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(app: &web::Data<App>, bytes: &[u8]) -> Res {
    send(
        app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .set_payload(bytes.to_vec()),
    )
    .await
}

async fn upload_id(app: &web::Data<App>, bytes: &[u8]) -> String {
    let r = upload(app, bytes).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn preview(app: &web::Data<App>, id: &str) -> Res {
    send(
        app,
        test::TestRequest::get().uri(&format!("/v1/products/framed-print/preview?photo={id}")),
    )
    .await
}

/// The framed print with the photo, completed by configure.
async fn selection_with(app: &web::Data<App>, id: &str) -> Value {
    let r = send(
        app,
        test::TestRequest::post()
            .uri("/v1/products/framed-print/configure")
            .set_json(json!({"selection": {"photo": id}})),
    )
    .await;
    let doc = r.json();
    assert_eq!(doc["completion"]["needs_input"], json!([]), "{doc}");
    doc["completion"]["selection"].clone()
}

async fn order(app: &web::Data<App>, key: &str, selection: &Value) -> Res {
    send(
        app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("idempotency-key", key))
            .set_json(json!({"product": "framed-print", "selection": selection})),
    )
    .await
}

async fn original(app: &web::Data<App>, id: &str, key: Option<&str>) -> Res {
    let mut req = test::TestRequest::get().uri(&format!("/v1/uploads/{id}"));
    if let Some(k) = key {
        req = req.insert_header(("authorization", format!("Bearer {k}")));
    }
    send(app, req).await
}

#[actix_web::test]
async fn an_upload_on_one_instance_previews_and_orders_on_another() {
    for db in TestDb::all("an_upload_on_one_instance_previews_and_orders_on_another") {
        let a = start(&db, "data-a", |_| {});
        let b = start(&db, "data-b", |_| {});
        let sent = photo_jpeg(120, 80, 40);
        let id = upload_id(&a, &sent).await;

        // Instance B previews and orders with A's upload.
        let p = preview(&b, &id).await;
        assert_eq!(p.status, StatusCode::OK, "{}: {}", db.name, p.json());
        let sel = selection_with(&b, &id).await;
        assert_eq!(sel["photo"], id.as_str());
        let r = order(&b, "blob-1", &sel).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", db.name, r.json());
        let placed = r.json();
        assert_eq!(
            placed["uploads"],
            json!([{"option": "photo", "id": id, "url": format!("/v1/uploads/{id}")}]),
            "{}: the order links its upload",
            db.name
        );
        let order_id = placed["id"].as_str().unwrap().to_owned();

        // The print file rendered on B is fetched from A, byte for byte, and the order reads
        // the same on both.
        let print = |app: web::Data<App>| {
            let uri = format!("/v1/orders/{order_id}/print");
            async move {
                send(
                    &app,
                    test::TestRequest::get()
                        .uri(&uri)
                        .insert_header(("authorization", format!("Bearer {FEED}"))),
                )
                .await
            }
        };
        let from_a = print(a.clone()).await;
        let from_b = print(b.clone()).await;
        assert_eq!(from_a.status, StatusCode::OK, "{}", db.name);
        assert_eq!(from_a.content_type(), "image/png");
        assert_eq!(from_a.body, from_b.body, "{}: one print file", db.name);
        assert_eq!(from_a.header("etag"), from_b.header("etag"));
        let read = send(
            &a,
            test::TestRequest::get()
                .uri(&format!("/v1/orders/{order_id}"))
                .insert_header(("authorization", format!("Bearer {FEED}"))),
        )
        .await;
        assert_eq!(read.json()["uploads"], placed["uploads"]);
        assert_eq!(read.json()["preview_ref"], placed["preview_ref"]);

        // The order system downloads the original from either instance: the bytes as sent.
        for app in [&a, &b] {
            let got = original(app, &id, Some(FEED)).await;
            assert_eq!(got.status, StatusCode::OK, "{}", db.name);
            assert_eq!(
                got.body.as_ref(),
                sent.as_slice(),
                "{}: byte for byte",
                db.name
            );
            assert_eq!(got.content_type(), "image/jpeg");
            let sha = bespoke::config::hex(&sha2::Sha256::digest(&sent));
            assert_eq!(got.header("etag"), Some(format!("\"{sha}\"")));
            assert_eq!(
                got.header("cache-control").as_deref(),
                Some("private, max-age=31536000, immutable")
            );
            assert_eq!(
                got.header("x-content-type-options").as_deref(),
                Some("nosniff")
            );
            let again = send(
                app,
                test::TestRequest::get()
                    .uri(&format!("/v1/uploads/{id}"))
                    .insert_header(("authorization", format!("Bearer {ADMIN}")))
                    .insert_header(("if-none-match", format!("\"{sha}\""))),
            )
            .await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        }
    }
}

#[actix_web::test]
async fn originals_need_an_order_reader_key_and_unknown_ids_are_404() {
    let db = TestDb::sqlite();
    let app = start(&db, "data", |s| {
        s.api_keys.push(bespoke::config::ApiKey {
            name: "admin-only".into(),
            sha256: bespoke::config::ApiKey::hash("admin-only"),
            scopes: vec![bespoke::config::Scope::Admin],
        });
    });
    let id = upload_id(&app, &png(30, 20, 7)).await;
    let forbidden = original(&app, &id, Some("admin-only")).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json()["scope"], "orders:read");
    let anonymous = original(&app, &id, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.content_type(), "application/problem+json");
    let wrong = original(&app, &id, Some("not-a-key")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    for unknown in ["0".repeat(64), "nope".to_owned(), "A".repeat(64)] {
        let r = original(&app, &unknown, Some(FEED)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{unknown}");
        assert_eq!(r.json()["type"], "/problems/upload-not-found");
    }
    // A PNG comes back as the PNG sent.
    let sent = png(31, 20, 9);
    let id = upload_id(&app, &sent).await;
    let got = original(&app, &id, Some(FEED)).await;
    assert_eq!(got.content_type(), "image/png");
    assert_eq!(got.body.as_ref(), sent.as_slice());
}

#[actix_web::test]
async fn a_directory_store_is_single_node() {
    // The documented caveat, and the reason the database is the default: with files under
    // each instance's own directory, another instance does not know the upload.
    let db = TestDb::sqlite();
    let dir = |s: &mut Settings| {
        s.blob_store = BlobStoreKind::Directory;
        // The print area's files are made with the order (none left to a background job).
        s.print.inline_pixels = u64::MAX;
    };
    let a = start(&db, "data-a", dir);
    let b = start(&db, "data-b", dir);
    let id = upload_id(&a, &png(40, 30, 1)).await;
    assert_eq!(preview(&a, &id).await.status, StatusCode::OK);
    let on_b = preview(&b, &id).await;
    assert_eq!(on_b.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(on_b.json()["type"], "/problems/unknown-upload");
    // On its own node it keeps everything the database store keeps.
    let sel = selection_with(&a, &id).await;
    let r = order(&a, "dir-1", &sel).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let files = |folder: &str| {
        std::fs::read_dir(db.dir().join("data-a").join(folder))
            .unwrap()
            .count()
    };
    // The print area's PDF, PNG and SVG; the mock-up is rendered when first asked for.
    assert_eq!(
        (files("uploads"), files("originals"), files("prints")),
        (1, 1, 3)
    );
    let order_id = r.json()["id"].as_str().unwrap().to_owned();
    let mock_up = send(
        &a,
        test::TestRequest::get()
            .uri(&format!("/v1/orders/{order_id}/print"))
            .insert_header(("authorization", format!("Bearer {FEED}"))),
    )
    .await;
    assert_eq!(mock_up.status, StatusCode::OK);
    assert_eq!(files("prints"), 4);
    let got = original(&a, &id, Some(FEED)).await;
    assert_eq!(got.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_spent_decode_budget_answers_503_with_retry_after_and_nothing_is_lost() {
    let db = TestDb::sqlite();
    // A budget smaller than any decode: one at a time (a decode alone is always admitted).
    let app = start(&db, "data", |s| s.decode_budget = 1);
    let id = upload_id(&app, &png(64, 48, 3)).await;

    // While another decode holds the budget, uploads and previews that draw an upload wait.
    let held = app.decode_budget.try_acquire(1).unwrap();
    let busy = upload(&app, &png(65, 48, 3)).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.header("retry-after").as_deref(), Some("1"));
    assert_eq!(busy.content_type(), "application/problem+json");
    assert_eq!(busy.json()["type"], "/problems/busy");
    let p = preview(&app, &id).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE, "{}", p.json());
    assert_eq!(p.header("retry-after").as_deref(), Some("1"));
    drop(held);
    assert_eq!(preview(&app, &id).await.status, StatusCode::OK);

    // Parallel uploads of large images: some are refused, every one goes through on retry.
    let images: Vec<Vec<u8>> = (0..8).map(|k| png(1600, 1200, 10 + k)).collect();
    let mut refused = 0;
    let mut ids = vec![None; images.len()];
    for _round in 0..200 {
        let pending: Vec<usize> = (0..images.len()).filter(|k| ids[*k].is_none()).collect();
        if pending.is_empty() {
            break;
        }
        let answers =
            futures_util::future::join_all(pending.iter().map(|k| upload(&app, &images[*k]))).await;
        for (k, r) in pending.into_iter().zip(answers) {
            match r.status {
                StatusCode::CREATED => ids[k] = Some(r.json()["id"].as_str().unwrap().to_owned()),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
                    refused += 1;
                }
                other => panic!("{other}: {}", r.json()),
            }
        }
    }
    assert!(
        refused > 0,
        "a budget of one decode refuses parallel uploads"
    );
    let ids: Vec<String> = ids.into_iter().map(Option::unwrap).collect();
    for id in &ids {
        assert_eq!(original(&app, id, Some(FEED)).await.status, StatusCode::OK);
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), images.len(), "none lost");
    assert_eq!(app.decode_budget.in_use(), 0, "every permit given back");
}

#[actix_web::test]
async fn retention_deletes_only_uploads_no_design_or_order_uses() {
    let mut dbs: Vec<(TestDb, BlobStoreKind)> =
        TestDb::all("retention_deletes_only_uploads_no_design_or_order_uses")
            .into_iter()
            .map(|db| (db, BlobStoreKind::Database))
            .collect();
    dbs.push((TestDb::sqlite(), BlobStoreKind::Directory));
    for (db, kind) in dbs {
        let app = start(&db, "data", |s| s.blob_store = kind);
        let what = format!("{} / {kind:?}", db.name);
        let loose = upload_id(&app, &png(20, 20, 1)).await;
        let designed = upload_id(&app, &png(20, 20, 2)).await;
        let ordered = upload_id(&app, &png(20, 20, 3)).await;
        let sel = selection_with(&app, &designed).await;
        let d = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/designs")
                .set_json(json!({"product": "framed-print", "selection": sel})),
        )
        .await;
        assert_eq!(d.status, StatusCode::CREATED, "{what}: {}", d.json());
        let sel = selection_with(&app, &ordered).await;
        assert_eq!(
            order(&app, "keep-1", &sel).await.status,
            StatusCode::CREATED
        );
        let days = |n: u64| SystemTime::now() + Duration::from_secs(n * 24 * 3600);
        let stored = |id: String| {
            let app = app.clone();
            async move { original(&app, &id, Some(FEED)).await.status == StatusCode::OK }
        };

        // Within retention nothing goes.
        let p = app.purge_uploads(days(29)).unwrap();
        assert_eq!(p.deleted, 0, "{what}");
        // Past it, only the upload nothing refers to.
        let p = app.purge_uploads(days(31)).unwrap();
        assert_eq!(p.deleted, 1, "{what}: {p:?}");
        assert!(!stored(loose.clone()).await, "{what}");
        assert!(stored(designed.clone()).await, "{what}");
        assert!(stored(ordered.clone()).await, "{what}");
        let gone = preview(&app, &loose).await;
        assert_eq!(gone.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        // Once the design expired (90 days), its upload goes too; the order's stays.
        let p = app.purge_uploads(days(91)).unwrap();
        assert_eq!(p.deleted, 1, "{what}: {p:?}");
        assert!(!stored(designed).await, "{what}");
        assert!(stored(ordered.clone()).await, "{what}");
        assert_eq!(app.purge_uploads(days(3650)).unwrap().deleted, 0, "{what}");
        assert_eq!(preview(&app, &ordered).await.status, StatusCode::OK);
    }
}

/// The two stores behind the interface answer alike: first write kept, checksums, deletes,
/// listings paged by (created, id), bounds on ids, content types and sizes. (`test` is
/// actix's here: the standard attribute by its full path.)
#[::core::prelude::v1::test]
fn both_blob_stores_keep_the_first_write_and_list_oldest_first() {
    use bespoke::preview::blob::{BlobError, BlobKind, BlobStore, FsBlobStore, MAX_BLOB_BYTES};
    let mut stores: Vec<(String, Box<dyn BlobStore>, Option<TestDb>)> = Vec::new();
    for db in TestDb::all("both_blob_stores_keep_the_first_write_and_list_oldest_first") {
        let store = bespoke::db::DbBlobStore::new(db.open());
        stores.push((db.name.to_owned(), Box::new(store), Some(db)));
    }
    let dir = TestDb::sqlite();
    stores.push((
        "directory".into(),
        Box::new(FsBlobStore::new(dir.dir().join("blobs")).unwrap()),
        Some(dir),
    ));
    for (name, store, _db) in &stores {
        let (k, id) = (BlobKind::Print, "abc-print150");
        assert!(store.get(k, id).unwrap().is_none(), "{name}");
        assert!(store.put(k, id, "image/png", b"first").unwrap(), "{name}");
        assert!(!store.put(k, id, "image/png", b"second").unwrap(), "{name}");
        let got = store.get(k, id).unwrap().unwrap();
        assert_eq!(got.bytes, b"first", "{name}: the first write is kept");
        assert_eq!(got.info.content_type, "image/png");
        assert_eq!(got.info.size, 5);
        assert_eq!(
            got.info.sha256,
            bespoke::config::hex(&sha2::Sha256::digest(b"first"))
        );
        // Kinds are separate id spaces.
        assert!(!store.contains(BlobKind::Upload, id).unwrap(), "{name}");
        assert!(store.contains(k, id).unwrap());

        // Listing: oldest first, paged after the last entry, bounded by `before`.
        for n in 0..5 {
            store
                .put(BlobKind::Original, &format!("id-{n}"), "image/jpeg", &[n])
                .unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
        let later = SystemTime::now() + Duration::from_secs(1);
        let first = store
            .list_older_than(BlobKind::Original, later, None, 2)
            .unwrap();
        let ids = |v: &[bespoke::preview::blob::Listed]| {
            v.iter().map(|l| l.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ["id-0", "id-1"], "{name}");
        let rest = store
            .list_older_than(BlobKind::Original, later, first.last(), 10)
            .unwrap();
        assert_eq!(ids(&rest), ["id-2", "id-3", "id-4"], "{name}");
        let none = store
            .list_older_than(BlobKind::Original, SystemTime::UNIX_EPOCH, None, 10)
            .unwrap();
        assert!(none.is_empty(), "{name}");

        assert!(store.delete(BlobKind::Original, "id-0").unwrap());
        assert!(!store.delete(BlobKind::Original, "id-0").unwrap());
        assert!(store.get(BlobKind::Original, "id-0").unwrap().is_none());

        for bad in ["", "../etc/passwd", "UPPER", &"a".repeat(200)] {
            assert!(
                matches!(store.get(k, bad), Err(BlobError::BadId(_))),
                "{name}: {bad}"
            );
        }
        assert!(matches!(
            store.put(k, "x", "not a type", b"1"),
            Err(BlobError::BadContentType(_))
        ));
        assert!(matches!(
            store.put(k, "big", "image/png", &vec![0; MAX_BLOB_BYTES + 1]),
            Err(BlobError::TooLarge { .. })
        ));
    }
}

#[actix_web::test]
async fn files_an_earlier_version_kept_are_adopted_once() {
    let mut dbs: Vec<(TestDb, BlobStoreKind)> =
        TestDb::all("files_an_earlier_version_kept_are_adopted_once")
            .into_iter()
            .map(|db| (db, BlobStoreKind::Database))
            .collect();
    dbs.push((TestDb::sqlite(), BlobStoreKind::Directory));
    for (db, kind) in dbs {
        let what = format!("{} / {kind:?}", db.name);
        // What an earlier version left: <data>/uploads/<id>.png and <data>/prints/<ref>.png.
        let data = db.dir().join("legacy");
        let up = bespoke::preview::upload::accept(
            &png(50, 40, 77),
            &bespoke::preview::upload::UploadLimits::default(),
        )
        .unwrap();
        std::fs::create_dir_all(data.join("uploads")).unwrap();
        std::fs::create_dir_all(data.join("prints")).unwrap();
        std::fs::write(data.join(format!("uploads/{}.png", up.id)), &up.bytes).unwrap();
        let print = png(10, 10, 5);
        std::fs::write(data.join("prints/abc123-print150.png"), &print).unwrap();

        let app = start(&db, "legacy", |s| {
            s.blob_store = kind;
            // (a PostgreSQL test database gives a fresh folder at each `dir()`)
            s.data_dir = data.clone();
        });
        assert_eq!(preview(&app, &up.id).await.status, StatusCode::OK, "{what}");
        let got = original(&app, &up.id, Some(FEED)).await;
        assert_eq!(got.status, StatusCode::OK, "{what}");
        assert_eq!(
            got.body.as_ref(),
            up.bytes.as_slice(),
            "{what}: the PNG, the only bytes kept"
        );
        let stored = app
            .blobs
            .get(bespoke::preview::blob::BlobKind::Print, "abc123-print150")
            .unwrap()
            .unwrap();
        assert_eq!(stored.bytes, print, "{what}");
        // Which designs and orders used it was never recorded: it is kept.
        let far = SystemTime::now() + Duration::from_secs(4000 * 24 * 3600);
        assert_eq!(app.purge_uploads(far).unwrap().deleted, 0, "{what}");
        assert_eq!(preview(&app, &up.id).await.status, StatusCode::OK);
        // Once: the marker is written, a restart adopts nothing again.
        assert!(data.join(bespoke::app::uploads::ADOPTED_MARKER).exists());
        assert_eq!(
            app.adopt_legacy_files().unwrap(),
            bespoke::app::uploads::Adopted::default()
        );
    }
}
