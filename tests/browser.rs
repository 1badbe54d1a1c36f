//! The reference storefront in a real browser (headless Chromium over WebDriver): from the product list to an order found through the order API.
//!
//! Debian's `chromium` and `chromedriver`, driven with fantoccini, through the product list and
//! the configurators of classic-tee, custom-desk and framed-print; screenshots at 1280 and
//! 360 px.
//!
//! One test binary and one browser test, so CI starts Chromium once. It runs the `bespoke` binary
//! itself (a temporary SQLite database and data dir, `--warm-up off`), so what the browser sees
//! is exactly what a shop serves. Without `chromium` and `chromedriver` on the PATH it says it
//! was skipped and passes, unless `BESPOKE_REQUIRE_BROWSER=1` (CI) makes that a failure.
//! `BESPOKE_UPDATE_SCREENSHOTS=1` copies the screenshots it saves under `target/` to `docs/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The bearer token of the test's `orders:read` key (the server keeps its SHA-256 only).
const TOKEN: &str = "browser-test-orders-read";

/// How long one expected change on the page may take (debounces, renders, a cold engine).
const WAIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An executable found on the PATH (or in the directories Debian installs Chromium to).
fn program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/lib/chromium"].map(PathBuf::from))
        .collect::<Vec<_>>();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// One HTTP/1.1 exchange with `Connection: close`: the status, the head (lower-case) and the
/// body bytes; `None` when nothing answers.
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).ok()?;
    // Read to the end of the body its Content-Length gives (chromedriver keeps the
    // connection open), else to the end of the stream.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut chunk).ok()?;
        buf.extend_from_slice(&chunk[..n]);
        let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if n == 0 {
                return None;
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let body = buf.len() - split - 4;
        if n == 0 || length.is_some_and(|l| body >= l) {
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            return Some((status, head, buf[split + 4..].to_vec()));
        }
    }
}

fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    try_http(port, method, path, headers)
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {path}"))
}

fn get_json(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = http(port, "GET", path, headers);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A child process killed (by its own handle) when the test ends, however it ends.
struct Process {
    child: Child,
    name: &'static str,
    /// Where its standard error goes (a file: a pipe nobody reads could fill and block it).
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        let err = std::fs::read_to_string(&self.log).unwrap_or_default();
        Some(format!("{} exited ({status}): {err}", self.name))
    }
}

/// Waits until `GET path` answers 200, or panics with what the process said.
fn wait_ready(proc: &mut Process, port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(why) = proc.exited() {
            panic!("{why}");
        }
        if try_http(port, "GET", path, &[]).is_some_and(|(status, ..)| status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} did not get ready on port {port}", proc.name);
}

