//! Request signing (spec 4.3) end to end: a protected route behind `require_signature`, served on a
//! random port with connect info, driven by the independent signing client on both backends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{OriginalUri, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use esign::http::auth::{
    AuthRejection, AuthenticatedClient, RequestAuthenticator, require_signature,
};
use esign::pii::PiiCipher;
use esign::store::Store;
use esign::store::clients::ClientConfig;
use esign::store::clients::{ClientError, ClientRegistry, ClientSource, NewClient};
use esign::store::nonces::NonceStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestStore};
use crate::signing_client::{
    SigningClient, assert_signature_rejected, canonical_request, random_nonce, sign, unix_now,
};

crate::backend_tests!(
    correctly_signed_get_and_post_requests_reach_the_handler,
    every_forged_or_broken_request_gets_the_same_401_and_never_reaches_the_handler,
    a_nonce_is_accepted_once_per_client_even_under_concurrent_replays,
    the_timestamp_window_is_300_seconds_either_way,
    a_client_added_through_the_cli_code_path_signs_requests_at_once,
    the_esign_clients_commands_issue_a_working_secret_and_never_list_it,
    a_body_over_one_mebibyte_gets_413_and_never_reaches_the_handler,
    expired_nonces_are_purged_and_may_then_be_reused,
);

const ERP_SECRET: &str = "erp-secret-0123456789abcdef";
const CRM_SECRET: &str = "crm-secret-0123456789abcdef";

fn configured_clients() -> Vec<ClientConfig> {
    let client = |id: &str, secret: &str, allowed: &[&str], admin: bool| ClientConfig {
        id: id.to_owned(),
        secret: secret.to_owned(),
        allowed_ips: allowed.iter().map(|range| range.to_string()).collect(),
        admin,
    };
    vec![
        client("erp", ERP_SECRET, &[], false),
        client("crm", CRM_SECRET, &[], true),
        client(
            "walled",
            "walled-secret-0123456789",
            &["10.0.0.0/8", "192.0.2.7"],
            false,
        ),
        client(
            "local",
            "local-secret-0123456789",
            &["127.0.0.0/8", "::1/128"],
            false,
        ),
    ]
}

/// The protected API on a random port, and how often its handler ran.
struct TestApi {
    base_url: String,
    handled: Arc<AtomicUsize>,
    authenticator: Arc<RequestAuthenticator>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApi {
    async fn start(t: &TestStore) -> Self {
        Self::start_with(t.store.clone(), Arc::clone(&t.cipher)).await
    }

    async fn start_with(store: Store, cipher: Arc<PiiCipher>) -> Self {
        let registry = ClientRegistry::new(&configured_clients(), store.clone(), cipher).unwrap();
        let authenticator = Arc::new(RequestAuthenticator::new(registry, NonceStore::new(store)));
        let handled = Arc::new(AtomicUsize::new(0));
        // Nested like the real API, so the middleware must sign-check the full original path.
        let api = Router::new()
            .route("/echo", get(echo).post(echo))
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(&authenticator),
                require_signature,
            ))
            .with_state(Arc::clone(&handled));
        let router = Router::new().nest("/api/v1", api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            base_url,
            handled,
            authenticator,
            server,
        }
    }

    fn client(&self, id: &str, secret: &str) -> SigningClient {
        SigningClient::new(&self.base_url, id, secret)
    }

    fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }
}

/// Echoes who called and what arrived, so tests see the request the handler saw.
async fn echo(
    State(handled): State<Arc<AtomicUsize>>,
    Extension(client): Extension<AuthenticatedClient>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Json<Value> {
    handled.fetch_add(1, Ordering::SeqCst);
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    Json(json!({
        "clientId": client.id,
        "admin": client.admin,
        "query": query,
        "body": String::from_utf8_lossy(&body),
    }))
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Rows in `api_nonces`, read straight from the database.
async fn nonce_rows(t: &TestStore) -> i64 {
    match t.backend {
        Backend::Sqlite => {
            let path = t.sqlite_path().unwrap();
            tokio::task::spawn_blocking(move || {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .query_row("SELECT count(*) FROM api_nonces", [], |row| row.get(0))
                    .unwrap()
            })
            .await
            .unwrap()
        }
        Backend::Postgres => t
            .postgres_superuser()
            .await
            .query_one("SELECT count(*) FROM api_nonces", &[])
            .await
            .unwrap()
            .get(0),
    }
}

/// Waits until the current second has at least 700 ms left, so a request sent now is checked within
/// the second its timestamp was taken in (for tests right at the window's edge).
async fn early_in_a_second() {
    let into = Utc::now().timestamp_subsec_millis();
    if into > 300 {
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::from(1_000 - into) + 5,
        ))
        .await;
    }
}

