//! The document stores as the service builds them (`esign::app::services::document_store`): the local directory,
//! and a real S3-compatible server. The S3 tests use moto's server (`ESIGN_TEST_S3_ENDPOINT`, default
//! `http://127.0.0.1:5900`, started by `.ci/run`) with its request authentication switched on, so a
//! bad signature or an unknown access key is refused as S3 would refuse it. When the server cannot be
//! reached they are skipped (`crate::helpers::skip`).

use std::collections::BTreeMap;

use esign::app::config::{Config, Mode};
use esign::documents::config::DocumentStoreKind;
use esign::documents::config::S3Config;
use esign::documents::storage::{DocumentStoreError, document_cipher_from_config, sha256_hex};
use esign::providers::s3::S3DocumentStore;
use tokio::sync::OnceCell;

const DEFAULT_S3_ENDPOINT: &str = "http://127.0.0.1:5900";

fn key() -> String {
    esign::pii::PiiCipher::generate_key().unwrap()
}

fn s3_endpoint() -> String {
    std::env::var("ESIGN_TEST_S3_ENDPOINT").unwrap_or_else(|_| DEFAULT_S3_ENDPOINT.to_owned())
}

/// An IAM user of the moto server allowed `s3:*`.
#[derive(Debug, Clone)]
struct S3User {
    access_key_id: String,
    secret_access_key: String,
}

/// The text of the first `<name>` element of a moto reply.
fn element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    xml[start..end].to_owned()
}

/// Moto's authentication is off until told otherwise. Once per test process: with it off, create a
/// user with an access key and an `s3:*` policy; then switch it on, so every later request must carry
/// a valid signature of a known key.
async fn create_user_and_require_signatures(endpoint: &str) -> S3User {
    let http = esign::providers::outbound::client(std::time::Duration::from_secs(10)).unwrap();
    let reset_auth = |count: &'static str| {
        http.post(format!("{endpoint}/moto-api/reset-auth"))
            .body(count)
            .send()
    };
    let status = reset_auth("inf").await.unwrap().status();
    assert!(status.is_success(), "moto reset-auth: {status}");
    // Moto routes a request by the service named in its credential scope; while authentication is
    // off it does not check the signature itself.
    let iam = |params: Vec<(&'static str, String)>| {
        let mut form = params;
        form.push(("Version", "2010-05-08".to_owned()));
        http.post(format!("{endpoint}/"))
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=00",
            )
            .form(&form)
            .send()
    };
    let user = format!("esign-test-{}", uuid::Uuid::new_v4().simple());
    for params in [
        vec![
            ("Action", "CreateUser".to_owned()),
            ("UserName", user.clone()),
        ],
        vec![
            ("Action", "PutUserPolicy".to_owned()),
            ("UserName", user.clone()),
            ("PolicyName", "documents".to_owned()),
            (
                "PolicyDocument",
                serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
                })
                .to_string(),
            ),
        ],
    ] {
        let response = iam(params).await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
    let created = iam(vec![
        ("Action", "CreateAccessKey".to_owned()),
        ("UserName", user),
    ])
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let status = reset_auth("0").await.unwrap().status();
    assert!(status.is_success(), "moto reset-auth: {status}");
    S3User {
        access_key_id: element(&created, "AccessKeyId"),
        secret_access_key: element(&created, "SecretAccessKey"),
    }
}

/// The moto user, or `None` when the server is unreachable.
async fn s3_user() -> Option<S3User> {
    static USER: OnceCell<S3User> = OnceCell::const_new();
    let endpoint = s3_endpoint();
    let address = endpoint.trim_start_matches("http://").to_owned();
    if let Err(error) = tokio::net::TcpStream::connect(&address).await {
        crate::helpers::skip(
            "an S3-compatible server (moto)",
            format_args!("{endpoint} is unreachable ({error})"),
        );
        return None;
    }
    Some(
        USER.get_or_init(|| create_user_and_require_signatures(&endpoint))
            .await
            .clone(),
    )
}

fn s3_settings(user: &S3User, bucket: &str) -> S3Config {
    S3Config {
        endpoint: s3_endpoint(),
        region: "us-east-1".to_owned(),
        bucket: bucket.to_owned(),
        access_key_id: user.access_key_id.clone(),
        secret_access_key: user.secret_access_key.clone(),
        path_style: true,
        prefix: "esign/documents".to_owned(),
        timeout_ms: 10_000,
    }
}

fn s3_config(settings: S3Config, active_key: &str, keys: &[(&str, &str)]) -> Config {
    let mut config = Config::default();
    config.documents.store = DocumentStoreKind::S3;
    config.documents.s3 = Some(settings);
    config.documents.active_key_id = Some(active_key.to_owned());
    config.documents.encryption_keys = keys
        .iter()
        .map(|(id, key)| ((*id).to_owned(), (*key).to_owned()))
        .collect::<BTreeMap<_, _>>();
    config
}

