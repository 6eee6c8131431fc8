//! The platform CA's revocation status (docs/trust.md, "Revocation"), checked by openssl against
//! the running service: `openssl ocsp` says good, then revoked after `esign ca revoke` (the real
//! binary, on the same database); `openssl crl` verifies the CRL and lists the serial; `openssl
//! verify -crl_check` refuses the revoked certificate and accepts a live one.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use der::Decode;
use esign::trust::Ca;
use esign::trust::ca;
use esign::trust::ocsp::{self, CertIdHash, CertStatus, Query, ResponseStatus};
use x509_cert::Certificate;

use crate::helpers::{RunningService, TestStore, start_service_with};

crate::backend_tests!(
    openssl_checks_ocsp_and_the_crl_before_and_after_esign_ca_revoke,
    the_responder_answers_the_get_form_and_refuses_what_it_cannot_read,
    the_root_crl_is_served_as_written_and_missing_is_a_404,
);

/// Runs openssl in `dir`; `None` (the test skips) when it is not installed.
fn openssl(arguments: &[&str], dir: &Path) -> Option<(bool, String)> {
    let output = crate::pades::tool("openssl", &["version"])?;
    assert!(output.status.success());
    let output = Command::new("openssl")
        .args(arguments)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    Some((output.status.success(), text_of(&output)))
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The service with its CA in a directory of the test's own, so the test can reach its files.
async fn service_with_ca(t: &TestStore, trust_dir: &Path) -> RunningService {
    let trust_dir = trust_dir.to_path_buf();
    start_service_with(t, &[], move |config| {
        config.trust.dir = Some(trust_dir);
        config.trust.name_revocation_urls = true;
    })
    .await
}

fn the_ca(service: &RunningService) -> std::sync::Arc<Ca> {
    service.state.ca.clone().expect("development creates a CA")
}

/// Writes root.pem, intermediate.pem, chain.pem and two fresh event certificates (live.pem,
/// doomed.pem) into `dir`; returns the doomed one.
fn write_certificates(ca: &Ca, dir: &Path) -> Certificate {
    let chain = ca.chain();
    std::fs::write(dir.join("root.pem"), ca.root_pem().unwrap()).unwrap();
    std::fs::write(dir.join("intermediate.pem"), ca::pem(&chain[0]).unwrap()).unwrap();
    let chain_pem: String = chain.iter().map(|der| ca::pem(der).unwrap()).collect();
    std::fs::write(dir.join("chain.pem"), chain_pem).unwrap();
    let mut doomed = None;
    for (file, name) in [("live.pem", "张三"), ("doomed.pem", "李四")] {
        let issued = ca
            .issue_event_certificate(
                name,
                "110101********1234",
                chrono::Utc::now() - chrono::Duration::minutes(1),
                Duration::from_secs(30 * 60),
            )
            .unwrap();
        std::fs::write(dir.join(file), ca::pem(&issued.certificate_der).unwrap()).unwrap();
        doomed = Some(Certificate::from_der(&issued.certificate_der).unwrap());
    }
    doomed.unwrap()
}

/// `openssl ocsp` for `certificate` against the service's responder.
fn ocsp_status(service: &RunningService, certificate: &str, dir: &Path) -> Option<String> {
    let url = format!("{}/ca/ocsp", service.base);
    let (ok, output) = openssl(
        &[
            "ocsp",
            "-issuer",
            "intermediate.pem",
            "-cert",
            certificate,
            "-url",
            &url,
            "-CAfile",
            "root.pem",
        ],
        dir,
    )?;
    assert!(ok, "{output}");
    assert!(output.contains("Response verify OK"), "{output}");
    Some(output)
}

async fn get(url: &str) -> reqwest::Response {
    esign::providers::outbound::client(Duration::from_secs(30))
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
}

async fn post(url: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    esign::providers::outbound::client(Duration::from_secs(30))
        .unwrap()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Fetches a CRL from the service into `dir` as DER (`<name>`) and PEM (`<name>.pem`).
async fn fetch_crl(service: &RunningService, path: &str, name: &str, dir: &Path) -> Option<()> {
    let response = get(&format!("{}{path}", service.base)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/pkix-crl"
    );
    std::fs::write(dir.join(name), response.bytes().await.unwrap()).unwrap();
    let pem = format!("{name}.pem");
    let (ok, output) = openssl(&["crl", "-inform", "DER", "-in", name, "-out", &pem], dir)?;
    assert!(ok, "{output}");
    Some(())
}

fn esign_cli(t: &TestStore, data_dir: &Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esign"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ESIGN_DATABASE_URL", &t.url)
        .env("ESIGN_SERVER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .args(arguments)
        .output()
        .unwrap()
}

async fn openssl_checks_ocsp_and_the_crl_before_and_after_esign_ca_revoke(t: TestStore) {
    let trust_dir = tempfile::tempdir().unwrap();
    let service = service_with_ca(&t, trust_dir.path()).await;
    let ca = the_ca(&service);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let doomed = write_certificates(&ca, dir);

    // The certificates say where their revocation status is.
    let Some((ok, text)) = openssl(&["x509", "-in", "doomed.pem", "-noout", "-text"], dir) else {
        return;
    };
    assert!(ok, "{text}");
    assert!(text.contains("X509v3 CRL Distribution Points"), "{text}");
    assert!(
        text.contains(&format!("URI:{}/ca/intermediate.crl", service.base)),
        "{text}"
    );
    assert!(
        text.contains(&format!("OCSP - URI:{}/ca/ocsp", service.base)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "CA Issuers - URI:{}/ca/intermediate.crt",
            service.base
        )),
        "{text}"
    );
    let (_, text) = openssl(&["x509", "-in", "intermediate.pem", "-noout", "-text"], dir).unwrap();
    assert!(
        text.contains(&format!("URI:{}/ca/root.crl", service.base)),
        "{text}"
    );

    // Before: good.
    let output = ocsp_status(&service, "doomed.pem", dir).unwrap();
    assert!(output.contains("doomed.pem: good"), "{output}");

    // `esign ca revoke` with the serial as openssl prints it, on the service's database.
    let (_, serial) = openssl(&["x509", "-in", "doomed.pem", "-noout", "-serial"], dir).unwrap();
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    let cli_dir = tempfile::tempdir().unwrap();
    let revoked = esign_cli(
        &t,
        cli_dir.path(),
        &[
            "ca",
            "revoke",
            &serial,
            "--reason",
            "keyCompromise",
            "--operator",
            "王五",
        ],
    );
    assert!(revoked.status.success(), "{}", text_of(&revoked));
    assert!(text_of(&revoked).contains(&serial), "{}", text_of(&revoked));
    let again = esign_cli(
        &t,
        cli_dir.path(),
        &[
            "ca",
            "revoke",
            &serial,
            "--reason",
            "superseded",
            "--operator",
            "王五",
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", text_of(&again));
    assert!(
        text_of(&again).contains("revoked already"),
        "{}",
        text_of(&again)
    );
    let bad = esign_cli(
        &t,
        cli_dir.path(),
        &[
            "ca",
            "revoke",
            "zz",
            "--reason",
            "certificateHold",
            "--operator",
            "王五",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text_of(&bad));

    // After: revoked, with the reason; the other certificate is still good.
    let output = ocsp_status(&service, "doomed.pem", dir).unwrap();
    assert!(output.contains("doomed.pem: revoked"), "{output}");
    assert!(output.contains("Reason: keyCompromise"), "{output}");
    let output = ocsp_status(&service, "live.pem", dir).unwrap();
    assert!(output.contains("live.pem: good"), "{output}");

    // The CRL: signed by the intermediate, listing the serial with its reason.
    fetch_crl(&service, "/ca/intermediate.crl", "intermediate.crl", dir)
        .await
        .unwrap();
    let crl = |more: &[&str]| {
        let mut arguments = vec!["crl", "-inform", "DER", "-in", "intermediate.crl", "-noout"];
        arguments.extend_from_slice(more);
        openssl(&arguments, dir).unwrap()
    };
    let (ok, output) = crl(&["-CAfile", "chain.pem"]);
    assert!(ok && output.contains("verify OK"), "{output}");
    // openssl looks the CRL's issuer up in the file it is given: the root alone is not enough
    // (docs/trust.md says to use chain.pem).
    let (ok, output) = crl(&["-CAfile", "root.pem"]);
    assert!(!(ok && output.contains("verify OK")), "{output}");
    let (_, text) = crl(&["-text"]);
    assert!(text.contains(&format!("Serial Number: {serial}")), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");

    // openssl verify with the CRL refuses the revoked certificate and accepts the live one; with
    // the root's CRL as well, the whole chain is checked.
    let verify = |leaf: &str, all: bool| {
        let mut arguments = vec![
            "verify",
            if all { "-crl_check_all" } else { "-crl_check" },
            "-CRLfile",
            "intermediate.crl.pem",
        ];
        if all {
            arguments.extend(["-CRLfile", "root.crl.pem"]);
        }
        arguments.extend([
            "-CAfile",
            "root.pem",
            "-untrusted",
            "intermediate.pem",
            leaf,
        ]);
        openssl(&arguments, dir).unwrap()
    };
    let (ok, output) = verify("doomed.pem", false);
    assert!(!ok && output.contains("certificate revoked"), "{output}");
    let (ok, output) = verify("live.pem", false);
    assert!(ok && output.contains(": OK"), "{output}");
    fetch_crl(&service, "/ca/root.crl", "root.crl", dir)
        .await
        .unwrap();
    let (ok, output) = verify("live.pem", true);
    assert!(ok && output.contains(": OK"), "{output}");
    let (ok, output) = verify("doomed.pem", true);
    assert!(!ok && output.contains("certificate revoked"), "{output}");

    // In process, as sealing would embed it: the same answer without HTTP.
    let revocations = service.state.revocations.clone().unwrap();
    let answer = revocations
        .ocsp_response_for(&doomed, chrono::Utc::now())
        .await
        .unwrap();
    let (status, basic) = ocsp::read_response(&answer).unwrap();
    assert_eq!(status, ResponseStatus::Successful);
    assert!(matches!(
        basic.unwrap().tbs_response_data.responses[0].cert_status,
        CertStatus::Revoked(_)
    ));
    let crl = revocations.crl_der(chrono::Utc::now()).await.unwrap();
    let crl =
        x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&crl).unwrap();
    assert_eq!(crl.tbs_cert_list.revoked_certificates.unwrap().len(), 1);
    assert!(revocations.root_crl_der().unwrap().is_some());

    // The revocation is an event, and its row is what a rebuild of the log gives.
    let report = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
    let table = report
        .tables
        .iter()
        .find(|table| table.table == "certificate_revocation")
        .unwrap();
    assert_eq!(table.rebuilt_rows, 1);
}

async fn the_responder_answers_the_get_form_and_refuses_what_it_cannot_read(t: TestStore) {
    let trust_dir = tempfile::tempdir().unwrap();
    let service = service_with_ca(&t, trust_dir.path()).await;
    let ca = the_ca(&service);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_certificates(&ca, dir);
    let url = format!("{}/ca/ocsp", service.base);
    let malformed = ocsp::status_only(ResponseStatus::MalformedRequest);

    // Not DER: malformedRequest, HTTP 200.
    let response = post(
        &url,
        "application/ocsp-request",
        b"not an OCSP request".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/ocsp-response"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), malformed);
    // Another media type: 415, with the same answer.
    let response = post(&url, "application/octet-stream", b"x".to_vec()).await;
    assert_eq!(response.status(), 415);
    assert_eq!(response.bytes().await.unwrap().to_vec(), malformed);
    // Too large: refused before it is read.
    let response = post(&url, "application/ocsp-request", vec![0x30; 64 * 1024]).await;
    assert_eq!(response.status(), 413);
    // A GET path that is not base64.
    let response = get(&format!("{url}/%21%21not-base64%21%21")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), malformed);

    // openssl writes the request; the GET form answers it (base64, then URL-encoded) and openssl
    // accepts the answer. (Without a nonce: openssl checks a nonce only against a request it sends
    // itself, which the POST test does.)
    let Some((ok, output)) = openssl(
        &[
            "ocsp",
            "-issuer",
            "intermediate.pem",
            "-cert",
            "live.pem",
            "-no_nonce",
            "-reqout",
            "request.der",
        ],
        dir,
    ) else {
        return;
    };
    assert!(ok, "{output}");
    let request = std::fs::read(dir.join("request.der")).unwrap();
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &request);
    let path = percent_encoding::utf8_percent_encode(&encoded, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let response = get(&format!("{url}/{path}")).await;
    assert_eq!(response.status(), 200);
    std::fs::write(dir.join("response.der"), response.bytes().await.unwrap()).unwrap();
    let (ok, output) = openssl(
        &[
            "ocsp",
            "-no_nonce",
            "-respin",
            "response.der",
            "-issuer",
            "intermediate.pem",
            "-cert",
            "live.pem",
            "-CAfile",
            "root.pem",
        ],
        dir,
    )
    .unwrap();
    assert!(ok, "{output}");
    assert!(output.contains("Response verify OK"), "{output}");
    assert!(output.contains("live.pem: good"), "{output}");

    // The URL-safe alphabet without padding, and a SHA-256 CertID with a nonce, which is echoed.
    let live = Certificate::load_pem_chain(&std::fs::read(dir.join("live.pem")).unwrap())
        .unwrap()
        .remove(0);
    let query = Query::for_certificate(&live, ca.intermediate(), CertIdHash::Sha256)
        .unwrap()
        .with_nonce(b"0123456789abcdef")
        .unwrap();
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        query.to_der().unwrap(),
    );
    let response = get(&format!("{url}/{encoded}")).await;
    let (status, basic) = ocsp::read_response(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(status, ResponseStatus::Successful);
    let data = basic.unwrap().tbs_response_data;
    assert_eq!(
        data.responses[0].cert_status,
        CertStatus::Good(der::asn1::Null)
    );
    assert!(data.response_extensions.is_some());
}

async fn the_root_crl_is_served_as_written_and_missing_is_a_404(t: TestStore) {
    let trust_dir = tempfile::tempdir().unwrap();
    let service = service_with_ca(&t, trust_dir.path()).await;
    let files = ca::CaFiles::new(trust_dir.path());
    let written = std::fs::read(files.root_crl()).unwrap();
    let response = get(&format!("{}/ca/root.crl", service.base)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), written);

    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("root.crl"), &written).unwrap();
    std::fs::write(
        work.path().join("root.pem"),
        the_ca(&service).root_pem().unwrap(),
    )
    .unwrap();
    let Some((ok, output)) = openssl(
        &[
            "crl", "-inform", "DER", "-in", "root.crl", "-CAfile", "root.pem", "-noout", "-text",
        ],
        work.path(),
    ) else {
        return;
    };
    assert!(ok && output.contains("verify OK"), "{output}");
    assert!(output.contains("No Revoked Certificates"), "{output}");

    std::fs::remove_file(files.root_crl()).unwrap();
    let response = get(&format!("{}/ca/root.crl", service.base)).await;
    assert_eq!(response.status(), 404);
    assert!(
        response.text().await.unwrap().contains("esign ca root-crl"),
        "the 404 says what to do"
    );
}

/// `esign ca init` writes the root's CRL; `esign ca root-crl` signs a new one where the root key
/// is, and refuses, saying why, where it is not.
#[test]
fn ca_root_crl_signs_a_new_root_crl_where_the_root_key_is() {
    let data = tempfile::tempdir().unwrap();
    let run = |arguments: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_esign"))
            .env_clear()
            .env("ESIGN_SERVER_DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .current_dir(data.path())
            .args(arguments)
            .output()
            .unwrap()
    };
    let init = run(&["ca", "init"]);
    assert!(init.status.success(), "{}", text_of(&init));
    let files = ca::CaFiles::new(data.path().join("trust"));
    let first = std::fs::read(files.root_crl()).unwrap();

    let renewed = run(&["ca", "root-crl"]);
    assert!(renewed.status.success(), "{}", text_of(&renewed));
    let second = std::fs::read(files.root_crl()).unwrap();
    assert_ne!(first, second);
    let Some((ok, output)) = openssl(
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            files.root_crl().to_str().unwrap(),
            "-CAfile",
            files.root_cert().to_str().unwrap(),
            "-noout",
            "-nextupdate",
        ],
        data.path(),
    ) else {
        return;
    };
    assert!(ok && output.contains("verify OK"), "{output}");

    std::fs::remove_file(files.root_key()).unwrap();
    let refused = run(&["ca", "root-crl"]);
    assert!(!refused.status.success());
    assert!(
        text_of(&refused).contains("root key"),
        "{}",
        text_of(&refused)
    );
    assert_eq!(std::fs::read(files.root_crl()).unwrap(), second);
}
