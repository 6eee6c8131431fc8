//! The platform CA and RFC 3161 timestamps (docs/trust.md), checked by outside tools where they
//! exist: `openssl verify` for event certificates, `openssl ts -query/-verify` against esign's own
//! `/tsa`, and esign's client against that service (fallback, nonce and imprint checks).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use der::{Decode, Encode};
use esign::app::config::{Config, Mode};
use esign::providers::tsa::Client;
use esign::trust::Ca;
use esign::trust::ca::{self, CaError, CaFiles};
use esign::trust::tsa::{self, ClientError, FailureInfo, TimeStampReq, TimeStampResp};

use crate::helpers::{RunningService, TestStore, start_service};

crate::backend_tests!(
    openssl_ts_query_is_answered_by_the_tsa_endpoint_and_its_reply_verifies,
    the_tsa_endpoint_rejects_bad_requests_with_a_timestamp_reply,
    the_client_falls_back_from_a_dead_url_and_returns_a_verified_token,
);

/// `openssl verify` of `leaf` against `root`, with `intermediate` to build the chain.
fn openssl_verify(root: &str, intermediate: &str, leaf: &str, dir: &Path) -> (bool, String) {
    openssl(
        &["verify", "-CAfile", root, "-untrusted", intermediate, leaf],
        dir,
    )
}