/// A correctly signed GET (query parameters unsorted, values percent-encoded) and a POST with a JSON
/// body both pass, and the handler learns which client called. A repeated name is refused even when
/// signed: sorted, `a=2&a=10` and `a=10&a=2` would share a signature.
async fn correctly_signed_get_and_post_requests_reach_the_handler(t: TestStore) {
    let api = TestApi::start(&t).await;
    let erp = api.client("erp", ERP_SECRET);

    let got = ok_json(
        erp.get("/api/v1/echo?z=last&name=%E5%BC%A0%E4%B8%89&q=a+b%26c&a=2&b=10&empty=&flag")
            .await,
    )
    .await;
    assert_eq!(got["clientId"], "erp");
    assert_eq!(got["admin"], false);
    assert_eq!(
        got["query"],
        json!([
            ["z", "last"],
            ["name", "张三"],
            ["q", "a b&c"],
            ["a", "2"],
            ["b", "10"],
            ["empty", ""],
            ["flag", ""]
        ])
    );

    let repeated = erp.get("/api/v1/echo?a=2&a=10").await;
    assert_eq!(repeated.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        api.handled(),
        1,
        "the repeated query never reached the handler"
    );

    let crm = api.client("crm", CRM_SECRET);
    let body = json!({"bizId": "ORDER-1001", "signers": [{"name": "张三"}]});
    let posted = ok_json(crm.post_json("/api/v1/echo?b=1&a=%2F%3F", &body).await).await;
    assert_eq!(posted["clientId"], "crm");
    assert_eq!(posted["admin"], true);
    let echoed: Value = serde_json::from_str(posted["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed, body);

    // A client limited to loopback calls from loopback.
    let local = api.client("local", "local-secret-0123456789");
    ok_json(local.get("/api/v1/echo").await).await;
    assert_eq!(api.handled(), 3);
}

/// Missing headers, a wrong signature, a tampered body, stale and future timestamps, an unknown
/// client, another client's secret, malformed and repeated headers, and a caller outside the
/// allow-list: each gets exactly 401 + 40101, the handler never runs, and no nonce is stored.
async fn every_forged_or_broken_request_gets_the_same_401_and_never_reaches_the_handler(
    t: TestStore,
) {
    let api = TestApi::start(&t).await;
    let erp = api.client("erp", ERP_SECRET);
    let path = "/api/v1/echo?b=2&a=1";
    let body = json!({"amount": 100});
    let walled = api.client("walled", "walled-secret-0123456789");
    let now = unix_now();

    for header in ["X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature"] {
        let response = erp.request(Method::GET, path).without(header).send().await;
        assert_signature_rejected(response).await;
    }
    let cases = [
        (
            "a signature of zeros",
            erp.request(Method::GET, path).signature(&"0".repeat(64)),
        ),
        (
            "a signature that is not hex",
            erp.request(Method::GET, path).signature("not hex"),
        ),
        (
            "a tampered body",
            erp.request(Method::POST, path)
                .json(&body)
                .signed_body(r#"{"amount":1}"#),
        ),
        (
            "a timestamp 301 s old",
            erp.request(Method::GET, path).timestamp_offset(-301),
        ),
        (
            "a timestamp 301 s ahead",
            erp.request(Method::GET, path).timestamp_offset(301),
        ),
        (
            "a fractional timestamp",
            erp.request(Method::GET, path)
                .timestamp_text("1700000000.5"),
        ),
        (
            "an unknown client",
            erp.request(Method::GET, path).client_id("nobody"),
        ),
        (
            "erp's id with crm's secret",
            erp.request(Method::GET, path).secret(CRM_SECRET),
        ),
        (
            "crm's id with erp's secret",
            erp.request(Method::GET, path)
                .client_id("crm")
                .secret(ERP_SECRET),
        ),
        (
            "a nonce too short",
            erp.request(Method::GET, path).nonce("too-short"),
        ),
        (
            "a nonce with a dot",
            erp.request(Method::GET, path).nonce("has.a.dot.in.it.x"),
        ),
        (
            "a nonce too long",
            erp.request(Method::GET, path).nonce(&"n".repeat(65)),
        ),
        (
            "two nonce headers",
            erp.request(Method::GET, path)
                .header("x-nonce", &random_nonce()),
        ),
        (
            "a query parameter added after signing",
            erp.request(Method::GET, "/api/v1/echo?b=2&a=1&extra=1")
                .signature(&sign(
                    ERP_SECRET.as_bytes(),
                    &canonical_request(
                        "GET",
                        "/api/v1/echo",
                        Some("b=2&a=1"),
                        &now.to_string(),
                        "fixed-nonce-0000001",
                        b"",
                    ),
                ))
                .timestamp(now)
                .nonce("fixed-nonce-0000001"),
        ),
        (
            "a path changed after signing",
            erp.request(Method::GET, "/api/v1/echo?b=2&a=1")
                .signature(&sign(
                    ERP_SECRET.as_bytes(),
                    &canonical_request(
                        "GET",
                        "/api/v1/other",
                        Some("b=2&a=1"),
                        &now.to_string(),
                        "fixed-nonce-0000002",
                        b"",
                    ),
                ))
                .timestamp(now)
                .nonce("fixed-nonce-0000002"),
        ),
        (
            "a caller outside the allow-list",
            walled.request(Method::GET, path),
        ),
    ];
    for (case, request) in cases {
        let response = request.send().await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_signature_rejected(response).await;
    }
    assert_eq!(api.handled(), 0, "the handler ran for a rejected request");
    assert_eq!(
        nonce_rows(&t).await,
        0,
        "a rejected request stored its nonce"
    );

    // And the same client, signing properly, still gets through.
    ok_json(erp.get(path).await).await;
    assert_eq!(nonce_rows(&t).await, 1);
}

/// A request sent twice is refused the second time; sent eight times at once, exactly one passes.
/// The same nonce from another client is that client's own.
async fn a_nonce_is_accepted_once_per_client_even_under_concurrent_replays(t: TestStore) {
    let api = TestApi::start(&t).await;
    let erp = api.client("erp", ERP_SECRET);
    let now = unix_now();
    let nonce = random_nonce();
    let replay = || {
        erp.request(Method::POST, "/api/v1/echo")
            .json(&json!({"n": 1}))
            .timestamp(now)
            .nonce(&nonce)
    };
    ok_json(replay().send().await).await;
    assert_signature_rejected(replay().send().await).await;

    let crm = api.client("crm", CRM_SECRET);
    let same_nonce_other_client = crm.request(Method::GET, "/api/v1/echo").nonce(&nonce);
    ok_json(same_nonce_other_client.send().await).await;

    let burst_nonce = random_nonce();
    let responses = futures::future::join_all((0..8).map(|_| {
        erp.request(Method::GET, "/api/v1/echo?burst=1")
            .timestamp(now)
            .nonce(&burst_nonce)
            .send()
    }))
    .await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        7
    );
    assert_eq!(api.handled(), 3);
}

/// ±300 s from the server's clock passes, 301 s either way does not: exactly at the edges through
/// `authenticate` with a fixed clock, and over HTTP against the real clock.
async fn the_timestamp_window_is_300_seconds_either_way(t: TestStore) {
    let api = TestApi::start(&t).await;
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let check = |offset: i64| {
        let authenticator = Arc::clone(&api.authenticator);
        async move {
            let timestamp = (now.timestamp() + offset).to_string();
            let nonce = random_nonce();
            let canonical = canonical_request("GET", "/api/v1/echo", None, &timestamp, &nonce, b"");
            let mut headers = axum::http::HeaderMap::new();
            headers.insert("x-client-id", "erp".parse().unwrap());
            headers.insert("x-timestamp", timestamp.parse().unwrap());
            headers.insert("x-nonce", nonce.parse().unwrap());
            let signature = sign(ERP_SECRET.as_bytes(), &canonical);
            headers.insert("x-signature", signature.parse().unwrap());
            authenticator
                .authenticate(
                    &axum::http::Method::GET,
                    &"/api/v1/echo".parse().unwrap(),
                    &headers,
                    "127.0.0.1".parse().unwrap(),
                    b"",
                    now,
                )
                .await
        }
    };
    for offset in [-300, 0, 300] {
        let client = check(offset).await.unwrap();
        assert_eq!(client.id, "erp");
    }
    for offset in [-301, 301, -100_000] {
        assert!(
            matches!(
                check(offset).await,
                Err(AuthRejection::StaleTimestamp { skew_secs }) if skew_secs == offset
            ),
            "offset {offset}"
        );
    }

    let erp = api.client("erp", ERP_SECRET);
    early_in_a_second().await;
    ok_json(
        erp.request(Method::GET, "/api/v1/echo")
            .timestamp_offset(-299)
            .send()
            .await,
    )
    .await;
    ok_json(
        erp.request(Method::GET, "/api/v1/echo")
            .timestamp_offset(299)
            .send()
            .await,
    )
    .await;
    early_in_a_second().await;
    for offset in [-301, 301] {
        let response = erp
            .request(Method::GET, "/api/v1/echo")
            .timestamp_offset(offset)
            .send()
            .await;
        assert_signature_rejected(response).await;
    }
}

/// `ClientRegistry::add`, the function `esign clients add` runs, from a separate store handle as the
/// CLI process would have: the running service accepts the new client's next request. Ids in use
/// (stored or configured) are refused, the secret is stored sealed, and the allow-list is enforced.
async fn a_client_added_through_the_cli_code_path_signs_requests_at_once(t: TestStore) {
    let api = TestApi::start(&t).await;
    let cli_store = Store::open(&t.url, 2).await.unwrap();
    let cli = ClientRegistry::new(&configured_clients(), cli_store, Arc::clone(&t.cipher)).unwrap();

    let issued = cli
        .add(NewClient {
            id: "partner".into(),
            admin: true,
            allowed_ips: vec![],
        })
        .await
        .unwrap();
    assert_eq!(issued.secret.len(), 43, "base64url of 32 bytes");
    let partner = api.client("partner", &issued.secret);
    let got = ok_json(partner.get("/api/v1/echo?x=1").await).await;
    assert_eq!(got["clientId"], "partner");
    assert_eq!(got["admin"], true);

    for taken in ["partner", "erp"] {
        let again = cli
            .add(NewClient {
                id: taken.into(),
                ..NewClient::default()
            })
            .await;
        assert!(matches!(again, Err(ClientError::Duplicate(_))), "{taken}");
    }
    assert!(matches!(
        cli.add(NewClient {
            id: "bad id".into(),
            ..NewClient::default()
        })
        .await,
        Err(ClientError::InvalidId(_))
    ));
    assert!(matches!(
        cli.add(NewClient {
            id: "ranged".into(),
            allowed_ips: vec!["10.0.0.0/40".into()],
            ..NewClient::default()
        })
        .await,
        Err(ClientError::InvalidCidr(_))
    ));

    let fenced = cli
        .add(NewClient {
            id: "fenced".into(),
            admin: false,
            allowed_ips: vec!["10.0.0.0/8".into()],
        })
        .await
        .unwrap();
    let fenced_client = api.client("fenced", &fenced.secret);
    assert_signature_rejected(fenced_client.get("/api/v1/echo").await).await;

    let listed = cli.list().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["crm", "erp", "fenced", "local", "partner", "walled"]);
    let fenced_summary = listed.iter().find(|c| c.id == "fenced").unwrap();
    assert_eq!(fenced_summary.allowed_ips, ["10.0.0.0/8"]);
    assert_eq!(fenced_summary.source, ClientSource::Database);
    assert!(fenced_summary.created_at.is_some());
    let listing = serde_json::to_string(&listed).unwrap();
    for secret in [&issued.secret, &fenced.secret] {
        assert!(!listing.contains(secret.as_str()));
    }

    let stored = stored_secrets(&t).await;
    assert_eq!(stored.len(), 2);
    for sealed in stored {
        assert!(!sealed.contains(&issued.secret) && !sealed.contains(&fenced.secret));
        assert!(
            sealed.contains("\"c\""),
            "an AES-GCM sealed value: {sealed}"
        );
    }
}

async fn stored_secrets(t: &TestStore) -> Vec<String> {
    const SQL: &str = "SELECT secret_sealed FROM api_clients ORDER BY client_id";
    match t.backend {
        Backend::Sqlite => {
            let path = t.sqlite_path().unwrap();
            tokio::task::spawn_blocking(move || {
                let connection = rusqlite::Connection::open(path).unwrap();
                let mut statement = connection.prepare(SQL).unwrap();
                statement
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<Vec<String>, _>>()
                    .unwrap()
            })
            .await
            .unwrap()
        }
        Backend::Postgres => t
            .postgres_superuser()
            .await
            .query(SQL, &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect(),
    }
}

/// The real binary: `esign clients add` prints a secret once, which then signs requests to a service
/// sharing its database and keys; `esign clients list` shows the client but never a secret.
async fn the_esign_clients_commands_issue_a_working_secret_and_never_list_it(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let esign = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_esign"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESIGN_DATABASE_URL", &t.url)
            .env("ESIGN_SERVER_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        (output.status.success(), stdout, stderr)
    };
    let (ok, stdout, stderr) = esign(&[
        "clients",
        "add",
        "--id",
        "ops",
        "--allowed-ip",
        "127.0.0.1",
        "--allowed-ip",
        "::1",
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("cannot be shown again"), "{stdout}");
    let secret = stdout
        .lines()
        .find_map(|line| line.strip_prefix("secret:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no secret printed: {stdout}"))
        .to_owned();

    let (ok, _, stderr) = esign(&["clients", "add", "--id", "ops"]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");

    let (ok, listing, stderr) = esign(&["clients", "list"]);
    assert!(ok, "{stderr}");
    assert!(listing.contains("ops"), "{listing}");
    assert!(listing.contains("127.0.0.1/32"), "{listing}");
    assert!(!listing.contains(&secret));

    // The service and the CLI share the database and the data directory's generated keys.
    let mut config = esign::app::config::Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    let cipher = Arc::new(config.pii_cipher().unwrap());
    let api = TestApi::start_with(t.store.clone(), cipher).await;
    let got = ok_json(api.client("ops", &secret).get("/api/v1/echo").await).await;
    assert_eq!(got["clientId"], "ops");
}

/// A body over 1 MiB is refused with 413 before anything else; exactly 1 MiB still passes.
async fn a_body_over_one_mebibyte_gets_413_and_never_reaches_the_handler(t: TestStore) {
    let api = TestApi::start(&t).await;
    let erp = api.client("erp", ERP_SECRET);
    let limit = esign::http::auth::MAX_SIGNED_BODY_BYTES;
    let response = erp
        .request(Method::POST, "/api/v1/echo")
        .body(vec![b'x'; limit + 1])
        .send()
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"code": 41300, "message": "请求体过大"}));
    assert_eq!(api.handled(), 0);

    ok_json(
        erp.request(Method::POST, "/api/v1/echo")
            .body(vec![b'x'; limit])
            .send()
            .await,
    )
    .await;
}

