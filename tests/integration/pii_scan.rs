//! The leak scan (spec 7, ARCHITECTURE "Personal data"): the real `esign serve` binary at trace log
//! level (the database driver asked for at trace too) carries a face verification and a two-signer
//! contract through the signing pages; then its whole log output, every stored event (payload and
//! metadata), every row of every table and, on SQLite, the raw bytes of the database file and its
//! write-ahead log are searched for what must never be there in clear: names, ID-card and mobile
//! numbers, the client secret, SMS codes, link and page tokens, short-link codes, CSRF tokens and the
//! personal-data keys. Personal data may appear masked (`138****8000`, `欧***`); the scan asserts that
//! masked form is what the log and the audit trail show.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use esign::store::EventStore;
use reqwest::StatusCode;
use serde_json::json;

use crate::h5_sign::{Browser, Page, data_url, face_check, signature_png};
use crate::helpers::{Backend, TestStore, json_of};
use crate::signing_client::SigningClient;

crate::backend_tests!(
    a_trace_logged_face_check_and_two_signer_journey_leak_no_secret_or_personal_data
);

const OWNER_SECRET: &str = "pii-scan-owner-secret-0123456789";
const ID_NUMBERS: [&str; 2] = ["11010519491231002X", "440304199001010011"];
const MOBILES: [&str; 2] = ["13800138000", "13900139000"];
/// The two signers' names, then the standalone face check's: rare enough that any occurrence is a leak.
const NAMES: [&str; 3] = ["欧阳澜汐", "司马瑾瑜", "慕容霁川"];

/// `esign serve` on a port of its own, its log (stderr and stdout) captured in a file.
struct Served {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(t: &TestStore) -> Served {
    let data = tempfile::tempdir().unwrap();
    // The public address must be known before the start (links, the sandbox's return), so the port
    // is chosen here and released just before the service binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let config = data.path().join("esign.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_base_url = \"{base}\"\ndata_dir = \"{}\"\n\
             [database]\nurl = \"{}\"\n\
             [[clients]]\nid = \"owner\"\nsecret = \"{OWNER_SECRET}\"\nadmin = true\n",
            data.path().display(),
            t.url
        ),
    )
    .unwrap();
    let log = data.path().join("esign.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Every crate at its most verbose, and the database driver named on purpose: its debug lines
        // would carry every statement's parameters, so the service caps it at info whatever is asked.
        .env("RUST_LOG", "trace,tokio_postgres=trace")
        .current_dir(data.path())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let served = Served {
        child,
        base,
        log,
        data,
    };
    let http = esign::providers::outbound::client(Duration::from_secs(5)).unwrap();
    for _ in 0..300 {
        if let Ok(response) = http.get(format!("{}/readyz", served.base)).send().await
            && response.status() == StatusCode::OK
        {
            return served;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "esign serve did not become ready: {}",
        std::fs::read_to_string(&served.log).unwrap_or_default()
    );
}

/// What was handed out during the journey and must not be found at rest or in the log.
#[derive(Default)]
struct Secrets {
    found: Vec<(String, String)>,
}

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(!value.is_empty(), "{what} is empty");
        self.found.push((what.to_owned(), value.to_owned()));
    }

    /// The `token=` of a URL.
    fn add_token_of(&mut self, what: &str, url: &str) {
        let token = url
            .split("token=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .unwrap_or_else(|| panic!("no token in {url}"));
        self.add(what, token);
    }
}