fn openssl(arguments: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new("openssl")
        .args(arguments)
        .current_dir(dir)
        .output()
        .expect("the openssl binary runs (apt-get install openssl)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn development_config(data: &Path) -> Config {
    let mut config = Config::default();
    config.server.data_dir = data.to_path_buf();
    config
}

/// The running service's CA files, written where openssl can read them.
fn write_ca(service: &RunningService, dir: &Path) {
    let ca = service.state.ca.as_ref().expect("development creates a CA");
    std::fs::write(dir.join("root.pem"), ca.root_pem().unwrap()).unwrap();
    let chain: String = ca.chain().iter().map(|der| ca::pem(der).unwrap()).collect();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
}

async fn post_query(base: &str, body: Vec<u8>, content_type: &str) -> reqwest::Response {
    esign::providers::outbound::client(Duration::from_secs(30))
        .unwrap()
        .post(format!("{base}/tsa"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------------
// The CA

/// `esign ca init` (the real binary) writes certificates and encrypted keys, and refuses to replace
/// them without --force.
#[test]
fn ca_init_writes_certificates_and_encrypted_keys_and_refuses_to_overwrite() {
    let data = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_esign"))
            .env_clear()
            .env("ESIGN_SERVER_DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .current_dir(data.path())
            .args(["ca", "init"])
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success(), "{first:?}");
    let files = CaFiles::new(data.path().join("trust"));
    for path in [
        files.root_cert(),
        files.intermediate_cert(),
        files.tsa_cert(),
        files.seal_cert(),
        files.chain(),
        files.root_key(),
        files.intermediate_key(),
        files.tsa_key(),
        files.seal_key(),
    ] {
        assert!(path.exists(), "{} is missing", path.display());
    }
    let root_before = std::fs::read(files.root_cert()).unwrap();

    // Keys at rest are not private keys any tool can read.
    for key in [
        files.root_key(),
        files.intermediate_key(),
        files.tsa_key(),
        files.seal_key(),
    ] {
        let text = std::fs::read_to_string(&key).unwrap();
        assert!(text.starts_with("-----BEGIN ESIGN ENCRYPTED PRIVATE KEY-----"));
        assert!(!text.contains("BEGIN PRIVATE KEY"));
        let (readable, output) = openssl(
            &["pkey", "-in", key.to_str().unwrap(), "-noout"],
            data.path(),
        );
        assert!(!readable, "openssl read an encrypted key: {output}");
        let (readable, _) = openssl(
            &[
                "pkey",
                "-inform",
                "DER",
                "-in",
                key.to_str().unwrap(),
                "-noout",
            ],
            data.path(),
        );
        assert!(!readable);
    }
    // The service opens them with the generated key encryption key, not with another one.
    let mut config = development_config(data.path());
    assert!(Ca::open(&config.trust_settings()).unwrap().is_some());
    config.trust.key_encryption_key = Some(esign::trust::keys::generate_encryption_key().unwrap());
    assert!(Ca::open(&config.trust_settings()).is_err());

    let second = run(&[]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("--force"),
        "{second:?}"
    );
    assert_eq!(std::fs::read(files.root_cert()).unwrap(), root_before);

    let forced = run(&["--force"]);
    assert!(forced.status.success(), "{forced:?}");
    assert_ne!(std::fs::read(files.root_cert()).unwrap(), root_before);
}

/// An event certificate chains to the root for openssl, through the intermediate.
#[test]
fn openssl_verifies_an_event_certificate_against_the_root() {
    let data = tempfile::tempdir().unwrap();
    let config = development_config(data.path());
    let files = ca::init(&config.trust_settings(), false).unwrap();
    let ca = Ca::open(&config.trust_settings()).unwrap().unwrap();
    let issued = ca
        .issue_event_certificate(
            "张三",
            "110101********1234",
            chrono::Utc::now() - chrono::Duration::minutes(1),
            Duration::from_secs(30 * 60),
        )
        .unwrap();
    let event = data.path().join("event.pem");
    std::fs::write(&event, ca::pem(&issued.certificate_der).unwrap()).unwrap();
    let (ok, output) = openssl_verify(
        files.root_cert().to_str().unwrap(),
        files.intermediate_cert().to_str().unwrap(),
        event.to_str().unwrap(),
        data.path(),
    );
    assert!(ok && output.contains(": OK"), "{output}");
    let (_, text) = openssl(
        &["x509", "-in", "event.pem", "-noout", "-text"],
        data.path(),
    );
    assert!(
        text.contains("Digital Signature, Non Repudiation"),
        "{text}"
    );
    assert!(text.contains("serialNumber = 110101xxxxxxxx1234"), "{text}");

    // Another CA's root does not vouch for it.
    let other = tempfile::tempdir().unwrap();
    let other_files = ca::init(&development_config(other.path()).trust_settings(), false).unwrap();
    let (ok, output) = openssl_verify(
        other_files.root_cert().to_str().unwrap(),
        files.intermediate_cert().to_str().unwrap(),
        event.to_str().unwrap(),
        data.path(),
    );
    assert!(!ok, "{output}");
}

/// Production needs a configured key encryption key, and a PKCS#12 bundle's password.
#[test]
fn production_refuses_generated_keys_and_pkcs12_is_refused_with_a_reason() {
    let data = tempfile::tempdir().unwrap();
    let mut config = development_config(data.path());
    config.server.mode = Mode::Production;
    assert!(matches!(
        ca::init(&config.trust_settings(), false),
        Err(CaError::NoKeyInProduction(_))
    ));
    assert!(!data.path().join("keys").exists());

    config.trust.pkcs12 = Some(data.path().join("ca.p12"));
    let refused = Ca::open(&config.trust_settings()).unwrap_err();
    assert!(matches!(refused, CaError::Pkcs12 { .. }));
    assert!(refused.to_string().contains("trust.pkcs12_password"));
}

/// An operator may supply the CA as PEM files with plain PKCS#8 keys; all five files or none.
#[test]
fn an_operator_supplied_pem_ca_is_loaded_and_checked() {
    let data = tempfile::tempdir().unwrap();
    let new = ca::NewCa::generate("Operator", chrono::Utc::now()).unwrap();
    let dir = data.path();
    let write_cert = |name: &str, der: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, ca::pem(der).unwrap()).unwrap();
        path
    };
    let write_key = |name: &str, pkcs8: &[u8]| {
        let path = dir.join(name);
        let pem = der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, pkcs8).unwrap();
        std::fs::write(&path, pem).unwrap();
        path
    };
    let mut config = development_config(dir);
    config.trust.root_cert = Some(write_cert("root.pem", new.ca.root_der()));
    config.trust.intermediate_cert = Some(write_cert(
        "intermediate.pem",
        &new.ca.intermediate().to_der().unwrap(),
    ));
    config.trust.intermediate_key = Some(write_key(
        "intermediate.key",
        new.ca.intermediate_key().pkcs8_der(),
    ));
    config.trust.tsa_cert = Some(write_cert("tsa.pem", &new.ca.tsa().der));
    config.trust.tsa_key = Some(write_key("tsa.key", new.ca.tsa().key.pkcs8_der()));
    let opened = Ca::open(&config.trust_settings()).unwrap().unwrap();
    assert_eq!(opened.root_der(), new.ca.root_der());
    // Without seal files, a seal is issued by the supplied intermediate for this run.
    assert_ne!(opened.seal().der, new.ca.seal().der);
    esign::trust::cms::verify_issued_by(&opened.seal().certificate, opened.intermediate()).unwrap();
    assert_eq!(
        opened
            .seal()
            .certificate
            .tbs_certificate()
            .subject()
            .to_string(),
        "CN=Operator Platform Seal,O=Operator"
    );
    // With them, that seal is used.
    config.trust.seal_cert = Some(write_cert("seal.pem", &new.ca.seal().der));
    config.trust.seal_key = Some(write_key("seal.key", new.ca.seal().key.pkcs8_der()));
    let opened = Ca::open(&config.trust_settings()).unwrap().unwrap();
    assert_eq!(opened.seal().der, new.ca.seal().der);
    // Plain keys need no key encryption key, so development generated none, and production opens
    // them without one.
    assert!(!dir.join("keys").exists());
    config.server.mode = Mode::Production;
    assert!(Ca::open(&config.trust_settings()).unwrap().is_some());

    // The TSA key in the seal's place, or the TSA certificate as a seal, do not hold together.
    let seal_key = config.trust.seal_key.clone();
    config.trust.seal_key = config.trust.tsa_key.clone();
    assert!(matches!(
        Ca::open(&config.trust_settings()),
        Err(CaError::Inconsistent(_))
    ));
    config.trust.seal_key = seal_key;
    let seal_cert = config.trust.seal_cert.clone();
    config.trust.seal_cert = config.trust.intermediate_cert.clone();
    assert!(matches!(
        Ca::open(&config.trust_settings()),
        Err(CaError::Inconsistent(_))
    ));
    config.trust.seal_cert = None;
    assert!(matches!(
        Ca::open(&config.trust_settings()),
        Err(CaError::Incomplete(_))
    ));
    config.trust.seal_cert = seal_cert;

    // The TSA key in the intermediate's place does not belong to that certificate.
    config.trust.intermediate_key = config.trust.tsa_key.clone();
    assert!(matches!(
        Ca::open(&config.trust_settings()),
        Err(CaError::Inconsistent(_))
    ));
    config.trust.tsa_key = None;
    assert!(matches!(
        Ca::open(&config.trust_settings()),
        Err(CaError::Incomplete(_))
    ));
}

/// An operator's CA made with openssl alone and handed over as one PKCS#12 bundle, with the
/// commands of docs/trust.md: `openssl pkcs12 -export` with OpenSSL 3's defaults (PBES2 with
/// PBKDF2 and AES-256-CBC, a SHA-256 MAC). esign opens it, issues event certificates that
/// `openssl verify` chains to the root, and stamps time with a TSA certificate it issued from the
/// bundle's intermediate, which `openssl ts -verify` accepts. A wrong password, a bundle without
/// the CA key, an RSA key, the legacy 3DES encryption, PEM files set as well and production
/// without a password are refused, each naming `trust.pkcs12`.
#[test]
fn an_operator_supplied_pkcs12_bundle_is_loaded_and_checked() {
    const PASSWORD: &str = "correct horse 电池 staple";
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let run = |arguments: &[&str]| {
        let (ok, output) = openssl(arguments, dir);
        assert!(ok, "openssl {arguments:?}: {output}");
        output
    };
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let new_p256_key = |name: &str| {
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            name,
        ]);
    };
    // The operator's CA: a root, and an intermediate it signs; openssl's own key identifiers.
    new_p256_key("root.key");
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "root.key",
        "-subj",
        "/O=Operator/CN=Operator Root CA",
        "-days",
        "7300",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:1",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "root.pem",
    ]);
    let issue = |key: &str, subject: &str, extensions: &str, out: &str| {
        let csr = format!("{out}.csr");
        let extfile = format!("{out}.ext");
        write(&extfile, extensions);
        run(&["req", "-new", "-key", key, "-subj", subject, "-out", &csr]);
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-extfile",
            &extfile,
            "-out",
            out,
        ]);
    };
    new_p256_key("intermediate.key");
    issue(
        "intermediate.key",
        "/O=Operator/CN=Operator Signing CA",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        "intermediate.pem",
    );
    let passout = format!("pass:{PASSWORD}");
    let export = |arguments: &[&str]| {
        run(&[
            &["pkcs12", "-export", "-passout", passout.as_str()],
            arguments,
        ]
        .concat());
    };
    export(&[
        "-inkey",
        "intermediate.key",
        "-in",
        "intermediate.pem",
        "-certfile",
        "root.pem",
        "-name",
        "intermediate",
        "-out",
        "ca.p12",
    ]);
    let info = run(&[
        "pkcs12",
        "-in",
        "ca.p12",
        "-info",
        "-noout",
        "-passin",
        passout.as_str(),
    ]);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(
        info.contains("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"),
        "{info}"
    );

    let mut config = development_config(dir);
    config.trust.pkcs12 = Some(dir.join("ca.p12"));
    config.trust.pkcs12_password = Some(PASSWORD.to_owned());
    let opened = Arc::new(Ca::open(&config.trust_settings()).unwrap().unwrap());
    let der_of = |name: &str| {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        der::pem::decode_vec(text.as_bytes()).unwrap().1
    };
    assert_eq!(opened.root_der(), der_of("root.pem"));
    assert_eq!(
        opened.intermediate().to_der().unwrap(),
        der_of("intermediate.pem")
    );
    // No key encryption key is needed, so development generated none.
    assert!(!dir.join("keys").exists());

    let issued = opened
        .issue_event_certificate(
            "张三",
            "110101********1234",
            chrono::Utc::now() - chrono::Duration::minutes(1),
            Duration::from_secs(30 * 60),
        )
        .unwrap();
    write("event.pem", &ca::pem(&issued.certificate_der).unwrap());
    write("seal.pem", &ca::pem(&opened.seal().der).unwrap());
    for leaf in ["event.pem", "seal.pem"] {
        let output = run(&[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "intermediate.pem",
            leaf,
        ]);
        assert!(output.contains(": OK"), "{leaf}: {output}");
    }

    // The bundle has no TSA key: the TSA certificate is issued by its intermediate for this run.
    write("contract.pdf", "%PDF-1.7 the signed contract");
    run(&[
        "ts",
        "-query",
        "-data",
        "contract.pdf",
        "-sha256",
        "-cert",
        "-out",
        "request.tsq",
    ]);
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let (reply, _) = opened.tsa_signer(policy).respond(
        &std::fs::read(dir.join("request.tsq")).unwrap(),
        chrono::Utc::now(),
    );
    std::fs::write(dir.join("reply.tsr"), reply).unwrap();
    let output = run(&[
        "ts",
        "-verify",
        "-data",
        "contract.pdf",
        "-in",
        "reply.tsr",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "intermediate.pem",
    ]);
    assert!(output.contains("Verification: OK"), "{output}");

    let refusal = |config: &Config, expected: &str| {
        let error = Ca::open(&config.trust_settings()).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, CaError::Pkcs12 { .. }), "{message}");
        assert!(message.starts_with("trust.pkcs12 "), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains(PASSWORD), "{message}");
    };
    let with_bundle = |name: &str| {
        let mut changed = config.clone();
        changed.trust.pkcs12 = Some(dir.join(name));
        changed
    };

    let mut wrong = config.clone();
    wrong.trust.pkcs12_password = Some("correct horse battery staple".into());
    refusal(&wrong, "password is wrong");

    // A TSA's key with the chain: no key that can issue certificates.
    new_p256_key("tsa.key");
    issue(
        "tsa.key",
        "/O=Operator/CN=Operator Timestamp Authority",
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        "tsa.pem",
    );
    let chain = [
        std::fs::read_to_string(dir.join("intermediate.pem")).unwrap(),
        std::fs::read_to_string(dir.join("root.pem")).unwrap(),
    ]
    .concat();
    write("chain.pem", &chain);
    export(&[
        "-inkey",
        "tsa.key",
        "-in",
        "tsa.pem",
        "-certfile",
        "chain.pem",
        "-name",
        "tsa",
        "-out",
        "tsa-only.p12",
    ]);
    refusal(&with_bundle("tsa-only.p12"), "no CA key");

    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa.key",
        "-subj",
        "/O=Operator/CN=Operator RSA CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-days",
        "30",
        "-out",
        "rsa.pem",
    ]);
    export(&[
        "-inkey",
        "rsa.key",
        "-in",
        "rsa.pem",
        "-name",
        "intermediate",
        "-out",
        "rsa.p12",
    ]);
    refusal(
        &with_bundle("rsa.p12"),
        "the key \"intermediate\" is RSA; esign's CA keys are ECDSA P-256",
    );

    // OpenSSL 1.x's defaults: 3DES keyed by SHA-1.
    export(&[
        "-inkey",
        "intermediate.key",
        "-in",
        "intermediate.pem",
        "-certfile",
        "root.pem",
        "-keypbe",
        "PBE-SHA1-3DES",
        "-certpbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
        "-out",
        "legacy.p12",
    ]);
    refusal(&with_bundle("legacy.p12"), "legacy PKCS#12 scheme");

    let mut both = config.clone();
    both.trust.root_cert = Some(dir.join("root.pem"));
    refusal(&both, "not both");

    let mut production = config.clone();
    production.server.mode = Mode::Production;
    assert!(Ca::open(&production.trust_settings()).unwrap().is_some());
    production.trust.pkcs12_password = None;
    refusal(&production, "trust.pkcs12_password");
    assert!(!format!("{config:?}").contains(PASSWORD));
}

