//! Shared fixtures: a fresh store per test on either backend, events to append, the service started on
//! a free port with the clients a test calls as, and the one way a test says it could not run.
//!
//! PostgreSQL tests use `ESIGN_TEST_DATABASE_URL` (default: the local server). Each test gets its own
//! database, cloned from a migrated template and dropped when the test ends. When something a test
//! needs is missing (the server, NATS, moto, a verifier program, Chromium) the test stops early through
//! [`skip`], which says so on the terminal; under `CI=true` or `ESIGN_TEST_REQUIRE_ALL=1` it fails
//! instead.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use esign::pii::PiiCipher;
use esign::store::migrations;
use esign::store::{AppendRequest, EventMetadata, NewEvent, Store, StreamId};
use serde_json::{Value, json};
use uuid::Uuid;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store of its own for one test, removed when the test ends.
pub struct TestStore {
    pub store: Store,
    pub cipher: Arc<PiiCipher>,
    /// The url the store was opened with (`sqlite://...` or `postgres://...`).
    pub url: String,
    pub backend: Backend,
    _sqlite_dir: Option<tempfile::TempDir>,
    postgres: Option<PostgresDatabase>,
}

impl TestStore {
    /// A fresh store, or `None` when PostgreSQL is unreachable (see [`skip`]).
    pub async fn new(backend: Backend) -> Option<Self> {
        let cipher = Arc::new(test_cipher());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("esign.db").display());
                let store = Store::open(&url, 4).await.expect("open sqlite store");
                Some(Self {
                    store,
                    cipher,
                    url,
                    backend,
                    _sqlite_dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let database = PostgresDatabase::create().await?;
                let store = Store::open(&database.url, 40)
                    .await
                    .expect("open postgres store");
                Some(Self {
                    store,
                    cipher,
                    url: database.url.clone(),
                    backend,
                    _sqlite_dir: None,
                    postgres: Some(database),
                })
            }
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    /// A raw superuser connection to this test's PostgreSQL database.
    pub async fn postgres_superuser(&self) -> tokio_postgres::Client {
        let database = self.postgres.as_ref().expect("a postgres test store");
        connect(&database.url)
            .await
            .expect("connect to the test database")
    }

    /// A sealed event carrying personal data, about 300 bytes.
    pub fn event(&self, kind: &str, note: &str) -> NewEvent {
        self.event_with(
            kind,
            json!({
                "note": note,
                "name": {"$pii": "张三"},
                "idCardNo": {"$pii": "11010519491231002X"},
                "mobile": {"$pii": "13800138000"},
            }),
        )
    }

    pub fn event_with(&self, kind: &str, payload: Value) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: kind.to_owned(),
            schema_version: 1,
            payload: self.cipher.seal(payload).expect("seal"),
            metadata: EventMetadata {
                actor: "client:test".into(),
                client_id: Some("test".into()),
                ip: Some("127.0.0.1".into()),
                user_agent: Some("esign-tests".into()),
                correlation_id: Some(Uuid::new_v4().to_string()),
                causation_id: None,
            },
        }
    }
}

/// A client the test service is configured with: the id and secret it signs requests with, and
/// whether it may use the operators' endpoints.
#[derive(Debug, Clone, Copy)]
pub struct TestClient {
    pub id: &'static str,
    pub secret: &'static str,
    pub admin: bool,
}

impl TestClient {
    pub const fn caller(id: &'static str, secret: &'static str) -> Self {
        Self {
            id,
            secret,
            admin: false,
        }
    }

    pub const fn admin(id: &'static str, secret: &'static str) -> Self {
        Self {
            id,
            secret,
            admin: true,
        }
    }
}

/// The upstream authentication system most tests call as.
pub const CALLER: TestClient = TestClient::caller("auth", "auth-secret-0123456789abcdef");
/// A second, unrelated caller: what it must not see or change is the point of its tests.
pub const OTHER: TestClient = TestClient::caller("other", "other-secret-0123456789abcdef");
/// An operator: publishes templates, redelivers callbacks.
pub const ADMIN: TestClient = TestClient::admin("admin", "admin-secret-0123456789abcdef");

