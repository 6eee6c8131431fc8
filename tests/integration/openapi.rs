//! The OpenAPI document (issue 4): the committed `docs/openapi.json` matches the code, every route the
//! routers register is documented, the service serves the document and an offline reference page,
//! and what the service answers matches what the document says (shapes and error codes).
//!
//! `ESIGN_WRITE_OPENAPI=1 cargo test --test integration openapi` rewrites `docs/openapi.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, TestStore};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    the_service_serves_the_document_and_an_offline_reference_page,
    answers_match_the_documented_schemas_and_error_codes,
);

const REGENERATE: &str = "ESIGN_WRITE_OPENAPI=1 cargo test --test integration openapi";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed_path() -> PathBuf {
    manifest_dir().join("docs").join("openapi.json")
}

fn generated() -> (String, Value) {
    let text = esign::http::openapi::document_json().expect("the document serialises");
    let value = serde_json::from_str(&text).expect("the document is JSON");
    (text, value)
}

// ---------------------------------------------------------------------------------------------------
// Drift: the committed document is the generated one

#[test]
fn the_committed_document_matches_the_code() {
    let (text, generated) = generated();
    let path = committed_path();
    if std::env::var("ESIGN_WRITE_OPENAPI").is_ok_and(|value| value == "1") {
        std::fs::write(&path, &text).expect("write docs/openapi.json");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(committed) => committed,
        Err(error) => panic!(
            "cannot read {} ({error}); generate it with `{REGENERATE}` and commit it",
            path.display()
        ),
    };
    let committed: Value = serde_json::from_str(&committed).unwrap_or_else(|error| {
        panic!("docs/openapi.json is not JSON ({error}); run `{REGENERATE}`")
    });
    let mut differences = Vec::new();
    json_differences("", &committed, &generated, &mut differences);
    assert!(
        differences.is_empty(),
        "docs/openapi.json is out of date with the code at:\n  {}\nRegenerate it with `{REGENERATE}`, \
         review the diff and commit it.",
        differences
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "docs/openapi.json has the right content but not the generated layout; run `{REGENERATE}`"
    );
}

/// JSON pointers where `a` and `b` differ.
fn json_differences(pointer: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => json_differences(&child, x, y, out),
                    (Some(_), None) => out.push(format!("{child} (only in the committed file)")),
                    (None, _) => out.push(format!("{child} (only in the code)")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (index, (x, y)) in x.iter().zip(y).enumerate() {
                json_differences(&format!("{pointer}/{index}"), x, y, out);
            }
        }
        _ if a != b => out.push(if pointer.is_empty() {
            "/".to_owned()
        } else {
            pointer.to_owned()
        }),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------------
// Completeness: every registered route is documented, and the document is well formed

/// `METHOD /path/{}` with parameter names dropped, so axum's `{contract_id}` meets `{contractId}`.
fn normalise(method: &str, path: &str) -> String {
    let path: Vec<String> = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}".to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect();
    format!("{} {}", method.to_ascii_uppercase(), path.join("/"))
}

