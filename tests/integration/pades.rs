//! PAdES signatures checked by two independent validators: poppler's `pdfsig` (trusting the platform
//! root through an NSS database) and pyHanko's `sign validate` (trusting the root). Each signer's
//! signature sits in its own incremental update; a byte changed in a signed range makes both report
//! failure.

use std::path::Path;
use std::process::Command;

use der::Decode;
use esign::document::pades::{Revision, SignatureInfo};
use esign::document::pdf::{Block, Layout, render};
use esign::document::sign::sign_field;
use esign::trust::ca::{self, Ca};
use esign::trust::cms::Signer;
use x509_cert::Certificate;

/// Runs an outside validator, or `None` when it is missing outside CI.
fn tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    // No stdin at all: certutil spins on a closed pipe instead of treating it as end of input.
    match Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => Some(output),
        Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{program} is required under CI=true: {error}")
        }
        Err(error) => {
            eprintln!("skipping a PAdES check: {program} is not available ({error})");
            None
        }
    }
}

/// A two-signer contract signed by both, and the CA that issued their certificates.
fn signed_contract(dir: &Path) -> (Vec<u8>, Ca) {
    let mut config = esign::config::Config::default();
    config.server.data_dir = dir.to_path_buf();
    ca::init(&config, false).unwrap();
    let ca = Ca::open(&config).unwrap().unwrap();
    let chain: Vec<Certificate> = ca
        .chain()
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    let rendered = render(&Layout {
        title: "天财分账资金归集授权协议".into(),
        footer: "CONTRACT_PADES".into(),
        blocks: vec![
            Block::Title("天财分账资金归集授权协议".into()),
            Block::Paragraph("付款方授权收款方按约定归集资金。".into()),
        ],
        signature_fields: vec!["Signer_RECEIVER_001".into(), "Signer_PAYER_001".into()],
    })
    .unwrap();
    let mut revision = Revision {
        catalog: rendered.catalog,
        info: rendered.info,
        size: rendered.size,
        file_id: rendered.file_id.clone(),
    };
    let mut pdf = rendered.bytes.clone();
    for (field, (name, masked)) in rendered.fields.iter().zip([
        ("张三", "110105********002X"),
        ("李四", "440304********0011"),
    ]) {
        let now = chrono::Utc::now();
        let issued = ca
            .issue_event_certificate(
                name,
                masked,
                now - chrono::TimeDelta::minutes(1),
                std::time::Duration::from_secs(1800),
            )
            .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        let info = SignatureInfo {
            name: name.to_owned(),
            reason: "同意签署本协议".into(),
            location: None,
            signed_at: now,
        };
        let (signed, next) = sign_field(
            &pdf,
            &revision,
            field,
            &info,
            Signer {
                certificate: &certificate,
                key: &issued.key,
            },
            &chain,
        )
        .unwrap();
        pdf = signed;
        revision = next;
    }
    (pdf, ca)
}

/// An NSS database trusting only `root_pem`, for pdfsig. Created once: `certutil -N` on an existing
/// database asks for its password.
fn nss_database(dir: &Path, root_pem: &Path) -> Option<String> {
    let nss = dir.join("nss");
    std::fs::create_dir_all(&nss).unwrap();
    let nss_db = format!("sql:{}", nss.display());
    let created = tool("certutil", &["-N", "-d", &nss_db, "--empty-password"])?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let added = tool(
        "certutil",
        &[
            "-A",
            "-d",
            &nss_db,
            "-n",
            "esign-root",
            "-t",
            "CT,C,C",
            "-i",
            root_pem.to_str().unwrap(),
        ],
    )?;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    Some(nss_db)
}

fn pdfsig(nss_db: &str, pdf: &Path) -> Option<String> {
    let output = tool("pdfsig", &["-nssdir", nss_db, pdf.to_str().unwrap()])?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn pdfsig_and_pyhanko_validate_every_signature_and_catch_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (pdf, ca) = signed_contract(dir.path());
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();

    let nss_db = nss_database(dir.path(), &root);
    if let Some(report) = nss_db.as_deref().and_then(|db| pdfsig(db, &path)) {
        // pdfsig exits 0 even for broken signatures: read what it says about each one.
        assert_eq!(report.matches("Signature #").count(), 2, "{report}");
        assert_eq!(
            report
                .matches("Signature Validation: Signature is Valid.")
                .count(),
            2,
            "{report}"
        );
        assert_eq!(
            report
                .matches("Certificate Validation: Certificate is Trusted.")
                .count(),
            2,
            "{report}"
        );
        assert!(report.contains("ETSI.CAdES.detached"), "{report}");
        assert!(
            report.contains("张三") && report.contains("李四"),
            "{report}"
        );
    }
    if let Some(output) = tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--trust",
            root.to_str().unwrap(),
            "--trust-replace",
            "--no-revocation-check",
            path.to_str().unwrap(),
        ],
    ) {
        assert!(
            output.status.success(),
            "pyHanko refused: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // One byte of the first page's content, inside every signature's byte range.
    let mut tampered = pdf.clone();
    let at = tampered
        .windows(6)
        .position(|window| window == b"stream")
        .unwrap()
        + 20;
    tampered[at] ^= 0x20;
    let bad = dir.path().join("tampered.pdf");
    std::fs::write(&bad, &tampered).unwrap();
    if let Some(report) = nss_db.as_deref().and_then(|db| pdfsig(db, &bad)) {
        assert!(
            !report.contains("Signature Validation: Signature is Valid."),
            "{report}"
        );
    }
    if let Some(output) = tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--trust",
            root.to_str().unwrap(),
            "--trust-replace",
            "--no-revocation-check",
            bad.to_str().unwrap(),
        ],
    ) {
        assert!(!output.status.success(), "pyHanko accepted a tampered file");
    }
}