/// The seal certificate `ca init` writes chains to the root for openssl and may sign documents
/// (digitalSignature, nonRepudiation), not certificates or time.
#[test]
fn openssl_verifies_the_seal_certificate_and_its_key_usage() {
    let data = tempfile::tempdir().unwrap();
    let config = development_config(data.path());
    let files = ca::init(&config.trust_settings(), false).unwrap();
    let (ok, output) = openssl_verify(
        files.root_cert().to_str().unwrap(),
        files.intermediate_cert().to_str().unwrap(),
        files.seal_cert().to_str().unwrap(),
        data.path(),
    );
    assert!(ok && output.contains(": OK"), "{output}");
    let (ok, text) = openssl(
        &[
            "x509",
            "-in",
            files.seal_cert().to_str().unwrap(),
            "-noout",
            "-text",
        ],
        data.path(),
    );
    assert!(ok, "{text}");
    assert!(text.contains("CN = esign Platform Seal"), "{text}");
    assert!(
        text.contains("Issuer: O = esign, CN = esign Signing CA"),
        "{text}"
    );
    assert!(
        text.contains(
            "X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation"
        ),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(!text.contains("Time Stamping"), "{text}");

    // The running service's CA (opened from these files) signs with this very certificate.
    let opened = Ca::open(&config.trust_settings()).unwrap().unwrap();
    let pem = std::fs::read_to_string(files.seal_cert()).unwrap();
    assert_eq!(ca::pem(&opened.seal().der).unwrap(), pem);
}

// ---------------------------------------------------------------------------------------------------
// The timestamp service

/// A request made by `openssl ts -query` is answered by `POST /tsa`; `openssl ts -verify` accepts
/// the reply for the data, against the root, and refuses it for changed data.
async fn openssl_ts_query_is_answered_by_the_tsa_endpoint_and_its_reply_verifies(t: TestStore) {
    let service = start_service(&t, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    write_ca(&service, dir.path());
    std::fs::write(
        dir.path().join("contract.pdf"),
        b"%PDF-1.7 the signed contract",
    )
    .unwrap();
    let (ok, output) = openssl(
        &[
            "ts",
            "-query",
            "-data",
            "contract.pdf",
            "-sha256",
            "-cert",
            "-out",
            "request.tsq",
        ],
        dir.path(),
    );
    assert!(ok, "{output}");

    let query = std::fs::read(dir.path().join("request.tsq")).unwrap();
    let response = post_query(&service.base, query, "application/timestamp-query").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/timestamp-reply"
    );
    std::fs::write(
        dir.path().join("reply.tsr"),
        response.bytes().await.unwrap(),
    )
    .unwrap();

    let (_, text) = openssl(&["ts", "-reply", "-in", "reply.tsr", "-text"], dir.path());
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(
        text.contains(&format!("Policy OID: {}", esign::trust::DEFAULT_TSA_POLICY)),
        "{text}"
    );
    assert!(text.contains("Nonce: 0x"), "{text}");

    let verify = |data: &str| {
        openssl(
            &[
                "ts",
                "-verify",
                "-data",
                data,
                "-in",
                "reply.tsr",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "chain.pem",
            ],
            dir.path(),
        )
    };
    let (ok, output) = verify("contract.pdf");
    assert!(ok && output.contains("Verification: OK"), "{output}");

    std::fs::write(
        dir.path().join("changed.pdf"),
        b"%PDF-1.7 the signed contract!",
    )
    .unwrap();
    let (ok, output) = verify("changed.pdf");
    assert!(!ok && !output.contains("Verification: OK"), "{output}");
}

/// Bad requests get a TimeStampResp with status rejection and a failure info, never a 500.
async fn the_tsa_endpoint_rejects_bad_requests_with_a_timestamp_reply(t: TestStore) {
    let service = start_service(&t, &[]).await;
    let rejection = |bytes: &[u8]| {
        let response = TimeStampResp::from_der(bytes).expect("a DER TimeStampResp");
        assert_eq!(response.status.status, tsa::status::REJECTION);
        assert!(response.time_stamp_token.is_none());
        response.status.fail_info.expect("a failure info")
    };

    let garbage = post_query(
        &service.base,
        b"not a request".to_vec(),
        tsa::QUERY_MEDIA_TYPE,
    )
    .await;
    assert_eq!(garbage.status(), 200);
    let bits = rejection(&garbage.bytes().await.unwrap());
    assert_eq!(bits.get(FailureInfo::BadDataFormat as usize), Some(true));

    let mut request = TimeStampReq::from_der(&tsa::request_der(&[1; 32], 7).unwrap()).unwrap();
    request.message_imprint.hashed_message = der::asn1::OctetString::new(vec![1; 31]).unwrap();
    let short = post_query(
        &service.base,
        request.to_der().unwrap(),
        tsa::QUERY_MEDIA_TYPE,
    )
    .await;
    assert_eq!(short.status(), 200);
    let bits = rejection(&short.bytes().await.unwrap());
    assert_eq!(bits.get(FailureInfo::BadDataFormat as usize), Some(true));

    let wrong_type = post_query(
        &service.base,
        tsa::request_der(&[1; 32], 7).unwrap(),
        "application/json",
    )
    .await;
    assert_eq!(wrong_type.status(), 415);
    let bits = rejection(&wrong_type.bytes().await.unwrap());
    assert_eq!(bits.get(FailureInfo::BadRequest as usize), Some(true));
}

/// The client asks a dead URL first, then esign's `/tsa`, and returns a token that verifies.
async fn the_client_falls_back_from_a_dead_url_and_returns_a_verified_token(t: TestStore) {
    let service = start_service(&t, &[]).await;
    let ca = service.state.ca.clone().unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/tsa", listener.local_addr().unwrap())
    };
    let live = format!("{}/tsa", service.base);
    let client = Client::new(
        vec![dead.clone(), live.clone()],
        Duration::from_secs(20),
        vec![ca.root().clone()],
        Vec::new(),
    )
    .unwrap();
    let digest: [u8; 32] = sha256(b"the contract");
    let timestamp = client.timestamp(&digest).await.unwrap();
    assert_eq!(timestamp.url, live);
    let verified =
        tsa::verify_token(&timestamp.token, &digest, None, &[ca.root().clone()], &[]).unwrap();
    assert_eq!(verified.tsa_certificate, ca.tsa().certificate);
    assert!(
        tsa::verify_token(
            &timestamp.token,
            &sha256(b"another"),
            None,
            &[ca.root().clone()],
            &[]
        )
        .is_err()
    );

    // Only dead URLs: unavailable, not invalid.
    let client = Client::new(
        vec![dead],
        Duration::from_secs(20),
        vec![ca.root().clone()],
        Vec::new(),
    )
    .unwrap();
    assert!(matches!(
        client.timestamp(&digest).await,
        Err(ClientError::Unavailable(_))
    ));
}