/// The real service on a random port against a test store, with the test's clients configured; it
/// runs until the test ends. `client` (beside `SigningClient`) signs requests to it as one of them.
pub struct RunningService {
    pub base: String,
    /// The separate metrics listener's base URL, when `metrics.bind` gave it one.
    pub metrics_base: Option<String>,
    pub state: esign::http::AppState,
    _data: tempfile::TempDir,
}

pub async fn start_service(t: &TestStore, clients: &[TestClient]) -> RunningService {
    // A public address of its own, so link assertions do not depend on the port.
    start_service_with(t, clients, |config| {
        config.server.public_base_url = "https://esign.test".into()
    })
    .await
}

/// Like [`start_service`], with `public_base_url` set to the service's real address (so providers can
/// call it back) and the configuration adjusted by `configure` before the service is built.
pub async fn start_service_with(
    t: &TestStore,
    clients: &[TestClient],
    configure: impl FnOnce(&mut esign::app::config::Config),
) -> RunningService {
    start_service_writing(
        t,
        clients,
        esign::app::pipeline::WriteMode::EventSourced,
        configure,
    )
    .await
    .expect("the service starts")
}

/// Like [`start_service_with`], writing contracts as `write_mode` says; the start's error is returned.
pub async fn start_service_writing(
    t: &TestStore,
    clients: &[TestClient],
    write_mode: esign::app::pipeline::WriteMode,
    configure: impl FnOnce(&mut esign::app::config::Config),
) -> Result<RunningService, esign::http::server::StartupError> {
    let data = tempfile::tempdir().expect("temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("the bound address");
    let mut config = esign::app::config::Config::default();
    config.server.bind = address;
    config.server.data_dir = data.path().to_path_buf();
    config.server.public_base_url = format!("http://{address}");
    config.database.url = t.url.clone();
    config.database.max_connections = 8;
    for client in clients {
        config.clients.push(esign::store::clients::ClientConfig {
            id: client.id.into(),
            secret: client.secret.into(),
            allowed_ips: Vec::new(),
            admin: client.admin,
        });
    }
    configure(&mut config);
    let app =
        esign::http::server::Application::build_on_with_write_mode(config, listener, write_mode)
            .await?;
    let base = format!("http://{address}");
    let metrics_base = app
        .metrics_addr()
        .map(|address| format!("http://{address}"));
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok(RunningService {
        base,
        metrics_base,
        state,
        _data: data,
    })
}

/// Whether every suite must run: a missing dependency fails the test instead of skipping it.
pub fn all_suites_required() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("ESIGN_TEST_REQUIRE_ALL").is_ok_and(|value| value == "1")
}

/// Records that the running test cannot do its work because `needed` is missing (`why`), and lets
/// it return early; the caller returns right after. Under [`all_suites_required`] this fails the
/// test instead.
///
/// The note is written to the terminal directly: the test harness shows what a passing test prints
/// only on request, and a skipped suite must not pass unseen.
#[track_caller]
pub fn skip(needed: &str, why: impl Display) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    if all_suites_required() {
        panic!(
            "{test} needs {needed}, and all suites are required (CI=true or \
             ESIGN_TEST_REQUIRE_ALL=1): {why}"
        );
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: needs {needed}: {why} (ESIGN_TEST_REQUIRE_ALL=1 makes this a failure)"
    );
}

pub fn append(stream: &StreamId, expected_version: u64, events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        stream_id: stream.clone(),
        expected_version,
        events,
    }
}

pub fn stream(kind: &str) -> StreamId {
    StreamId::new(kind, &Uuid::new_v4().simple().to_string())
}

pub fn test_cipher() -> PiiCipher {
    let keys = BTreeMap::from([("test".to_owned(), PiiCipher::generate_key().expect("key"))]);
    PiiCipher::new("test", &keys, &PiiCipher::generate_key().expect("key")).expect("cipher")
}