/// A nonce is kept until its window ends; the purge removes only expired ones, after which the
/// timestamp check alone guards against a replay and the nonce may be used again.
async fn expired_nonces_are_purged_and_may_then_be_reused(t: TestStore) {
    let nonces = NonceStore::new(t.store.clone());
    let at = |secs: i64| Utc.timestamp_opt(secs, 0).unwrap();
    assert!(
        nonces
            .use_once("erp", "nonce-aaaaaaaaaaaa", at(1_000))
            .await
            .unwrap()
    );
    assert!(
        !nonces
            .use_once("erp", "nonce-aaaaaaaaaaaa", at(1_000))
            .await
            .unwrap()
    );
    assert!(
        nonces
            .use_once("crm", "nonce-aaaaaaaaaaaa", at(1_000))
            .await
            .unwrap()
    );
    assert!(
        nonces
            .use_once("erp", "nonce-bbbbbbbbbbbb", at(2_000))
            .await
            .unwrap()
    );

    assert_eq!(nonces.purge_expired(at(1_000)).await.unwrap(), 0);
    assert_eq!(nonces.purge_expired(at(1_001)).await.unwrap(), 2);
    assert_eq!(nonce_rows(&t).await, 1);
    assert!(
        nonces
            .use_once("erp", "nonce-aaaaaaaaaaaa", at(3_000))
            .await
            .unwrap()
    );
    assert!(
        !nonces
            .use_once("erp", "nonce-bbbbbbbbbbbb", at(3_000))
            .await
            .unwrap()
    );
}