/// A TSA whose token answers another nonce or another imprint is refused as invalid, even though
/// its signature is good.
#[tokio::test]
async fn a_response_with_a_wrong_nonce_or_imprint_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let config = development_config(data.path());
    let ca = Arc::new(
        Ca::open_or_create_for_development(&config.trust_settings())
            .unwrap()
            .unwrap(),
    );
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let signer = Arc::new(tsa::TsaSigner::new(Arc::clone(&ca), policy));

    for tamper in [Tamper::Nonce, Tamper::Imprint] {
        let url = tampering_tsa(Arc::clone(&signer), tamper).await;
        let client = Client::new(
            vec![url],
            Duration::from_secs(20),
            vec![ca.root().clone()],
            Vec::new(),
        )
        .unwrap();
        let refused = client.timestamp(&sha256(b"the contract")).await;
        let Err(ClientError::InvalidResponse { reason, .. }) = refused else {
            panic!("{tamper:?}: {refused:?}");
        };
        let expected = match tamper {
            Tamper::Nonce => "nonce",
            _ => "imprint",
        };
        assert!(reason.contains(expected), "{tamper:?}: {reason}");
    }
}

/// A TSA that refuses is reported as a rejection with its failure info, and the client moves on to
/// the next TSA.
#[tokio::test]
async fn a_refusing_tsa_is_reported_as_rejected_and_the_next_one_is_asked() {
    let data = tempfile::tempdir().unwrap();
    let config = development_config(data.path());
    let ca = Arc::new(
        Ca::open_or_create_for_development(&config.trust_settings())
            .unwrap()
            .unwrap(),
    );
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let signer = Arc::new(ca.tsa_signer(policy));
    let refusing = tampering_tsa(Arc::clone(&signer), Tamper::Refuse).await;
    let honest = tampering_tsa(Arc::clone(&signer), Tamper::Nothing).await;
    let roots = vec![ca.root().clone()];
    let timeout = Duration::from_secs(20);

    let only_refusing = Client::new(vec![refusing.clone()], timeout, roots.clone(), Vec::new());
    let refused = only_refusing.unwrap().timestamp(&sha256(b"x")).await;
    assert!(
        matches!(
            &refused,
            Err(ClientError::Rejected {
                status: 2,
                failure: Some(FailureInfo::BadDataFormat),
                ..
            })
        ),
        "{refused:?}"
    );

    let both = Client::new(vec![refusing, honest.clone()], timeout, roots, Vec::new()).unwrap();
    let timestamp = both.timestamp(&sha256(b"x")).await.unwrap();
    assert_eq!(timestamp.url, honest);
}

