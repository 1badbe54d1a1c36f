//! OpenAPI conformance harness: a test-side middleware that checks every response the HTTP tests
//! get against the served OpenAPI document (operation, status, content type, JSON Schema of the
//! body) and records which (method, path template, status) triples the tests reached.
//!
//! Use [`checked`] where a test would call `bespoke::http::build`. A mismatch panics in the test
//! that caused it, with the method, path, status, the validation errors and the body.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::web;
use bespoke::app::App;
use serde_json::{Value, json};
use utoipa::OpenApi;

/// One response as the document names it: (method in capitals, path template, status).
pub type Seen = (String, String, u16);

/// How much of a failing body a panic message shows, in characters.
const BODY_SHOWN: usize = 2000;

/// The HTTP methods an OpenAPI path item can hold, lower-case as the document spells them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The application `bespoke::http::build` makes, with every response checked against the
/// served document.
pub fn checked(
    app: web::Data<App>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    bespoke::http::build(app).wrap(from_fn(check))
}

/// Every (method, path template, status) a checked response had so far in this process.
pub fn seen() -> BTreeSet<Seen> {
    seen_set().lock().map(|s| s.clone()).unwrap_or_default()
}

fn seen_set() -> &'static Mutex<BTreeSet<Seen>> {
    static SEEN: OnceLock<Mutex<BTreeSet<Seen>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

/// The middleware [`checked`] adds: reads the whole body, checks it with
/// [`Contract::served`], records it, and passes the response on unchanged. CORS preflights
/// (answered by the CORS layer, not by an operation) are passed on unchecked.
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let preflight =
        method == Method::OPTIONS && req.headers().contains_key("access-control-request-method");
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            // Rendered by actix after every middleware: check what it will send.
            let res = e.error_response();
            let (head, body) = res.into_parts();
            let body = actix_web::body::to_bytes(body).await.unwrap_or_default();
            if !preflight {
                conform(&method, &path, head.status(), head.headers(), &body);
            }
            return Err(e);
        }
    };
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let body = match actix_web::body::to_bytes(body).await {
        Ok(b) => b,
        Err(e) => panic!(
            "{method} {path}: the response body cannot be read: {}",
            e.into()
        ),
    };
    if !preflight {
        conform(&method, &path, head.status(), head.headers(), &body);
    }
    Ok(ServiceResponse::new(req, head.set_body(body)))
}

/// Checks one response with the served document; panics on a mismatch, records it otherwise.
fn conform(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match Contract::served().check(
        method.as_str(),
        path,
        status.as_u16(),
        ctype.as_deref(),
        body,
    ) {
        Ok(Some(seen)) => {
            if let Ok(mut set) = seen_set().lock() {
                set.insert(seen);
            }
        }
        Ok(None) => {}
        Err(why) => panic!(
            "OpenAPI conformance: {method} {path} → {status} ({}):\n{why}\nbody: {}",
            ctype.as_deref().unwrap_or("no content type"),
            shown(body)
        ),
    }
}

/// A body for a panic message: its text, truncated, or its length when it is not text.
pub fn shown(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if text.chars().count() > BODY_SHOWN => {
            let cut: String = text.chars().take(BODY_SHOWN).collect();
            format!("{cut}… ({} bytes in all)", body.len())
        }
        Ok(text) => text.to_owned(),
        Err(_) => format!("<{} bytes, not UTF-8>", body.len()),
    }
}

/// An OpenAPI 3.1 document, ready to check responses against, with its compiled schemas.
#[derive(Debug)]
pub struct Contract {
    doc: Value,
    /// Compiled response schemas by (method, path template, status key, media type).
    validators: Mutex<HashMap<[String; 4], Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn new(doc: Value) -> Contract {
        Contract {
            doc,
            validators: Mutex::default(),
        }
    }