/// The development SMS viewer's messages to `mobile`, over HTTP like any outside client.
async fn texts_to(base: &str, mobile: &str) -> Vec<String> {
    let http = esign::providers::outbound::client(Duration::from_secs(10)).unwrap();
    let (status, body) = json_of(
        http.get(format!("{base}/dev/sms?mobile={mobile}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap().to_owned())
        .collect()
}

fn six_digits(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .find(|window| window.iter().all(char::is_ascii_digit))
        .map(|window| window.iter().collect())
        .unwrap_or_else(|| panic!("no code in {text}"))
}

/// SMS, face and signature through the pages for one signer, keeping every code and CSRF token.
async fn sign_through_pages(served: &Served, url: &str, mobile: &str, secrets: &mut Secrets) {
    let browser = Browser::new(&served.base);
    let page = browser.open(url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    secrets.add("a CSRF token", &page.csrf());
    let page = browser.submit(&page, "sms-send", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let code = six_digits(texts_to(&served.base, mobile).await.last().unwrap());
    secrets.add("an SMS signing code", &code);
    let page: Page = browser
        .submit(&page, "sms-verify", &[("code", &code)])
        .await;
    assert!(page.class_of("step-sms").contains("done"), "{}", page.html);
    let page = face_check(&browser, &page, "PASS").await;
    assert!(page.class_of("step-face").contains("done"), "{}", page.html);
    let done = browser
        .submit(
            &page,
            "signature-data",
            &[("signature", &data_url(&signature_png()))],
        )
        .await;
    assert!(done.has("done"), "{}", done.html);
}

/// A standalone face verification through its page and the sandbox's capture page.
async fn face_verification(owner: &SigningClient, secrets: &mut Secrets) {
    let (status, created) = json_of(
        owner
            .post_json(
                "/api/v1/verification/face/initiate",
                &json!({
                    "bizId": "PII_FACE_1",
                    "bizType": "RELATIONSHIP_BINDING",
                    "userInfo": {"name": NAMES[2], "idCardNo": ID_NUMBERS[0], "mobile": MOBILES[0]},
                    "callbackUrl": "https://auth.example.com/callback/face-verification",
                    "expireMinutes": 30
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let url = created["verificationUrl"].as_str().unwrap();
    secrets.add_token_of("a face page token", url);
    let http = esign::providers::outbound::client(Duration::from_secs(30)).unwrap();
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    let capture = page
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("/capture/"))
        .unwrap_or_else(|| panic!("no hand-over to the provider in {page}"))
        .replace("&amp;", "&");
    let chosen = http
        .post(&capture)
        .form(&[("outcome", "PASS"), ("score", "0.95")])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let back = chosen.headers()["location"].to_str().unwrap().to_owned();
    let returned = http.get(&back).send().await.unwrap();
    assert_eq!(returned.status(), StatusCode::OK);
    let id = created["verificationId"].as_str().unwrap();
    let (_, shown) = json_of(owner.get(&format!("/api/v1/verification/face/{id}")).await).await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
    // Sealed at rest, but the owner's query shows the name as given.
    assert_eq!(shown["userInfo"]["name"], NAMES[2], "{shown}");
}

/// Every event's payload and metadata as stored, as text.
async fn stored_events(t: &TestStore) -> String {
    let mut text = String::new();
    let mut cursor = None;
    loop {
        let page = t.store.read_chain(cursor, 1000).await.unwrap();
        let Some(last) = page.last() else {
            return text;
        };
        cursor = Some(esign::store::ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        for event in &page {
            text.push_str(&event.payload.as_value().to_string());
            text.push_str(&serde_json::to_string(&event.metadata).unwrap());
            text.push('\n');
        }
    }
}

/// Every row of every table (the event log included), as text, with the table's name.
async fn stored_tables(t: &TestStore) -> Vec<(String, String)> {
    match t.backend {
        Backend::Sqlite => {
            let path = t.sqlite_path().unwrap();
            tokio::task::spawn_blocking(move || {
                let connection = rusqlite::Connection::open(path).unwrap();
                let tables: Vec<String> = connection
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .unwrap()
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                tables
                    .into_iter()
                    .map(|table| {
                        let mut statement = connection
                            .prepare(&format!("SELECT * FROM \"{table}\""))
                            .unwrap();
                        let columns = statement.column_count();
                        let mut rows = statement.query([]).unwrap();
                        let mut text = String::new();
                        while let Some(row) = rows.next().unwrap() {
                            for column in 0..columns {
                                let value: rusqlite::types::Value = row.get(column).unwrap();
                                match value {
                                    rusqlite::types::Value::Text(value) => text.push_str(&value),
                                    rusqlite::types::Value::Blob(bytes) => {
                                        text.push_str(&String::from_utf8_lossy(&bytes))
                                    }
                                    rusqlite::types::Value::Integer(n) => {
                                        text.push_str(&n.to_string())
                                    }
                                    _ => {}
                                }
                                text.push('\t');
                            }
                            text.push('\n');
                        }
                        (table, text)
                    })
                    .collect()
            })
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let client = t.postgres_superuser().await;
            let tables: Vec<String> = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            let mut out = Vec::new();
            for table in tables {
                let rows = client
                    .query(
                        &format!("SELECT row_to_json(t)::text FROM \"{table}\" t"),
                        &[],
                    )
                    .await
                    .unwrap();
                let text: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
                out.push((table, text.join("\n")));
            }
            out
        }
    }
}

/// The raw bytes of the SQLite database file and of its write-ahead log (what a copy of the data
/// directory holds, freed pages and not yet checkpointed frames included), as text.
fn sqlite_files(t: &TestStore) -> Vec<(String, String)> {
    let Some(path) = t.sqlite_path() else {
        return Vec::new();
    };
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    [path, wal.into()]
        .into_iter()
        .filter_map(|file| {
            let bytes = std::fs::read(&file).ok()?;
            Some((
                format!("the file {}", file.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        })
        .collect()
}

/// Where `needle` occurs in `haystack` as a whole word (not inside a longer run of letters and
/// digits, so a six-digit code is not "found" inside a timestamp's microseconds).
fn occurs(haystack: &str, needle: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

async fn a_trace_logged_face_check_and_two_signer_journey_leak_no_secret_or_personal_data(
    t: TestStore,
) {
    let served = serve(&t).await;
    let owner = SigningClient::new(&served.base, "owner", OWNER_SECRET);
    let mut secrets = Secrets::default();
    secrets.add("the client secret", OWNER_SECRET);

    face_verification(&owner, &mut secrets).await;

    crate::journey::publish_template(&owner, "TPL_PII").await;
    let (status, created) = json_of(
        owner
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "bizId": "PII_CONTRACT_1",
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_PII",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": [
                        {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": NAMES[0],
                         "idCardNo": ID_NUMBERS[0], "mobile": MOBILES[0],
                         "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1},
                        {"partyId": "PAYER_001", "partyType": "PAYER", "name": NAMES[1],
                         "idCardNo": ID_NUMBERS[1], "mobile": MOBILES[1],
                         "signMethod": "FACE_AND_SMS", "notifyType": "H5_LINK", "sequence": 2}
                    ],
                    "callbackUrl": "https://auth.example.com/callback/e-sign",
                    "expireDays": 7
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let contract_id = created["contractId"].as_str().unwrap().to_owned();
    let mut sign_urls = Vec::new();
    for task in created["signTasks"].as_array().unwrap() {
        let url = task["signUrl"].as_str().unwrap();
        secrets.add_token_of("a sign link token", url);
        sign_urls.push(url.to_owned());
        if let Some(short) = task["shortUrl"].as_str() {
            let code = short.rsplit('/').next().unwrap();
            secrets.add("a short-link code", code);
        }
    }
    // The invitation texted to the first signer carries its short link.
    for text in texts_to(&served.base, MOBILES[0]).await {
        if let Some(at) = text.find("/s/") {
            let code: String = text[at + 3..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            secrets.add("a texted short-link code", &code);
        }
    }
    // The signer follows the texted short link first.
    let short = created["signTasks"][0]["shortUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("a short link for an SMS signer: {created}"));
    let followed = esign::providers::outbound::client(Duration::from_secs(10))
        .unwrap()
        .get(short)
        .send()
        .await
        .unwrap();
    assert!(
        followed.status() == StatusCode::FOUND || followed.status() == StatusCode::OK,
        "{}",
        followed.status()
    );
    sign_through_pages(&served, &sign_urls[0], MOBILES[0], &mut secrets).await;
    sign_through_pages(&served, &sign_urls[1], MOBILES[1], &mut secrets).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, shown) = json_of(owner.get(&format!("/api/v1/contract/{contract_id}")).await).await;
        if shown["status"] == "SIGNED" || shown["status"] == "ARCHIVED" {
            assert_eq!(shown["signers"][0]["name"], NAMES[0], "{shown}");
            assert_eq!(shown["signers"][1]["name"], NAMES[1], "{shown}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, trail) = json_of(
        owner
            .get(&format!("/api/v1/contract/{contract_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    for key in std::fs::read_dir(served.data.path().join("keys")).unwrap() {
        let key = key.unwrap().path();
        let text = std::fs::read_to_string(&key).unwrap();
        secrets.add(
            &format!(
                "the key file {}",
                key.file_name().unwrap().to_string_lossy()
            ),
            text.trim(),
        );
    }
    for id in ID_NUMBERS {
        secrets.add("an ID-card number", id);
    }
    for mobile in MOBILES {
        secrets.add("a mobile number", mobile);
    }
    for name in NAMES {
        secrets.add("a name", name);
    }

    // Let the background work (sealing, callbacks) log what it logs, then stop the service.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = std::fs::read_to_string(&served.log).unwrap();
    assert!(
        log.lines().any(|line| line.contains("TRACE")),
        "the service logged at trace level"
    );
    let driver_lines: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.contains("tokio_postgres") && (line.contains("DEBUG") || line.contains("TRACE"))
        })
        .take(3)
        .collect();
    assert!(
        driver_lines.is_empty(),
        "the database driver logged below info: {driver_lines:?}"
    );
    let mut places: Vec<(String, String)> = vec![
        ("the log".to_owned(), log.clone()),
        ("the events".to_owned(), stored_events(&t).await),
        ("the audit trail".to_owned(), trail.to_string()),
    ];
    places.extend(
        stored_tables(&t)
            .await
            .into_iter()
            .map(|(table, text)| (format!("table {table}"), text)),
    );
    let files = sqlite_files(&t);
    assert_eq!(
        files.is_empty(),
        t.backend == Backend::Postgres,
        "SQLite's database file is scanned"
    );
    let tables = places.len() - 3;
    let mut leaks = Vec::new();
    for (place, text) in &places {
        for (what, secret) in &secrets.found {
            if occurs(text, secret) {
                let line = text
                    .lines()
                    .find(|line| line.contains(secret.as_str()))
                    .unwrap_or_default();
                leaks.push(format!(
                    "{what} in {place}: {}",
                    &line[..line.len().min(300)]
                ));
            }
        }
    }
    // Raw pages run one column's bytes into the next (`RECEIVER` then a name), so word boundaries
    // mean nothing there: any occurrence counts. Secrets short enough to occur by chance in binary
    // data (six-digit codes, short-link codes) are left to the row scan above.
    for (place, bytes) in &files {
        for (what, secret) in &secrets.found {
            if secret.len() >= 11 && bytes.contains(secret.as_str()) {
                leaks.push(format!("{what} in {place}"));
            }
        }
    }
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));

    // What may appear appears masked.
    assert!(log.contains("138****8000"), "the log shows mobiles masked");
    assert!(
        trail.to_string().contains("110105********002X"),
        "the audit trail shows ID numbers masked"
    );
    assert!(
        trail.to_string().contains("\"欧***\"") && trail.to_string().contains("\"司***\""),
        "the audit trail shows names masked: {trail}"
    );
    let events = stored_events(&t).await;
    assert!(
        events.contains("\"$pii\":{"),
        "personal data is sealed in events"
    );
    eprintln!(
        "leak scan: {} secrets x {} places ({} log lines, {} tables) and {} raw files clean",
        secrets.found.len(),
        places.len(),
        log.lines().count(),
        tables,
        files.len()
    );
}