/// The temporary directory of one run, removed at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bespoke serve` on the sample catalog, with an `orders:read` key.
fn start_server(dir: &Path) -> (Process, u16) {
    let port = free_port();
    let log = dir.join("bespoke.log");
    let keys = dir.join("keys.yaml");
    let sha = bespoke::config::hex(&Sha256::digest(TOKEN.as_bytes()));
    std::fs::write(
        &keys,
        format!("keys:\n  - name: browser-test\n    sha256: {sha}\n    scopes: [orders:read]\n"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_bespoke"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("db.sqlite").display()))
        .arg("--catalog")
        .arg(repo())
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--api-keys")
        .arg(&keys)
        .args(["--warm-up", "off", "--no-watch"])
        .env("BESPOKE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut server = Process {
        child,
        name: "bespoke serve",
        log,
    };
    wait_ready(&mut server, port, "/readyz");
    (server, port)
}

fn start_chromedriver(driver: &Path, dir: &Path) -> (Process, u16) {
    let port = free_port();
    let log = dir.join("chromedriver.log");
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut proc = Process {
        child,
        name: "chromedriver",
        log,
    };
    wait_ready(&mut proc, port, "/status");
    (proc, port)
}

#[test]
fn the_storefront_configures_prices_previews_saves_and_orders_in_a_browser() {
    let required = std::env::var("BESPOKE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let chromium = program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = program(&["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        assert!(
            !required,
            "BESPOKE_REQUIRE_BROWSER=1 but chromium and chromedriver are not both installed \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "browser test skipped: chromium and chromedriver not found \
             (apt-get install chromium chromium-driver; BESPOKE_REQUIRE_BROWSER=1 makes this a failure)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("bespoke-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let (_server, port) = start_server(&dir.0);
    let (_driver, driver_port) = start_chromedriver(&driver, &dir.0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", dir.0.join("chromium").display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        // The walk runs as its own task: whatever it does, the browser is closed after it.
        let walk = tokio::spawn(walk(client.clone(), port, dir.0.clone()));
        let outcome = walk.await;
        let _ = client.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
}

/// The shopper's whole visit.
async fn walk(c: Client, port: u16, dir: PathBuf) {
    let base = format!("http://127.0.0.1:{port}");
    product_list(&c, &base, port).await;
    classic_tee(&c, port).await;
    let design = cart_and_order(&c, port).await;
    saved_design(&c, &base, &design).await;
    custom_desk(&c, &base, port).await;
    framed_print_upload(&c, &base, &dir).await;
}

// ----- browser helpers

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn js_with(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Waits until the JavaScript expression `cond` is true on the page.
async fn until(c: &Client, cond: &str, what: &str) {
    let script = format!("return !!({cond});");
    let deadline = Instant::now() + WAIT;
    loop {
        if js(c, &script).await == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let state = js(
                c,
                "return location.href + '\\n' + (document.querySelector('main') || document.body).innerText.slice(0, 3000);",
            )
            .await;
            panic!(
                "timed out waiting for {what} ({cond}); the page:\n{}",
                state.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn find(c: &Client, css: &str) -> Element {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return e;
        }
        assert!(Instant::now() < deadline, "no element {css}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the element `css` like a mouse would, once it is scrolled into the middle of the
/// window; on failure the window is saved as `target/storefront/failure.png`.
async fn click(c: &Client, css: &str) {
    let e = find(c, css).await;
    js_with(
        c,
        "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
        vec![serde_json::to_value(&e).unwrap()],
    )
    .await;
    if let Err(err) = e.click().await {
        if let Ok(png) = c.screenshot().await {
            let dir = repo().join("target").join("storefront");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join("failure.png"), png);
        }
        panic!("cannot click {css}: {err}");
    }
}

async fn text(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.unwrap()
}

/// The value button `value` of option `option`.
fn value(option: &str, value: &str) -> String {
    format!("[data-option=\"{option}\"] [role=\"radio\"][data-value=\"{value}\"]")
}

fn checked(option: &str, v: &str) -> String {
    format!(
        "document.querySelector('{}[aria-checked=\"true\"]')",
        value(option, v).replace('\'', "\\'")
    )
}

/// Whether the configure request in flight has been answered and drawn.
const SETTLED: &str = "document.querySelector('#options') && document.querySelector('#options').getAttribute('aria-busy') === 'false'";

/// The preview shown once loaded: its absolute URL.
async fn preview(c: &Client) -> String {
    until(
        c,
        "document.querySelector('.preview[data-state=\"ready\"]') && document.querySelector('#preview').complete && document.querySelector('#preview').naturalWidth > 0",
        "the preview to load",
    )
    .await;
    js(c, "return document.querySelector('#preview').src;")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

async fn preview_changed(c: &Client, before: &str) -> String {
    until(
        c,
        &format!(
            "document.querySelector('#preview').src !== {} && document.querySelector('.preview[data-state=\"ready\"]')",
            json!(before)
        ),
        "the preview to change",
    )
    .await;
    preview(c).await
}

async fn price_changed(c: &Client, before: &str) -> String {
    until(
        c,
        &format!(
            "document.querySelector('#price').textContent !== {}",
            json!(before)
        ),
        "the price to change",
    )
    .await;
    text(c, "#price").await
}

/// Every control has an accessible name, every value group a label, every image an alt.
async fn audit(c: &Client, page: &str) {
    let bad = js(
        c,
        r#"
        const name = (e) => {
          const by = (e.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
            .map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
          const label = e.id ? (document.querySelector(`label[for="${e.id}"]`) || {}).textContent || '' : '';
          return (e.getAttribute('aria-label') || '').trim() || by || label.trim() || (e.textContent || '').trim();
        };
        const bad = [];
        const visible = (e) => !e.closest('[hidden]') && !e.closest('[aria-hidden="true"]');
        for (const e of document.querySelectorAll('button, input, select, textarea, a[href], [role="radio"], [role="switch"]')) {
          if (visible(e) && !name(e)) bad.push('no name: ' + e.outerHTML.slice(0, 160));
        }
        for (const g of document.querySelectorAll('[role="radiogroup"]')) {
          if (!name(g)) bad.push('unlabelled group: ' + g.outerHTML.slice(0, 160));
        }
        for (const i of document.querySelectorAll('img')) {
          if (!i.hasAttribute('alt')) bad.push('no alt: ' + i.outerHTML.slice(0, 160));
        }
        for (const e of document.querySelectorAll('[aria-describedby]')) {
          for (const id of e.getAttribute('aria-describedby').split(/\s+/).filter(Boolean)) {
            if (!document.getElementById(id)) bad.push('describedby ' + id + ' missing');
          }
        }
        return bad;
        "#,
    )
    .await;
    assert_eq!(bad, json!([]), "accessibility problems on {page}");
}

/// The screenshots committed to `docs/` (and shown in the README).
const COMMITTED: [&str; 2] = ["storefront-1280.png", "storefront-360.png"];

/// Saves a screenshot of the viewport under `target/storefront/` (and to `docs/` when
/// `BESPOKE_UPDATE_SCREENSHOTS=1`, for the committed ones).
async fn screenshot(c: &Client, name: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.unwrap();
    let target = repo().join("target").join("storefront");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join(name), &png).unwrap();
    if COMMITTED.contains(&name)
        && std::env::var("BESPOKE_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
    {
        std::fs::write(repo().join("docs").join(name), &png).unwrap();
    }
}

/// The page at rest: scrolled to the top, with no focus ring or hover state.
async fn at_rest(c: &Client) {
    js(
        c,
        "window.scrollTo(0, 0); if (document.activeElement) document.activeElement.blur();",
    )
    .await;
    c.perform_actions(
        MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
            duration: None,
            x: 0.0,
            y: 0.0,
        }),
    )
    .await
    .unwrap();
}

/// Makes the page's viewport `width` × `height` CSS pixels (the window adds its frame).
async fn resize(c: &Client, width: u32, height: u32) {
    let (mut w, mut h) = (width, height);
    for _ in 0..20 {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let inner = js(c, "return [window.innerWidth, window.innerHeight];").await;
        let (iw, ih) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
        if (iw, ih) == (i64::from(width), i64::from(height)) {
            return;
        }
        let (ow, oh) = c.get_window_size().await.unwrap();
        let fit = |outer: u64, inner: i64, want: u32| {
            u32::try_from(outer as i64 + i64::from(want) - inner).unwrap()
        };
        (w, h) = (fit(ow, iw, width), fit(oh, ih, height));
    }
    let inner = js(c, "return [window.innerWidth, window.innerHeight];").await;
    panic!("the viewport stays {inner} instead of {width} × {height}");
}

/// Keyboard: `key` sent to the focused element.
async fn press(c: &Client, key: Key) {
    c.active_element()
        .await
        .unwrap()
        .send_keys(&key.to_string())
        .await
        .unwrap();
}

async fn focused(c: &Client) -> Value {
    js(
        c,
        "const e = document.activeElement; return e ? {id: e.id, value: e.dataset.value || null, option: (e.closest('[data-option]') || {dataset: {}}).dataset.option || null, text: e.textContent.trim()} : null;",
    )
    .await
}

/// Tab through the whole page from its top: every option has a control the keyboard reaches,
/// and so has "Add to cart".
async fn tab_through(c: &Client, page: &str) {
    js(c, "window.scrollTo(0, 0); document.activeElement && document.activeElement.blur(); document.body.focus();").await;
    let options = js(
        c,
        "return Array.from(document.querySelectorAll('[data-option]')).map((e) => e.dataset.option);",
    )
    .await;
    let mut reached = std::collections::BTreeSet::new();
    let mut add = false;
    for _ in 0..200 {
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        c.perform_actions(tab).await.unwrap();
        let now = focused(c).await;
        if let Some(o) = now["option"].as_str() {
            reached.insert(o.to_owned());
        }
        if now["id"] == json!("add-to-cart") {
            // The options come first: choose, then buy.
            add = true;
            break;
        }
    }
    let missing: Vec<&Value> = options
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !reached.contains(o.as_str().unwrap()))
        .collect();
    assert!(
        missing.is_empty(),
        "{page}: the keyboard never reaches {missing:?}"
    );
    assert!(add, "{page}: the keyboard never reaches Add to cart");
}

// ----- the visit

/// `/`: every product with its thumbnail and "from" price; a card opens its configurator.
async fn product_list(c: &Client, base: &str, port: u16) {
    let (status, products) = get_json(port, "/v1/products", &[]);
    assert_eq!(status, 200);
    let products = products.as_array().unwrap().clone();
    c.goto(&format!("{base}/")).await.unwrap();
    until(
        c,
        &format!(
            "document.querySelectorAll('.product-card').length === {}",
            products.len()
        ),
        "the product cards",
    )
    .await;
    until(
        c,
        "Array.from(document.querySelectorAll('.product-card img')).every((i) => i.complete && i.naturalWidth > 0)",
        "every thumbnail to load",
    )
    .await;
    for p in &products {
        let id = p["id"].as_str().unwrap();
        let card = text(c, &format!("[data-product=\"{id}\"]")).await;
        assert!(card.contains(p["name"].as_str().unwrap()), "{card}");
        let from = p["from_price"].as_str().unwrap();
        assert!(
            card.contains(&format!(
                "from {}",
                money(from, p["currency"].as_str().unwrap())
            )),
            "{card}"
        );
    }
    audit(c, "/").await;
    resize(c, 1280, 800).await;
    at_rest(c).await;
    screenshot(c, "storefront-list-1280.png").await;
    click(c, "[data-product=\"classic-tee\"] a").await;
    until(
        c,
        "location.pathname === '/p/classic-tee' && document.querySelector('[data-option=\"color\"]')",
        "the classic-tee configurator",
    )
    .await;
}

/// `19.00` in EUR as en-US shows it: `€19.00`.
fn money(amount: &str, currency: &str) -> String {
    let symbol = match currency {
        "EUR" => "€",
        "USD" => "$",
        other => panic!("no symbol for {other}"),
    };
    format!("{symbol}{amount}")
}

/// classic-tee: a colour changes the preview (URL and pixels) and the price; a fabric the
/// colour excludes shows why on focus and on hover; choosing it anyway is a conflict whose
/// repair is one click; "Complete for me" and a text give a quote with its lines.
async fn classic_tee(c: &Client, port: u16) {
    until(c, SETTLED, "the first configure answer").await;
    let preview0 = preview(c).await;
    let price0 = text(c, "#price").await;
    assert!(
        price0.starts_with("From €19.00 to "),
        "a range before anything is chosen: {price0}"
    );
    audit(c, "/p/classic-tee").await;

    // Colour: heather grey.
    click(c, &value("color", "heather")).await;
    until(c, &checked("color", "heather"), "heather to be chosen").await;
    let preview1 = preview_changed(c, &preview0).await;
    let price1 = price_changed(c, &price0).await;
    assert!(
        price1.starts_with("From €20.50 to "),
        "heather adds €1.50: {price1}"
    );
    assert!(preview1.contains("o.color=heather"), "{preview1}");
    same_image_sizes_different_pixels(port, &preview0, &preview1);

    // Polyester is excluded, visibly and to assistive technology, with the rule's words.
    let polyester = value("fabric", "polyester");
    until(
        c,
        &format!(
            "document.querySelector('{polyester}[aria-disabled=\"true\"]')",
            polyester = polyester.replace('\'', "\\'")
        ),
        "polyester to be unavailable",
    )
    .await;
    let described = js_with(
        c,
        "const e = document.querySelector(arguments[0]); return document.getElementById(e.getAttribute('aria-describedby')).textContent;",
        vec![json!(polyester)],
    )
    .await;
    let described = described.as_str().unwrap();
    assert!(described.contains("cotton mélange"), "{described}");
    assert!(described.contains("Colour: Heather grey"), "{described}");

    // Keyboard: the fabric group is one tab stop; the arrows reach polyester, whose reason shows.
    let stop = find(
        c,
        "[data-option=\"fabric\"] [role=\"radio\"][tabindex=\"0\"]",
    )
    .await;
    stop.send_keys(&Key::Right.to_string()).await.unwrap();
    press(c, Key::Right).await;
    assert_eq!(focused(c).await["value"], json!("polyester"));
    let info = find(c, "[data-option=\"fabric\"] .value-info").await;
    assert!(info.is_displayed().await.unwrap());
    let shown = info.text().await.unwrap();
    assert!(
        shown.contains("cotton mélange") && shown.contains("Heather grey"),
        "on focus: {shown}"
    );
    screenshot(c, "storefront-reason.png").await;

    // Mouse: hovering shows it too (with the focus elsewhere).
    js(c, "document.activeElement.blur();").await;
    until(
        c,
        "document.querySelector('[data-option=\"fabric\"] .value-info').textContent === ''",
        "the reason to hide once nothing points at polyester",
    )
    .await;
    let target = find(c, &polyester).await;
    c.perform_actions(
        MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: target.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        }),
    )
    .await
    .unwrap();
    until(
        c,
        "document.querySelector('[data-option=\"fabric\"] .value-info').textContent.includes('cotton mélange')",
        "the reason on hover",
    )
    .await;
    c.perform_actions(
        MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
            duration: None,
            x: 1.0,
            y: 1.0,
        }),
    )
    .await
    .unwrap();

    // Choosing it anyway (keyboard): a conflict, never a dead end.
    target.send_keys(&Key::Enter.to_string()).await.unwrap();
    until(
        c,
        "document.activeElement && document.activeElement.dataset.chooseAnyway === 'polyester'",
        "the offer to choose polyester anyway",
    )
    .await;
    press(c, Key::Enter).await;
    until(
        c,
        "!document.querySelector('#conflict').hidden && document.activeElement.id === 'apply-repair'",
        "the conflict and its repair",
    )
    .await;
    let conflict = text(c, "#conflict").await;
    assert!(conflict.contains("cotton mélange"), "{conflict}");
    let repair = text(c, "#apply-repair").await;
    assert_eq!(repair, "Change Colour to White?");
    assert_eq!(text(c, "#price").await, "—");
    screenshot(c, "storefront-conflict.png").await;
    press(c, Key::Enter).await;
    until(
        c,
        &format!(
            "document.querySelector('#conflict').hidden && {} && {}",
            checked("color", "white"),
            checked("fabric", "polyester")
        ),
        "the repair to apply",
    )
    .await;

    // A colour of one's own, then "Complete for me": a quote with its lines.
    click(c, &value("color", "black")).await;
    until(c, &checked("color", "black"), "black to be chosen").await;
    until(c, SETTLED, "the answer").await;
    click(c, "#complete").await;
    until(
        c,
        "document.querySelector('#price').dataset.kind === 'quote'",
        "a quote",
    )
    .await;
    let quoted = text(c, "#price").await;
    click(c, "#breakdown summary").await;
    let total = text(c, "#breakdown tfoot td").await;
    assert_eq!(total, quoted);

    // Text on the front (keyboard): its price per character changes the total.
    let before = preview(c).await;
    let input = find(c, "#in-front_text").await;
    input.send_keys("HI MOM").await.unwrap();
    let priced = price_changed(c, &quoted).await;
    assert_ne!(priced, quoted);
    let after = preview_changed(c, &before).await;
    assert!(after.contains("o.front_text=HI+MOM"), "{after}");
    until(
        c,
        "Array.from(document.querySelectorAll('#breakdown tbody th')).some((t) => /Front text/.test(t.textContent))",
        "the front text's line in the breakdown",
    )
    .await;
    audit(c, "/p/classic-tee (configured)").await;

    // The two screenshots of the configured page; at 360 px nothing is wider than the screen.
    resize(c, 1280, 800).await;
    at_rest(c).await;
    screenshot(c, "storefront-1280.png").await;
    resize(c, 360, 780).await;
    let overflow = js(
        c,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    )
    .await;
    assert_eq!(overflow, json!(0), "the page scrolls sideways at 360 px");
    at_rest(c).await;
    screenshot(c, "storefront-360.png").await;
    resize(c, 1280, 800).await;
}

/// Both previews have the same size and differ in their pixels.
fn same_image_sizes_different_pixels(port: u16, a: &str, b: &str) {
    let fetch = |url: &str| {
        let path = url.split_once(&format!(":{port}")).unwrap().1;
        let (status, head, body) = http(port, "GET", path, &[]);
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("etag:"), "{head}");
        image::load_from_memory(&body).unwrap().to_rgba8()
    };
    let (a, b) = (fetch(a), fetch(b));
    assert_eq!(a.dimensions(), b.dimensions());
    let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    let total = (a.width() * a.height()) as usize;
    assert!(
        differing * 20 > total,
        "the previews differ in {differing} of {total} pixels only"
    );
}

/// "Add to cart" saves a design (id, price, preview); "Order now" places the order, which the
/// order API then finds. Returns the design's id.
async fn cart_and_order(c: &Client, port: u16) -> String {
    let price = text(c, "#price").await;
    click(c, "#add-to-cart").await;
    let design = text(c, "#design-id").await;
    assert_eq!(design.len(), 36, "a design id: {design}");
    assert_eq!(text(c, "#design-total").await, price);
    until(
        c,
        &format!("location.search === '?design={design}'"),
        "the address to name the design",
    )
    .await;
    until(
        c,
        "document.querySelector('.cart-img').complete && document.querySelector('.cart-img').naturalWidth > 0",
        "the design's preview",
    )
    .await;
    let (status, saved) = get_json(port, &format!("/v1/designs/{design}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(saved["selection"]["front_text"], json!("HI MOM"));

    click(c, "#place-order").await;
    let order = text(c, "#order-id").await;
    assert_eq!(text(c, "#order-total").await, price);
    assert_eq!(
        find(c, "#order-status")
            .await
            .attr("data-status")
            .await
            .unwrap()
            .as_deref(),
        Some("submitted")
    );
    audit(c, "/p/classic-tee (ordered)").await;
    screenshot(c, "storefront-ordered.png").await;

    let auth = format!("Bearer {TOKEN}");
    let (status, found) = get_json(
        port,
        &format!("/v1/orders/{order}"),
        &[("Authorization", &auth)],
    );
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["design_id"], json!(design));
    assert_eq!(found["status"], json!("submitted"));
    assert_eq!(found["product_id"], json!("classic-tee"));
    assert_eq!(found["selection"]["color"], json!("black"));
    assert_eq!(found["selection"]["fabric"], json!("polyester"));
    assert_eq!(found["selection"]["front_text"], json!("HI MOM"));
    let total = found["quote"]["total"].as_str().unwrap();
    assert_eq!(money(total, "EUR"), price);
    assert!(
        found["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("sf-")
    );
    design
}

/// The design's link opens the configurator on the saved choices.
async fn saved_design(c: &Client, base: &str, design: &str) {
    c.goto(&format!("{base}/p/classic-tee?design={design}"))
        .await
        .unwrap();
    until(c, SETTLED, "the saved design").await;
    until(
        c,
        &format!(
            "{} && {} && document.querySelector('#in-front_text').value === 'HI MOM'",
            checked("color", "black"),
            checked("fabric", "polyester")
        ),
        "the saved choices",
    )
    .await;
    assert!(text(c, ".notices").await.contains(design));
    assert_eq!(text(c, "#design-id").await, design);
}

/// custom-desk: a laminate top narrows the finishes and the width (with the rule's words), a
/// width typed on the keyboard and a switch toggled with the space bar reprice it, and the
/// lift excludes the leg styles it does not fit.
async fn custom_desk(c: &Client, base: &str, port: u16) {
    c.goto(&format!("{base}/p/custom-desk")).await.unwrap();
    until(c, SETTLED, "the desk configurator").await;
    let preview0 = preview(c).await;
    let price0 = text(c, "#price").await;
    audit(c, "/p/custom-desk").await;
    tab_through(c, "/p/custom-desk").await;

    click(c, &value("top_material", "laminate")).await;
    until(c, &checked("top_material", "laminate"), "the laminate top").await;
    let preview1 = preview_changed(c, &preview0).await;
    same_image_sizes_different_pixels(port, &preview0, &preview1);
    let price1 = price_changed(c, &price0).await;
    until(
        c,
        "document.querySelector('[data-option=\"finish\"] [data-value=\"natural-oil\"][aria-disabled=\"true\"]')",
        "oil finishes to be unavailable on laminate",
    )
    .await;
    let hint = text(c, "#hint-width_cm").await;
    assert_eq!(hint, "100 cm to 180 cm, in steps of 10 cm");
    let note = text(c, "#note-width_cm").await;
    assert!(note.contains("Board tops sag beyond 180 cm"), "{note}");
    assert!(note.contains("Top material: White laminate"), "{note}");

    // Width by keyboard.
    let width = find(c, "#in-width_cm").await;
    width.clear().await.unwrap();
    width
        .send_keys(&format!("160{}", Key::Enter))
        .await
        .unwrap();
    let price2 = price_changed(c, &price1).await;

    // The electric lift with the space bar: only the T-frame carries it.
    let lift = find(c, "#in-height_adjustable").await;
    lift.send_keys(" ").await.unwrap();
    until(
        c,
        "document.querySelector('#in-height_adjustable').getAttribute('aria-checked') === 'true'",
        "the lift to switch on",
    )
    .await;
    price_changed(c, &price2).await;
    until(
        c,
        "document.querySelector('[data-option=\"leg_style\"] [data-value=\"four-leg\"][aria-disabled=\"true\"]')",
        "four legs to be unavailable with the lift",
    )
    .await;
    let why = js(
        c,
        "const e = document.querySelector('[data-option=\"leg_style\"] [data-value=\"four-leg\"]'); return document.getElementById(e.getAttribute('aria-describedby')).textContent;",
    )
    .await;
    assert!(
        why.as_str().unwrap().contains("built into the T-frame"),
        "{why}"
    );
    click(c, &value("leg_style", "t-frame")).await;
    until(c, &checked("leg_style", "t-frame"), "the T-frame").await;
    until(c, SETTLED, "the answer").await;
    click(c, "#complete").await;
    until(
        c,
        "document.querySelector('#price').dataset.kind === 'quote'",
        "the desk's quote",
    )
    .await;
    click(c, "#add-to-cart").await;
    let design = text(c, "#design-id").await;
    let (status, saved) = get_json(port, &format!("/v1/designs/{design}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(saved["selection"]["width_cm"], json!(160));
    assert_eq!(saved["selection"]["height_adjustable"], json!(true));
    assert_eq!(saved["selection"]["top_material"], json!("laminate"));
    audit(c, "/p/custom-desk (in the cart)").await;
}

/// framed-print: the shopper's own photo goes up (`POST /v1/uploads`) and its id becomes the
/// upload option's value, which the preview then shows.
async fn framed_print_upload(c: &Client, base: &str, dir: &Path) {
    let photo = dir.join("photo.png");
    image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 160])
    })
    .save(&photo)
    .unwrap();
    c.goto(&format!("{base}/p/framed-print")).await.unwrap();
    until(c, SETTLED, "the print configurator").await;
    let before = preview(c).await;
    // The file input is the native one behind "Choose an image…".
    find(c, "#in-photo")
        .await
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    let after = preview_changed(c, &before).await;
    assert!(after.contains("o.photo="), "{after}");
    until(
        c,
        "!document.querySelector('[data-option=\"photo\"] .upload-thumb').hidden && document.querySelector('[data-option=\"photo\"] .link').hidden === false",
        "the uploaded photo with its remove button",
    )
    .await;
    audit(c, "/p/framed-print (uploaded)").await;
    screenshot(c, "storefront-upload.png").await;
}

/// Without a browser: the page and its assets carry cache headers, the assets' URLs are pinned
/// by content hash, and the page routes stay out of the API document.
#[test]
fn the_page_is_cached_and_stays_out_of_the_api_document() {
    let dir = std::env::temp_dir().join(format!("bespoke-browser-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let (_server, port) = start_server(&dir.0);

    let (status, head, body) = http(port, "GET", "/", &[]);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .to_owned();
    let (status, _, again) = http(port, "GET", "/", &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    assert!(again.is_empty());
    let (status, _, product) = http(port, "GET", "/p/classic-tee", &[]);
    assert_eq!((status, &product), (200, &body), "one shell for every page");

    let html = String::from_utf8(body).unwrap();
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/storefront/"))
        .collect();
    assert_eq!(assets.len(), 2, "{html}");
    for asset in assets {
        let (status, head, body) = http(port, "GET", asset, &[]);
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty());
        assert!(
            head.contains("cache-control: public, max-age=31536000, immutable"),
            "{head}"
        );
        let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap();
        assert_eq!(http(port, "GET", asset, &[("If-None-Match", etag)]).0, 304);
        let stale = asset.replacen('.', ".0000000000000000.", 1);
        let (status, head, _) = http(port, "GET", &stale, &[]);
        assert_eq!(status, 404, "{stale}");
        assert!(head.contains("application/problem+json"), "{head}");
    }

    let (status, doc) = get_json(port, "/openapi.json", &[]);
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for page in ["/", "/p/{product}", "/storefront/{file}"] {
        assert!(!paths.contains_key(page), "{page} is in the API document");
    }
    let (status, head, _) = http(port, "POST", "/", &[("Content-Length", "0")]);
    assert_eq!(status, 405);
    assert!(head.contains("application/problem+json"), "{head}");
}