    /// The document the server serves at `/openapi.json`.
    pub fn served() -> &'static Contract {
        static SERVED: OnceLock<Contract> = OnceLock::new();
        SERVED.get_or_init(|| {
            let doc = serde_json::to_value(bespoke::http::openapi::ApiDoc::openapi())
                .expect("the OpenAPI document serialises");
            Contract::new(doc)
        })
    }

    /// Every (method, path template, status) the document declares (`default` and ranges
    /// like `4XX` are left out).
    pub fn documented(&self) -> BTreeSet<Seen> {
        let mut out = BTreeSet::new();
        for (template, item) in self.doc["paths"].as_object().into_iter().flatten() {
            for m in METHODS {
                let responses = item[m]["responses"].as_object().into_iter().flatten();
                for (status, _) in responses {
                    if let Ok(s) = status.parse() {
                        out.insert((m.to_ascii_uppercase(), template.clone(), s));
                    }
                }
            }
        }
        out
    }

    /// Checks one response: an operation for `method` and `path`, a declared response for
    /// `status` (or `default`), the content type among the declared ones, and a JSON body
    /// valid against its schema. `Ok(Some(..))` names what was checked; `Ok(None)` is a
    /// request no operation describes, answered with a valid problem (the router's 404 and
    /// 405). `Err` says what does not conform.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Seen>, String> {
        let method = method.to_ascii_lowercase();
        let essence = content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let Some((template, operation)) = self.operation(&method, path) else {
            return self.unrouted(&method, path, status, essence.as_deref(), body);
        };
        let responses = &operation["responses"];
        let (status_key, declared) = [status.to_string(), format!("{}XX", status / 100)]
            .into_iter()
            .chain(["default".to_owned()])
            .find_map(|k| responses.get(&k).map(|r| (k, self.resolve(r))))
            .ok_or_else(|| {
                let keys: Vec<&String> = responses
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .collect();
                format!(
                    "status {status} is not documented for {} {template} (documented: {keys:?})",
                    method.to_ascii_uppercase()
                )
            })?;
        let content = declared["content"].as_object().filter(|c| !c.is_empty());
        let seen = (method.to_ascii_uppercase(), template.to_owned(), status);
        let Some(essence) = essence.filter(|_| !body.is_empty() || content_type.is_some()) else {
            return match content {
                None => Ok(Some(seen)),
                Some(c) => Err(format!(
                    "the response has no body; the document declares one ({:?})",
                    c.keys().collect::<Vec<_>>()
                )),
            };
        };
        let Some((media, media_type)) = content
            .into_iter()
            .flatten()
            .find(|(m, _)| media_matches(m, &essence))
        else {
            let declared: Vec<&String> = content.into_iter().flatten().map(|(k, _)| k).collect();
            return Err(format!(
                "content type {essence} is not documented for {status_key} (documented: {declared:?})"
            ));
        };
        if is_json(&essence) {
            let instance = parse_json(body)?;
            if let Some(schema) = media_type.get("schema") {
                let key = [method, template.to_owned(), status_key, media.clone()];
                self.validate(key, schema, &instance)?;
            }
        }
        Ok(Some(seen))
    }

    /// A request no operation describes (unknown path, or a method its path does not take):
    /// only a problem document is a conforming answer.
    fn unrouted(
        &self,
        method: &str,
        path: &str,
        status: u16,
        essence: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Seen>, String> {
        let asked = format!("{} {path}", method.to_ascii_uppercase());
        if status < 400 || essence != Some("application/problem+json") {
            return Err(format!(
                "no operation in the document for {asked}, and the answer is not a problem (application/problem+json, status ≥ 400)"
            ));
        }
        let instance = parse_json(body)?;
        if self.doc["components"]["schemas"]["Problem"].is_object() {
            let key = [
                "*".into(),
                "*".into(),
                "*".into(),
                "application/problem+json".into(),
            ];
            let schema = json!({"$ref": "#/components/schemas/Problem"});
            self.validate(key, &schema, &instance)?;
        }
        Ok(None)
    }

    /// The operation for `method` on the path template that matches `path`, the one with the
    /// most literal segments when several do.
    fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .iter()
            .filter_map(|(template, item)| {
                let parts: Vec<&str> = template.split('/').collect();
                let matches = parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(t, s)| {
                        t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                    });
                let op = item.get(method).filter(|_| matches)?;
                let literal = parts.iter().filter(|t| !t.starts_with('{')).count();
                Some((literal, template.as_str(), op))
            })
            .max_by_key(|(literal, ..)| *literal)
            .map(|(_, template, op)| (template, op))
    }

    /// A response object, through its `$ref` when it is one.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        v["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| self.doc.pointer(pointer))
            .unwrap_or(v)
    }

    /// Validates `instance` against `schema` (JSON Schema 2020-12) inside a root document that
    /// holds the document's `components`, so `#/components/schemas/...` references resolve.
    fn validate(&self, key: [String; 4], schema: &Value, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.validators.lock().map_err(|e| e.to_string())?;
            match cache.get(&key) {
                Some(v) => Arc::clone(v),
                None => {
                    let root = json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "components": self.doc["components"],
                        "allOf": [schema],
                    });
                    let v = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&root)
                        .map_err(|e| {
                            format!("the document's schema {schema} does not compile: {e}")
                        })?;
                    let v = Arc::new(v);
                    cache.insert(key, Arc::clone(&v));
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("  at `{}`: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the body does not match the schema {schema}:\n{}",
                errors.join("\n")
            ))
        }
    }
}

/// Whether a declared media type (`image/png`, `image/*`, `*/*`) covers a response's.
fn media_matches(declared: &str, essence: &str) -> bool {
    let declared = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    declared == essence
        || declared == "*/*"
        || declared
            .strip_suffix("/*")
            .is_some_and(|ty| essence.split('/').next() == Some(ty))
}

/// JSON media types: `application/json` and every `+json` suffix (`application/problem+json`).
fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}
