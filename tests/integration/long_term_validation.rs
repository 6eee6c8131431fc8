//! Long-term validation: a sealed document holds everything a verifier needs (PAdES B-LTA), so
//! pyHanko validates it with revocation checking required and no network; the renewal sweep closes
//! it again with a new document timestamp, and every version still verifies by its hash.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use sha2::Digest as _;

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore};
use crate::pades::{nss_database, pdfsig, text_of};
use crate::sealing::{service, verify};
use crate::signing_moments::document_when_sealed;

crate::backend_tests!(
    a_sealed_document_validates_long_term_with_no_network,
    the_renewal_sweep_adds_a_document_timestamp_and_every_version_verifies,
    an_event_certificate_revoked_later_shows_in_the_next_validation_data,
);

/// A two-signer contract, signed by both; returns its id.
async fn signed(service: &RunningService, name: &str) -> String {
    let template = format!("TPL_{name}");
    crate::journey::publish_template(&service.client(ADMIN), &template).await;
    let contract_id = crate::journey::initiate_contract(
        &service.client(CALLER),
        &template,
        &format!("REL_{name}"),
        "http://127.0.0.1:9/unused",
        7,
    )
    .await;
    crate::journey::sign_both(&service.state, &contract_id).await;
    contract_id
}

fn write_root(service: &RunningService, dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root.pem");
    let ca = service.state.ca.as_ref().expect("a platform CA");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();
    root
}