/// The routes a source file registers with `.route("/path", get(..).post(..))`, prefixed.
fn routes_in(source: &str, prefix: &str) -> Vec<String> {
    let mut routes = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(".route(") {
        let after = &rest[start + ".route(".len()..];
        let mut depth = 1;
        let mut end = after.len();
        for (index, character) in after.char_indices() {
            match character {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = index;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &after[..end];
        let path = call.split('"').nth(1).unwrap_or_else(|| {
            panic!("a route whose path is not a string literal: .route({call})")
        });
        let handlers = &call[call.find(',').expect("a route with handlers")..];
        let mut found = false;
        for method in METHODS {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(at) = handlers[from..].find(&needle) {
                let at = from + at;
                let before = handlers[..at].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    routes.push(normalise(method, &format!("{prefix}{path}")));
                    found = true;
                }
                from = at + needle.len();
            }
        }
        assert!(found, "no method router understood in .route({call})");
        rest = &after[end..];
    }
    routes
}

/// Every route registered by the routers in `src/http`, read from the source.
fn registered_routes() -> BTreeSet<String> {
    let http = manifest_dir().join("src").join("http");
    let mut routes = BTreeSet::new();
    let mut api_files: Vec<PathBuf> = std::fs::read_dir(http.join("api"))
        .expect("src/http/api")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    api_files.sort();
    for file in &api_files {
        let source = std::fs::read_to_string(file).unwrap();
        for construct in [".nest(", ".nest_service(", ".route_service(", ".fallback("] {
            assert!(
                !source.contains(construct),
                "{} uses {construct}: teach tests/integration/openapi.rs to read it, so its routes \
                 are checked against the document",
                file.display()
            );
        }
        routes.extend(routes_in(&source, "/api/v1"));
    }
    for file in [
        "health.rs",
        "mod.rs",
        "provider_callbacks.rs",
        "face_pages.rs",
    ] {
        let source = std::fs::read_to_string(http.join(file)).unwrap();
        routes.extend(routes_in(&source, ""));
    }
    let router = std::fs::read_to_string(http.join("mod.rs")).unwrap();
    assert_eq!(
        router.matches(".nest(").count(),
        1,
        "src/http/mod.rs nests something besides /api/v1: teach this test about it"
    );
    assert!(router.contains(".nest(\"/api/v1\", signed)"));
    routes
}

fn documented_operations(document: &Value) -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert(normalise(method, path));
            }
        }
    }
    operations
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let (_, document) = generated();
    let registered = registered_routes();
    let documented = documented_operations(&document);
    assert!(
        registered.len() >= 14,
        "the route scan found too little: {registered:?}"
    );
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without an operation in the OpenAPI document: {undocumented:?}. Annotate the handler \
         with #[utoipa::path(...)], list it in `ApiDoc` (src/http/openapi.rs) and run `{REGENERATE}`."
    );
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(
        unrouted.is_empty(),
        "operations in the OpenAPI document that no router serves: {unrouted:?}"
    );
}