/// The S3 store itself rather than the trait object, for its client: creating the bucket, reading
/// and writing objects as stored.
fn raw_store(config: &Config) -> S3DocumentStore {
    S3DocumentStore::new(
        config.documents.s3.as_ref().unwrap(),
        document_cipher_from_config(&config.document_settings()).unwrap(),
    )
    .unwrap()
}

fn unique_bucket() -> String {
    format!("esign-test-{}", uuid::Uuid::new_v4().simple())
}

/// Proves the S3 store is a real one: a round trip through the configured store, the object in the
/// bucket being the sealed blob (never the PDF), hash and storage-key binding enforced on read, typed
/// errors for a missing key and a missing bucket, and old documents still opening after a key
/// rotation.
#[tokio::test]
async fn documents_round_trip_through_s3_encrypted_and_hash_checked() {
    let Some(user) = s3_user().await else { return };
    let bucket = unique_bucket();
    let first_key = key();
    let config = s3_config(
        s3_settings(&user, &bucket),
        "2026-01",
        &[("2026-01", &first_key)],
    );
    let raw = raw_store(&config);
    raw.client().create_bucket().await.unwrap();
    // Creating it again is not an error.
    raw.client().create_bucket().await.unwrap();
    let store = esign::app::services::document_store(&config.document_settings()).unwrap();

    let pdf = b"%PDF-1.7\n% a signed contract \xe5\x90\x88\xe5\x90\x8c\n%%EOF".to_vec();
    let stored = store.put("contracts/C1/signed.pdf", &pdf).await.unwrap();
    assert_eq!(stored.sha256, sha256_hex(&pdf));
    assert_eq!(stored.size, pdf.len());
    assert_eq!(stored.key_id, "2026-01");
    assert_eq!(
        store
            .get("contracts/C1/signed.pdf", &stored.sha256)
            .await
            .unwrap(),
        pdf
    );
    // Upper-case hex names the same hash.
    assert_eq!(
        store
            .get(
                "contracts/C1/signed.pdf",
                &stored.sha256.to_ascii_uppercase()
            )
            .await
            .unwrap(),
        pdf
    );

    let object = raw
        .client()
        .get_object("esign/documents/contracts/C1/signed.pdf")
        .await
        .unwrap();
    assert!(object.starts_with(b"ESDOC1"), "the sealed blob format");
    assert!(
        !object.windows(4).any(|w| w == b"%PDF")
            && !object.windows(6).any(|w| w == "合同".as_bytes()),
        "the bucket holds ciphertext only"
    );

    assert!(matches!(
        store
            .get("contracts/C1/signed.pdf", &sha256_hex(b"another document"))
            .await,
        Err(DocumentStoreError::HashMismatch { .. })
    ));
    assert!(matches!(
        store.get("contracts/C2/signed.pdf", &stored.sha256).await,
        Err(DocumentStoreError::NotFound(key)) if key == "contracts/C2/signed.pdf"
    ));

    // Another document's object copied over this one's does not open: the storage key is bound in.
    let other = store
        .put("contracts/C3/signed.pdf", b"another")
        .await
        .unwrap();
    let other_object = raw
        .client()
        .get_object("esign/documents/contracts/C3/signed.pdf")
        .await
        .unwrap();
    raw.client()
        .put_object("esign/documents/contracts/C1/signed.pdf", other_object)
        .await
        .unwrap();
    assert!(matches!(
        store.get("contracts/C1/signed.pdf", &other.sha256).await,
        Err(DocumentStoreError::Corrupt(_))
    ));

    // Rotation: a new active key, the old one kept; old documents open, new ones use the new key.
    let rotated = esign::app::services::document_store(
        &s3_config(
            s3_settings(&user, &bucket),
            "2026-07",
            &[("2026-01", &first_key), ("2026-07", &key())],
        )
        .document_settings(),
    )
    .unwrap();
    assert_eq!(
        rotated
            .get("contracts/C3/signed.pdf", &other.sha256)
            .await
            .unwrap(),
        b"another"
    );
    assert_eq!(
        rotated
            .put("contracts/C4/signed.pdf", b"new")
            .await
            .unwrap()
            .key_id,
        "2026-07"
    );

    let missing_bucket = esign::app::services::document_store(
        &s3_config(s3_settings(&user, &unique_bucket()), "k", &[("k", &key())]).document_settings(),
    )
    .unwrap();
    assert!(matches!(
        missing_bucket.get("contracts/C1/signed.pdf", &stored.sha256).await,
        Err(DocumentStoreError::Rejected(detail)) if detail.contains("NoSuchBucket")
    ));
}