/// One test's PostgreSQL database, dropped (with its connections) when the test ends.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    async fn create() -> Option<Self> {
        let admin_url = std::env::var("ESIGN_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let admin = match connect(&admin_url).await {
            Ok(client) => client,
            Err(error) => {
                skip(
                    "PostgreSQL",
                    format_args!("{admin_url} is unreachable ({error})"),
                );
                return None;
            }
        };
        let template = ensure_template(&admin, &admin_url).await;
        let name = format!("esign_test_{}", Uuid::new_v4().simple());
        // A template being cloned concurrently by another test is fine; one with open sessions is not,
        // so retry briefly while the template's migration connections wind down.
        let mut attempts = 0;
        loop {
            match admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot create test database {name}: {error}"),
            }
        }
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async; a small runtime of its own does the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The migrated template database for the current migration set, created once per set.
async fn ensure_template(admin: &tokio_postgres::Client, admin_url: &str) -> String {
    let fingerprint = migrations::fingerprint(migrations::POSTGRES);
    let template = format!("esign_template_{}", &fingerprint[..16]);
    // Test processes start together; one builds the template while the others wait on this lock.
    admin
        .batch_execute("SELECT pg_advisory_lock(4242001)")
        .await
        .expect("template lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("look up template")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        for sql in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            admin
                .batch_execute(&sql)
                .await
                .expect("create template database");
        }
        let store = Store::open(&with_database(admin_url, &building), 1)
            .await
            .expect("migrate template");
        if let Store::Postgres(pg) = &store {
            pg.close();
        }
        drop(store);
        for sql in [
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}'"
            ),
            format!("ALTER DATABASE {building} RENAME TO {template}"),
        ] {
            admin.batch_execute(&sql).await.expect("publish template");
        }
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(4242001)")
        .await
        .expect("template unlock");
    template
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a postgres url");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

/// Generates one test per backend from an `async fn name(t: TestStore)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(t) = $crate::helpers::TestStore::new($crate::helpers::Backend::Sqlite).await {
                        super::$name(t).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(t) = $crate::helpers::TestStore::new($crate::helpers::Backend::Postgres).await {
                        super::$name(t).await;
                    }
                }
            )*
        }
    };
}

/// Adjusts a test configuration to production mode with everything production insists on
/// (configured keys, a real SMS sender); the outside services it names are never reached.
pub fn production(config: &mut esign::app::config::Config) {
    config.server.mode = aggregates::values::Mode::Production;
    config.security.pii_active_key = Some("k1".into());
    config.security.pii_keys =
        BTreeMap::from([("k1".to_owned(), PiiCipher::generate_key().expect("key"))]);
    config.security.pii_index_key = Some(PiiCipher::generate_key().expect("key"));
    config.sms.sender = esign::providers::sms::SenderKind::MessageCentre;
    config.sms.url = Some("https://sms.example.com/send".into());
    config.sms.auth_header = Some("Authorization".into());
    config.sms.auth_token = Some("Bearer message-centre-token".into());
    config.documents.active_key_id = Some("d1".into());
    config.documents.encryption_keys =
        BTreeMap::from([("d1".to_owned(), PiiCipher::generate_key().expect("key"))]);
    config.documents.url_signing_key = Some(PiiCipher::generate_key().expect("key"));
}

/// A response's status and JSON body; a body that is not JSON fails the test with its text.
pub async fn json_of(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a response body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// An 8-bit RGBA PNG of `width` x `height` from its pixels (what a signature pad exports).
pub fn rgba_png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// Every committed event, counted in chain order (no commit fence: this counts, it does not follow).
pub async fn event_count(store: &esign::store::Store) -> usize {
    use esign::store::EventStore;
    let mut cursor = None;
    let mut count = 0;
    loop {
        let page = store.read_chain(cursor, 1000).await.unwrap();
        let Some(last) = page.last() else {
            return count;
        };
        cursor = Some(esign::store::ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        count += page.len();
    }
}