#[derive(Debug, Clone, Copy)]
enum Tamper {
    Nothing,
    Nonce,
    Imprint,
    /// Answers every request as if it were malformed.
    Refuse,
}

/// A TSA that signs a changed copy of each request.
async fn tampering_tsa(signer: Arc<tsa::TsaSigner>, tamper: Tamper) -> String {
    let app = axum::Router::new().route(
        "/tsa",
        axum::routing::post(move |body: Bytes| {
            let signer = Arc::clone(&signer);
            async move {
                if matches!(tamper, Tamper::Refuse) {
                    let (response, _) = signer.respond(b"garbage", chrono::Utc::now());
                    return ([("content-type", tsa::REPLY_MEDIA_TYPE)], response);
                }
                let mut request = TimeStampReq::from_der(&body).unwrap();
                match tamper {
                    Tamper::Nothing | Tamper::Refuse => {}
                    Tamper::Nonce => {
                        request.nonce = Some(der::asn1::Int::new(&[0x01, 0x02, 0x03]).unwrap())
                    }
                    Tamper::Imprint => {
                        request.message_imprint.hashed_message =
                            der::asn1::OctetString::new(vec![0xAB; 32]).unwrap()
                    }
                }
                let (response, _) = signer.respond(&request.to_der().unwrap(), chrono::Utc::now());
                ([("content-type", tsa::REPLY_MEDIA_TYPE)], response)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/tsa")
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// The other direction of interoperability: a token made by `openssl ts -reply` (a third-party TSA
/// implementation, with a SHA-1 ESSCertID, an accuracy and milliseconds in genTime) passes esign's
/// token verification, and fails it for another digest or nonce.
#[test]
fn a_token_from_openssl_ts_reply_passes_the_client_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let new = ca::NewCa::generate("esign", chrono::Utc::now()).unwrap();
    std::fs::write(path.join("tsa.pem"), ca::pem(&new.ca.tsa().der).unwrap()).unwrap();
    let chain: String = new
        .ca
        .chain()
        .iter()
        .map(|der| ca::pem(der).unwrap())
        .collect();
    std::fs::write(path.join("chain.pem"), chain).unwrap();
    std::fs::write(
        path.join("tsa.key"),
        der::pem::encode_string(
            "PRIVATE KEY",
            der::pem::LineEnding::LF,
            new.ca.tsa().key.pkcs8_der(),
        )
        .unwrap(),
    )
    .unwrap();
    std::fs::write(path.join("serial"), "01\n").unwrap();
    std::fs::write(
        path.join("tsa.cnf"),
        "[ tsa ]\ndefault_tsa = tsa_config1\n\
         [ tsa_config1 ]\nserial = ./serial\ncrypto_device = builtin\nsigner_cert = ./tsa.pem\n\
         certs = ./chain.pem\nsigner_key = ./tsa.key\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\n\
         clock_precision_digits = 3\nordering = no\ntsa_name = no\ness_cert_id_chain = no\n\
         ess_cert_id_alg = sha1\n",
    )
    .unwrap();
    let digest = sha256(b"the contract");
    let nonce = 0x1234_5678_9abc_def0_u64;
    std::fs::write(
        path.join("request.tsq"),
        tsa::request_der(&digest, nonce).unwrap(),
    )
    .unwrap();
    let (ok, output) = openssl(
        &[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            "request.tsq",
            "-out",
            "reply.tsr",
        ],
        path,
    );
    assert!(ok, "{output}");

    let response =
        TimeStampResp::from_der(&std::fs::read(path.join("reply.tsr")).unwrap()).unwrap();
    assert_eq!(response.status.status, tsa::status::GRANTED);
    let token = response.time_stamp_token.unwrap().to_der().unwrap();
    let roots = [new.ca.root().clone()];
    let verified = tsa::verify_token(&token, &digest, Some(nonce), &roots, &[]).unwrap();
    assert!(verified.tst_info.accuracy.is_some());
    let age = chrono::Utc::now().timestamp() - verified.gen_time.as_secs() as i64;
    assert!((-300..300).contains(&age), "genTime {age} s away");
    assert!(tsa::verify_token(&token, &sha256(b"another"), Some(nonce), &roots, &[]).is_err());
    assert!(tsa::verify_token(&token, &digest, Some(nonce + 1), &roots, &[]).is_err());
}