/// Proves requests are really signed and checked: the server refuses an unknown access key and a
/// known key signed with the wrong secret, and the store reports both as `Denied`.
#[tokio::test]
async fn s3_refuses_wrong_credentials() {
    let Some(user) = s3_user().await else { return };
    let bucket = unique_bucket();
    let encryption_key = key();
    let keys = [("k", encryption_key.as_str())];
    let config = s3_config(s3_settings(&user, &bucket), "k", &keys);
    raw_store(&config).client().create_bucket().await.unwrap();
    let good = esign::app::services::document_store(&config.document_settings()).unwrap();
    let stored = good.put("a.pdf", b"kept").await.unwrap();

    let wrong_secret = S3User {
        access_key_id: user.access_key_id.clone(),
        secret_access_key: format!("{}x", user.secret_access_key),
    };
    let unknown_key = S3User {
        access_key_id: "AKIAEXAMPLEUNKNOWN00".to_owned(),
        secret_access_key: user.secret_access_key.clone(),
    };
    for (name, credentials, code) in [
        ("wrong secret", wrong_secret, "SignatureDoesNotMatch"),
        ("unknown access key", unknown_key, "InvalidAccessKeyId"),
    ] {
        let store = esign::app::services::document_store(
            &s3_config(s3_settings(&credentials, &bucket), "k", &keys).document_settings(),
        )
        .unwrap();
        let read = store.get("a.pdf", &stored.sha256).await;
        assert!(
            matches!(&read, Err(DocumentStoreError::Denied(detail)) if detail.contains(code)),
            "{name}: {read:?}"
        );
        let written = store.put("b.pdf", b"refused").await;
        assert!(
            matches!(&written, Err(DocumentStoreError::Denied(_))),
            "{name}: {written:?}"
        );
    }
    // Nothing the refused writer sent was stored.
    assert!(matches!(
        good.get("b.pdf", &sha256_hex(b"refused")).await,
        Err(DocumentStoreError::NotFound(_))
    ));
}

/// Proves a server that is not there is reported as unavailable (a retryable condition), promptly.
#[tokio::test]
async fn an_unreachable_s3_endpoint_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let user = S3User {
        access_key_id: "AKIAEXAMPLE".to_owned(),
        secret_access_key: "secret".to_owned(),
    };
    let mut settings = s3_settings(&user, "esign-documents");
    settings.endpoint = format!("http://127.0.0.1:{port}");
    settings.timeout_ms = 2_000;
    let store = esign::app::services::document_store(
        &s3_config(settings, "k", &[("k", &key())]).document_settings(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        store.put("a.pdf", b"x").await,
        Err(DocumentStoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Proves the default configuration gives a working local store: files under
/// `<data_dir>/documents`, encrypted with a development key generated once and reused by the next
/// start, and that production refuses to generate that key.
#[tokio::test]
async fn the_local_store_from_config_keeps_encrypted_files_under_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    let store = esign::app::services::document_store(&config.document_settings()).unwrap();
    let pdf = b"%PDF-1.7 local contract".to_vec();
    let stored = store.put("contracts/C1/signed.pdf", &pdf).await.unwrap();
    assert_eq!(stored.key_id, "dev");
    let on_disk = std::fs::read(dir.path().join("documents/contracts/C1/signed.pdf")).unwrap();
    assert!(on_disk.starts_with(b"ESDOC1"));
    assert!(!on_disk.windows(4).any(|w| w == b"%PDF"));
    assert!(dir.path().join("keys/documents-dev.key").exists());

    // A restart reads the same key back.
    let restarted = esign::app::services::document_store(&config.document_settings()).unwrap();
    assert_eq!(
        restarted
            .get("contracts/C1/signed.pdf", &stored.sha256)
            .await
            .unwrap(),
        pdf
    );
    assert!(matches!(
        restarted
            .get("contracts/C1/signed.pdf", &sha256_hex(b"x"))
            .await,
        Err(DocumentStoreError::HashMismatch { .. })
    ));

    // Configured keys and directory win over the generated ones.
    let elsewhere = tempfile::tempdir().unwrap();
    config.documents.dir = Some(elsewhere.path().to_path_buf());
    config.documents.active_key_id = Some("2026-01".to_owned());
    config.documents.encryption_keys = BTreeMap::from([("2026-01".to_owned(), key())]);
    let configured = esign::app::services::document_store(&config.document_settings()).unwrap();
    assert_eq!(
        configured.put("x.pdf", b"x").await.unwrap().key_id,
        "2026-01"
    );
    assert!(elsewhere.path().join("x.pdf").exists());

    let mut production = Config::default();
    production.server.data_dir = dir.path().to_path_buf();
    production.server.mode = Mode::Production;
    let refused =
        esign::app::services::document_store(&production.document_settings()).unwrap_err();
    assert!(
        matches!(&refused, DocumentStoreError::MissingInProduction(fields) if fields.contains("documents.encryption_keys")),
        "{refused}"
    );
}