/// `pyhanko sign adesverify`: AdES validation with revocation information required. Any fetch
/// goes to a proxy that is not there, so what validates was in the file.
fn adesverify(root: &Path, pdf: &Path) -> Option<Output> {
    // Absent pyHanko, `tool` reports the skip (or fails the run when every suite is required).
    crate::pades::tool("pyhanko", &["--version"])?;
    Some(
        Command::new("pyhanko")
            .args([
                "sign",
                "adesverify",
                "--trust",
                root.to_str().unwrap(),
                "--trust-replace",
                "--pretty-print",
                pdf.to_str().unwrap(),
            ])
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("http_proxy", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .output()
            .expect("pyhanko runs"),
    )
}

/// pyHanko judges every signature valid at the long-term level, its revocation data from the
/// document's own store.
fn assert_long_term_valid(root: &Path, pdf: &Path, signatures: usize) {
    let Some(output) = adesverify(root, pdf) else {
        return;
    };
    let report = text_of(&output);
    assert!(output.status.success(), "{report}");
    assert_eq!(
        report.matches("The signature is judged VALID").count(),
        signatures,
        "{report}"
    );
}

async fn a_sealed_document_validates_long_term_with_no_network(t: TestStore) {
    let service = service(&t, |_| {}).await;
    let contract_id = signed(&service, "LTV").await;
    let pdf = document_when_sealed(&service, &contract_id).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealed.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let root = write_root(&service, dir.path());

    // The store holds the certificates and revocation data of every signature and timestamp.
    let ca = service.state.ca.as_ref().unwrap();
    let store = esign::documents::ltv::validation_data_in(&pdf);
    for certificate in esign::documents::ltv::certificates_in(&pdf) {
        let der = der::Encode::to_der(&certificate).unwrap();
        assert!(
            store.certificates.contains(&der),
            "a certificate is missing"
        );
    }
    assert_eq!(store.crls.len(), 2, "the intermediate's CRL and the root's");
    // An OCSP answer for each signer's event certificate, the seal's and the TSA's.
    assert_eq!(store.ocsps.len(), 4);
    assert!(esign::documents::ltv::certificates_in(&pdf).contains(ca.intermediate()));
    let verification = verify(
        &service.client(CALLER),
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verification["verdict"], "VALID", "{verification}");
    // The closing document timestamp's own data goes into the store of the next renewal.
    let signatures = verification["signatureInfo"].as_array().unwrap();
    assert_eq!(signatures.len(), 4, "{verification}");
    for signature in &signatures[..3] {
        assert_eq!(signature["ltvDataPresent"], true, "{signature}");
    }
    assert_eq!(signatures[3]["kind"], "DOCUMENT_TIMESTAMP");

    // Signers, seal: B-T each; the document timestamp closes it.
    assert_long_term_valid(&root, &path, 3);
    if let Some(report) = nss_database(dir.path(), &root).and_then(|db| pdfsig(&db, &path)) {
        crate::pades::assert_all_valid_and_trusted_with_document_timestamps(&report, 3, 1);
    }

    // The same document as it stood before the store (up to the seal's revision) does not pass:
    // the revocation data pyHanko requires is what the store added.
    let seal_end = revision_ends(&pdf)[2];
    let without_store = dir.path().join("without-store.pdf");
    std::fs::write(&without_store, &pdf[..seal_end]).unwrap();
    if let Some(output) = adesverify(&root, &without_store) {
        let report = text_of(&output);
        assert!(
            !output.status.success() && !report.contains("The signature is judged VALID"),
            "{report}"
        );
    }

    // A changed byte: pyHanko refuses it too.
    let tampered = dir.path().join("tampered.pdf");
    std::fs::write(&tampered, crate::pades::tampered(&pdf)).unwrap();
    if let Some(output) = adesverify(&root, &tampered) {
        let report = text_of(&output);
        assert!(
            !output.status.success() || report.contains("INVALID"),
            "{report}"
        );
    }
}

async fn the_renewal_sweep_adds_a_document_timestamp_and_every_version_verifies(t: TestStore) {
    // Every sealed document is within the horizon at once; the sweep runs when the test says.
    let service = service(&t, |config| {
        config.archive.interval_seconds = 3600;
        config.trust.document_timestamp_renewal_days = 36_500;
        config.trust.document_timestamp_renewal_interval_days = 0;
    })
    .await;
    let caller = service.client(CALLER);
    let contract_id = signed(&service, "RENEW").await;
    crate::sealing::seal_now(&service.state, &contract_id).await;
    let sealed = document_when_sealed(&service, &contract_id).await;

    // The sweep runs in the background too (here when the contract is signed), and with no
    // interval any sweep renews: count what this one did, and what the file then holds.
    let report = loop {
        let report = esign::app::sealing::sweep(&service.state, chrono::Utc::now())
            .await
            .unwrap();
        if !report.skipped {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(report.renewed, 1, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");

    let renewed = document_when_sealed(&service, &contract_id).await;
    assert!(
        renewed.starts_with(&sealed) && renewed.len() > sealed.len(),
        "a renewal is an incremental update"
    );
    let document_timestamps = crate::pades::signature_contents(&renewed).len() - 3;
    assert!(document_timestamps >= 2, "{document_timestamps}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renewed.pdf");
    std::fs::write(&path, &renewed).unwrap();
    let root = write_root(&service, dir.path());
    assert_long_term_valid(&root, &path, 3);
    if let Some(report) = nss_database(dir.path(), &root).and_then(|db| pdfsig(&db, &path)) {
        crate::pades::assert_all_valid_and_trusted_with_document_timestamps(
            &report,
            3,
            document_timestamps,
        );
        assert!(report.contains("DocumentTimestamp2"), "{report}");
    }

    // The log and the query tables know every version; each verifies by its file.
    let versions = esign::store::query_tables::select(
        &service.state.store,
        projections::Table::ContractDocument,
        "contract_id = {1}",
        &[&contract_id],
        Some("version"),
    )
    .await
    .unwrap();
    let hashes: Vec<&str> = versions
        .iter()
        .map(|row| row.required_text("document_hash"))
        .collect();
    let hex = |bytes: &[u8]| hex::encode(sha2::Sha256::digest(bytes));
    assert_eq!(hashes[0], hex(&sealed));
    assert!(hashes.contains(&hex(&renewed).as_str()), "{hashes:?}");
    for file in [&sealed, &renewed] {
        let verification = verify(
            &caller,
            json!({"method": "FILE", "fileContent": base64_of(file)}),
        )
        .await;
        assert_eq!(verification["valid"], true, "{verification}");
        assert_eq!(verification["verdict"], "VALID", "{verification}");
        assert_eq!(verification["contractId"], contract_id.as_str());
    }

    // With the default horizon and interval nothing is due again.
    let now = chrono::Utc::now();
    let due = service
        .state
        .store
        .contracts()
        .document_timestamps_due(
            now + chrono::TimeDelta::days(365),
            now - chrono::TimeDelta::days(30),
            10,
        )
        .await
        .unwrap();
    assert!(due.is_empty(), "{} due", due.len());
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where each signature's revision ends: the end of its `/ByteRange`, in file order.
fn revision_ends(pdf: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/ByteRange [")
        .map(|(at, key)| {
            let numbers: Vec<usize> = text[at + key.len()..]
                .split(']')
                .next()
                .unwrap()
                .split_whitespace()
                .map(|number| number.parse().unwrap())
                .collect();
            numbers[2] + numbers[3]
        })
        .collect()
}

/// An operator revokes a signer's event certificate after sealing: the document's first store
/// still says good (the status when it was sealed), the next renewal's store says revoked.
async fn an_event_certificate_revoked_later_shows_in_the_next_validation_data(t: TestStore) {
    let service = service(&t, |config| {
        config.archive.interval_seconds = 3600;
        config.trust.document_timestamp_renewal_days = 36_500;
        config.trust.document_timestamp_renewal_interval_days = 0;
    })
    .await;
    let contract_id = signed(&service, "REVOKED_LATER").await;
    crate::sealing::seal_now(&service.state, &contract_id).await;
    let sealed = document_when_sealed(&service, &contract_id).await;
    let signer = esign::documents::ltv::certificates_in(&sealed)
        .into_iter()
        .find(|certificate| {
            certificate
                .tbs_certificate()
                .subject()
                .to_string()
                .contains("CN=张三")
        })
        .expect("the first signer's event certificate");
    let serial = aggregates::certificate_revocation::CertificateSerial::from_bytes(
        signer.tbs_certificate().serial_number().as_bytes(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let statuses = |pdf: &[u8]| -> Vec<String> {
        esign::documents::ltv::validation_data_in(pdf)
            .ocsps
            .iter()
            .enumerate()
            .filter_map(|(index, der)| {
                let path = dir.path().join(format!("ocsp-{index}.der"));
                std::fs::write(&path, der).unwrap();
                let output = crate::pades::tool(
                    "openssl",
                    &[
                        "ocsp",
                        "-respin",
                        path.to_str().unwrap(),
                        "-resp_text",
                        "-noverify",
                    ],
                )?;
                let text = text_of(&output);
                text.contains(&format!("Serial Number: {}", serial.as_str()))
                    .then(|| {
                        text.lines()
                            .find_map(|line| line.trim().strip_prefix("Cert Status: "))
                            .unwrap_or_default()
                            .to_owned()
                    })
            })
            .collect()
    };
    if crate::pades::tool("openssl", &["version"]).is_none() {
        return;
    }
    assert_eq!(statuses(&sealed), ["good"]);

    esign::app::revocation::revoke(
        &service.state.pipeline,
        &esign::app::revocation::RevokeRequest {
            serial: serial.as_str().to_owned(),
            reason: "keyCompromise".to_owned(),
            operator: "security-team".to_owned(),
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    loop {
        let report = esign::app::sealing::sweep(&service.state, chrono::Utc::now())
            .await
            .unwrap();
        if !report.skipped {
            assert!(report.renewed >= 1, "{report:?}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The sealing-time answer stays; the renewal adds the new one (a renewal in the background
    // before the revocation would add another good one).
    let renewed = statuses(&document_when_sealed(&service, &contract_id).await);
    assert_eq!(
        renewed.first().map(String::as_str),
        Some("good"),
        "{renewed:?}"
    );
    assert_eq!(
        renewed.last().map(String::as_str),
        Some("revoked"),
        "{renewed:?}"
    );
}