#[test]
fn the_document_is_well_formed() {
    let (_, document) = generated();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let schemes = &document["components"]["securitySchemes"];
    for header in ["X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature"] {
        assert_eq!(schemes[header]["type"], "apiKey", "{header}");
        assert_eq!(schemes[header]["in"], "header", "{header}");
        assert_eq!(schemes[header]["name"], header);
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no id"));
            assert!(
                operation_ids.insert(id.to_owned()),
                "{at}: operationId {id} twice"
            );
            assert!(operation["summary"].is_string(), "{at}: no summary");
            assert!(operation["tags"][0].is_string(), "{at}: no tag");
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{at}: no 200 response");

            let security = &operation["security"];
            if path.starts_with("/api/v1/") {
                let requirement = security[0]
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: unsigned"));
                let names: BTreeSet<&str> = requirement.keys().map(String::as_str).collect();
                assert_eq!(
                    names,
                    BTreeSet::from(["X-Client-Id", "X-Nonce", "X-Signature", "X-Timestamp"]),
                    "{at}: all four signing headers, together"
                );
                assert_eq!(security.as_array().unwrap().len(), 1, "{at}");
                for status in ["401", "500", "503"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
                if method == "post" {
                    assert!(responses.contains_key("413"), "{at}: no 413");
                }
                if operation.get("requestBody").is_some() {
                    assert!(responses.contains_key("400"), "{at}: a body without 400");
                    assert!(responses.contains_key("415"), "{at}: a body without 415");
                }
            } else {
                assert!(security.is_null(), "{at}: health checks are not signed");
            }

            // Every `{param}` of the path is declared, and nothing else is.
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|parameters| {
                    parameters
                        .iter()
                        .filter(|p| p["in"] == "path")
                        .inspect(|p| assert_eq!(p["required"], true, "{at}: {p}"))
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(in_path, declared, "{at}: path parameters");
        }
    }

    // The codes the issue names, each under its status.
    let mut codes_by_status: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for response in document["components"]["responses"]
        .as_object()
        .unwrap()
        .values()
    {
        let status = response["x-status"].to_string();
        for code in response_codes(&document, response) {
            codes_by_status
                .entry(status.clone())
                .or_default()
                .insert(code);
        }
    }
    for (status, code) in [
        ("400", 40001),
        ("401", 40101),
        ("403", 40300),
        ("404", 40400),
        ("409", 40002),
        ("409", 40900),
        ("410", 40004),
        ("413", 41300),
        ("415", 41500),
        ("422", 40003),
        ("503", 50300),
    ] {
        assert!(
            codes_by_status
                .get(status)
                .is_some_and(|codes| codes.contains(&code)),
            "{status}/{code} is not documented: {codes_by_status:?}"
        );
    }

    // Every reference resolves, and every example fits its schema.
    let mut references = Vec::new();
    collect_refs(&document, &mut references);
    for reference in references {
        assert!(
            resolve(&document, &reference).is_some(),
            "{reference} does not resolve"
        );
    }
    let mut problems = Vec::new();
    check_examples(&document, &document, "", &mut problems);
    assert!(
        problems.is_empty(),
        "examples that do not fit their schema:\n{}",
        problems.join("\n")
    );
}

fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push(child.as_str().unwrap().to_owned());
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// Checks each media type's `example`/`examples` against its `schema`, anywhere in the document.
fn check_examples(document: &Value, value: &Value, pointer: &str, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(schema) = map.get("schema") {
                if let Some(example) = map.get("example") {
                    validate(document, schema, example, pointer, problems);
                }
                if let Some(Value::Object(examples)) = map.get("examples") {
                    for (name, example) in examples {
                        validate(
                            document,
                            schema,
                            &example["value"],
                            &format!("{pointer}/examples/{name}"),
                            problems,
                        );
                    }
                }
            }
            for (key, child) in map {
                check_examples(document, child, &format!("{pointer}/{key}"), problems);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_examples(document, item, &format!("{pointer}/{index}"), problems);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------------
// A small JSON Schema check, enough for the document's schemas: $ref, oneOf/anyOf/allOf, type, enum,
// properties (undocumented ones are an error), required, additionalProperties, items, numeric bounds
// and string lengths.

fn validate(document: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        match resolve(document, reference) {
            Some(target) => validate(document, target, value, at, problems),
            None => problems.push(format!("{at}: unresolved {reference}")),
        }
        return;
    }
    if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let fits = choices.iter().any(|choice| {
            let mut inner = Vec::new();
            validate(document, choice, value, at, &mut inner);
            inner.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: {value} fits none of {}", compact(schema)));
        }
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            validate(document, part, value, at, problems);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|kind| type_fits(kind, value)) {
        problems.push(format!("{at}: {} is not {types:?}", compact(value)));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    match value {
        Value::Object(object) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !object.contains_key(name) {
                    problems.push(format!("{at}: required `{name}` is missing"));
                }
            }
            for (name, child) in object {
                let child_at = format!("{at}.{name}");
                match properties.and_then(|properties| properties.get(name)) {
                    Some(property) => validate(document, property, child, &child_at, problems),
                    None => match &schema["additionalProperties"] {
                        Value::Bool(false) => {
                            problems.push(format!("{child_at}: not allowed"));
                        }
                        Value::Object(additional) => validate(
                            document,
                            &Value::Object(additional.clone()),
                            child,
                            &child_at,
                            problems,
                        ),
                        Value::Bool(true) => {}
                        _ if properties.is_some() => {
                            problems.push(format!("{child_at}: not in the documented schema"));
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate(
                        document,
                        item_schema,
                        item,
                        &format!("{at}[{index}]"),
                        problems,
                    );
                }
            }
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    problems.push(format!("{at}: fewer than {min} items"));
                }
            }
        }
        Value::Number(number) => {
            let number = number.as_f64().unwrap();
            if schema["minimum"].as_f64().is_some_and(|min| number < min) {
                problems.push(format!("{at}: {number} below the minimum"));
            }
            if schema["maximum"].as_f64().is_some_and(|max| number > max) {
                problems.push(format!("{at}: {number} above the maximum"));
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
                problems.push(format!("{at}: longer than maxLength"));
            }
            if schema["minLength"].as_u64().is_some_and(|min| length < min) {
                problems.push(format!("{at}: shorter than minLength"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_check_finds_what_it_should() {
    let (_, document) = generated();
    let schema = json!({"$ref": "#/components/schemas/SignTask"});
    let good = json!({
        "partyId": "P1", "signUrl": "https://x.test/h5/sign?token=t",
        "shortUrl": "https://x.test/s/0123456789", "expiresAt": null, "qrCode": null
    });
    let problems_of = |value: &Value| {
        let mut problems = Vec::new();
        validate(&document, &schema, value, "t", &mut problems);
        problems
    };
    assert!(problems_of(&good).is_empty(), "{:?}", problems_of(&good));
    let mut extra = good.clone();
    extra["qrImage"] = json!("data:");
    assert!(problems_of(&extra)[0].contains("not in the documented schema"));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("signUrl");
    assert!(problems_of(&missing)[0].contains("required `signUrl`"));
    let mut wrong = good.clone();
    wrong["expiresAt"] = json!(7);
    assert!(!problems_of(&wrong).is_empty());
    let status = json!({"$ref": "#/components/schemas/ContractStatus"});
    let mut problems = Vec::new();
    validate(&document, &status, &json!("DONE"), "s", &mut problems);
    assert!(problems[0].contains("is not one of"));
}

fn type_fits(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        format!("{}...", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

/// The codes a (possibly referenced) response documents, from its examples.
fn response_codes(document: &Value, response: &Value) -> BTreeSet<i64> {
    let response = match response["$ref"].as_str() {
        Some(reference) => resolve(document, reference).unwrap(),
        None => response,
    };
    let content = &response["content"]["application/json"];
    let mut codes = BTreeSet::new();
    if let Some(examples) = content["examples"].as_object() {
        for example in examples.values() {
            codes.insert(example["value"]["code"].as_i64().unwrap());
        }
    }
    if let Some(code) = content["example"]["code"].as_i64() {
        codes.insert(code);
    }
    codes
}

/// The page's script is valid JavaScript (a syntax error would leave the page blank). Checked with
/// `node --check` where Node.js is installed; skipped with a note elsewhere.
#[test]
fn the_reference_page_script_parses() {
    let page = esign::http::openapi::REFERENCE_PAGE;
    let start = page.find("<script>").expect("an inline script") + "<script>".len();
    let end = page.rfind("</script>").expect("the script's end");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reference.js");
    std::fs::write(&path, &page[start..end]).unwrap();
    match std::process::Command::new("node")
        .arg("--check")
        .arg(&path)
        .output()
    {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("node is not installed: the reference page's script was not syntax-checked");
        }
        Err(error) => panic!("cannot run node: {error}"),
        Ok(output) => assert!(
            output.status.success(),
            "the reference page's script does not parse:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

// ---------------------------------------------------------------------------------------------------
// The running service

struct Service {
    base: String,
    client: SigningClient,
    admin: SigningClient,
    http: reqwest::Client,
    _service: crate::helpers::RunningService,
}

async fn start(t: &TestStore) -> Service {
    let service = crate::helpers::start_service(t, &[CALLER, ADMIN]).await;
    let base = service.base.clone();
    Service {
        client: service.client(CALLER),
        admin: service.client(ADMIN),
        http: esign::providers::outbound::client(std::time::Duration::from_secs(30)).unwrap(),
        base,
        _service: service,
    }
}

/// A path of the document with each `{param}` filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "NOPE_1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn the_service_serves_the_document_and_an_offline_reference_page(t: TestStore) {
    let service = start(&t).await;
    let response = service
        .http
        .get(format!("{}/openapi.json", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served: Value = response.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path()).unwrap()).unwrap();
    assert_eq!(
        served, committed,
        "the served document is the committed one"
    );
    let documented = documented_operations(&served);
    for route in registered_routes() {
        assert!(
            documented.contains(&route),
            "{route} is not in /openapi.json"
        );
    }

    // The reference page: HTML that loads the document and nothing from elsewhere.
    let response = service
        .http
        .get(format!("{}/docs", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"));
    let page = response.text().await.unwrap();
    assert!(
        page.trim_start()
            .to_ascii_lowercase()
            .starts_with("<!doctype html>")
    );
    assert!(
        page.contains("/openapi.json"),
        "the page fetches /openapi.json"
    );
    for external in ["http://", "https://", "//cdn", "src=\"//", "href=\"//"] {
        assert!(
            !page.contains(external),
            "the reference page must work offline; it contains `{external}`"
        );
    }
    for tag in ["<script src", "<link"] {
        assert!(
            !page.contains(tag),
            "the page is one file; it contains `{tag}`"
        );
    }

    // Every documented /api/v1 operation is routed behind request signing: unsigned, it answers
    // the documented 401; the health checks answer without a signature.
    let unauthorized = esign::http::openapi::Unauthorized::EXAMPLES[0].body();
    for (path, item) in served["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_none() {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = service
                .http
                .request(
                    method.clone(),
                    format!("{}{}", service.base, concrete(path)),
                )
                .send()
                .await
                .unwrap();
            let status = response.status();
            // Provider callbacks and the person's pages have their own credentials (a provider
            // signature, a page token); tests/integration/face_providers.rs covers them.
            if path.starts_with("/provider-callbacks/") || path.starts_with("/h5/") {
                continue;
            }
            let body: Value = response.json().await.unwrap();
            if path.starts_with("/api/v1/") {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(body, unauthorized, "{method} {path}");
            } else {
                assert_eq!(status, StatusCode::OK, "{method} {path}");
                let schema = &item[method.as_str().to_lowercase()]["responses"]["200"]["content"]["application/json"]
                    ["schema"];
                let mut problems = Vec::new();
                validate(&served, schema, &body, path, &mut problems);
                assert!(problems.is_empty(), "{problems:?}");
            }
        }
    }
}

/// Checks one answer against the document: a documented status, the documented schema, and for
/// errors a code that this operation documents under that status.
async fn check(
    document: &Value,
    method: &str,
    template: &str,
    response: reqwest::Response,
) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {template}: not JSON ({status}): {text}"));
    let operation = &document["paths"][template][method.to_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let key = status.as_u16().to_string();
    let documented = &operation["responses"][&key];
    assert!(
        documented.is_object(),
        "{method} {template} answered {status}, which it does not document: {body}"
    );
    let resolved = match documented["$ref"].as_str() {
        Some(reference) => resolve(document, reference).unwrap(),
        None => documented,
    };
    let schema = &resolved["content"]["application/json"]["schema"];
    let mut problems = Vec::new();
    validate(
        document,
        schema,
        &body,
        &format!("{method} {template} {status}"),
        &mut problems,
    );
    assert!(problems.is_empty(), "{}\n{body:#}", problems.join("\n"));
    if !status.is_success() {
        let code = body["code"].as_i64().unwrap();
        let codes = response_codes(document, documented);
        assert!(
            codes.contains(&code),
            "{method} {template} answered {status} with code {code}; documented: {codes:?}"
        );
        if let Some(example) =
            resolved["content"]["application/json"]["examples"][code.to_string()].get("value")
        {
            assert_eq!(
                body["message"], example["message"],
                "{method} {template} {code}"
            );
        }
    }
    body
}

async fn answers_match_the_documented_schemas_and_error_codes(t: TestStore) {
    let service = start(&t).await;
    let (_, document) = generated();
    let doc = &document;
    let (client, admin) = (&service.client, &service.admin);

    // Templates.
    let template = json!({
        "templateId": "TPL_DOCS",
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<h1>资金归集授权协议</h1><p>{{payerName}} 授权 {{receiverName}}</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true, "sample": "XX科技有限公司"},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    });
    let publish = "/api/v1/template";
    check(
        doc,
        "POST",
        publish,
        client.post_json(publish, &template).await,
    )
    .await;
    let published = check(
        doc,
        "POST",
        publish,
        admin.post_json(publish, &template).await,
    )
    .await;
    assert_eq!(published["version"], "1.0");
    let mut changed = template.clone();
    changed["content"] = json!("<p>{{payerName}} {{receiverName}} changed</p>");
    check(
        doc,
        "POST",
        publish,
        admin.post_json(publish, &changed).await,
    )
    .await;
    check(
        doc,
        "POST",
        publish,
        admin.post_json(publish, &json!({"name": 7})).await,
    )
    .await;
    let wrong_type = admin
        .request(Method::POST, publish)
        .body(template.to_string())
        .header("content-type", "text/plain")
        .send()
        .await;
    check(doc, "POST", publish, wrong_type).await;
    let oversized = admin
        .request(Method::POST, publish)
        .body(vec![b' '; 1024 * 1024 + 1])
        .header("content-type", "application/json")
        .send()
        .await;
    check(doc, "POST", publish, oversized).await;

    let current = "/api/v1/template/{templateId}";
    check(
        doc,
        "GET",
        current,
        client.get("/api/v1/template/TPL_DOCS").await,
    )
    .await;
    check(
        doc,
        "GET",
        current,
        client.get("/api/v1/template/TPL_NONE").await,
    )
    .await;
    let version = "/api/v1/template/{templateId}/versions/{version}";
    check(
        doc,
        "GET",
        version,
        client.get("/api/v1/template/TPL_DOCS/versions/1.0").await,
    )
    .await;
    check(
        doc,
        "GET",
        version,
        client.get("/api/v1/template/TPL_DOCS/versions/9.9").await,
    )
    .await;

    // Contracts.
    let contract = json!({
        "bizId": "DOCS_001",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TPL_DOCS",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": [
            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
             "idCardNo": "11010519491231002X", "mobile": "13800138000",
             "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1},
            {"partyId": "PAYER_001", "partyType": "PAYER", "name": "李四",
             "idCardNo": "440304199001010011", "mobile": "13900139000", "sequence": 2}
        ],
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "webhookConfig": {"headers": {"Authorization": "Bearer callback-token"}},
        "expireDays": 7,
        "archiveConfig": {"needArchive": true, "archiveProvider": "TSA"}
    });
    let initiate = "/api/v1/contract/initiate";
    let created = check(
        doc,
        "POST",
        initiate,
        client.post_json(initiate, &contract).await,
    )
    .await;
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    let duplicate = check(
        doc,
        "POST",
        initiate,
        client.post_json(initiate, &contract).await,
    )
    .await;
    assert_eq!(duplicate["code"], 40002);
    assert_eq!(duplicate["existing"]["contractId"], contract_id.as_str());
    let mut no_template = contract.clone();
    no_template["bizId"] = json!("DOCS_002");
    no_template["templateId"] = json!("TPL_MISSING");
    check(
        doc,
        "POST",
        initiate,
        client.post_json(initiate, &no_template).await,
    )
    .await;
    let mut invalid = contract.clone();
    invalid["bizId"] = json!("DOCS_003");
    invalid["signers"][0]["idCardNo"] = json!("110105194912310021");
    check(
        doc,
        "POST",
        initiate,
        client.post_json(initiate, &invalid).await,
    )
    .await;

    let show = "/api/v1/contract/{contractId}";
    let shown = check(
        doc,
        "GET",
        show,
        client.get(&format!("/api/v1/contract/{contract_id}")).await,
    )
    .await;
    assert_eq!(shown["signers"].as_array().unwrap().len(), 2);
    check(
        doc,
        "GET",
        show,
        client.get("/api/v1/contract/CONTRACT_NONE").await,
    )
    .await;

    let sign_url = "/api/v1/contract/{contractId}/signers/{partyId}/sign-url";
    let reissue = |party: &str| format!("/api/v1/contract/{contract_id}/signers/{party}/sign-url");
    check(
        doc,
        "POST",
        sign_url,
        client
            .request(Method::POST, &reissue("RECEIVER_001"))
            .send()
            .await,
    )
    .await;
    check(
        doc,
        "POST",
        sign_url,
        client
            .request(Method::POST, &reissue("NOBODY"))
            .send()
            .await,
    )
    .await;

    let verify = "/api/v1/contract/verify";
    let verdict = check(
        doc,
        "POST",
        verify,
        client
            .post_json(
                verify,
                &json!({"method": "CONTRACT_ID", "contractId": contract_id}),
            )
            .await,
    )
    .await;
    assert_eq!(verdict["valid"], false);
    check(
        doc,
        "POST",
        verify,
        client
            .post_json(verify, &json!({"method": "FILE_HASH"}))
            .await,
    )
    .await;
    check(
        doc,
        "POST",
        verify,
        client
            .post_json(
                verify,
                &json!({"method": "CONTRACT_ID", "contractId": "CONTRACT_NONE"}),
            )
            .await,
    )
    .await;

    let events = "/api/v1/contract/{contractId}/events";
    let trail = check(
        doc,
        "GET",
        events,
        client
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    assert_eq!(trail["chainIntact"], true);
    check(
        doc,
        "GET",
        events,
        client.get("/api/v1/contract/CONTRACT_NONE/events").await,
    )
    .await;

    let revoke = "/api/v1/contract/{contractId}/revoke";
    let revoke_path = format!("/api/v1/contract/{contract_id}/revoke");
    let body = json!({"reason": "用户要求取消", "operator": "system_admin"});
    check(
        doc,
        "POST",
        revoke,
        client.post_json(&revoke_path, &json!({})).await,
    )
    .await;
    let revoked = check(
        doc,
        "POST",
        revoke,
        client.post_json(&revoke_path, &body).await,
    )
    .await;
    assert_eq!(revoked["status"], "REVOKED");
    let again = check(
        doc,
        "POST",
        revoke,
        client.post_json(&revoke_path, &body).await,
    )
    .await;
    assert_eq!(again["code"], 40900);
    check(
        doc,
        "POST",
        revoke,
        client
            .post_json("/api/v1/contract/CONTRACT_NONE/revoke", &body)
            .await,
    )
    .await;
    check(
        doc,
        "POST",
        sign_url,
        client
            .request(Method::POST, &reissue("PAYER_001"))
            .send()
            .await,
    )
    .await;

    // Face verification.
    let verification = json!({
        "bizId": "DOCS_FACE_001",
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
        "callbackUrl": "https://auth.example.com/callback/face-verification",
        "webhookConfig": {"headers": {"Authorization": "Bearer callback-token"}},
        "expireMinutes": 30,
        "uiConfig": {"title": "天财分账身份验证", "themeColor": "#1890ff"}
    });
    let start_face = "/api/v1/verification/face/initiate";
    let started = check(
        doc,
        "POST",
        start_face,
        client.post_json(start_face, &verification).await,
    )
    .await;
    let verification_id = started["verificationId"].as_str().unwrap().to_owned();
    let repeat = check(
        doc,
        "POST",
        start_face,
        client.post_json(start_face, &verification).await,
    )
    .await;
    assert_eq!(
        repeat["existing"]["verificationId"],
        verification_id.as_str()
    );
    check(
        doc,
        "POST",
        start_face,
        client.post_json(start_face, &json!({"userInfo": {}})).await,
    )
    .await;

    let show_face = "/api/v1/verification/face/{verificationId}";
    let face = check(
        doc,
        "GET",
        show_face,
        client
            .get(&format!("/api/v1/verification/face/{verification_id}"))
            .await,
    )
    .await;
    assert_eq!(face["userInfo"]["idCardNo"], "11010519491231002X");
    check(
        doc,
        "GET",
        show_face,
        client.get("/api/v1/verification/face/FACE_NONE").await,
    )
    .await;
    let face_events = "/api/v1/verification/face/{verificationId}/events";
    check(
        doc,
        "GET",
        face_events,
        client
            .get(&format!(
                "/api/v1/verification/face/{verification_id}/events"
            ))
            .await,
    )
    .await;
    check(
        doc,
        "GET",
        face_events,
        client
            .get("/api/v1/verification/face/FACE_NONE/events")
            .await,
    )
    .await;

    // Unsigned, and signed with the wrong secret: the documented 401.
    let unsigned = service
        .http
        .get(format!("{}/api/v1/contract/{contract_id}", service.base))
        .send()
        .await
        .unwrap();
    check(doc, "GET", show, unsigned).await;
    let forged = client
        .request(Method::GET, &format!("/api/v1/contract/{contract_id}"))
        .secret("not-the-secret-0123456789")
        .send()
        .await;
    check(doc, "GET", show, forged).await;
}
