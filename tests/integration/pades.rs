//! PAdES signatures checked by two independent validators: poppler's `pdfsig` (trusting the platform
//! root through an NSS database) and pyHanko's `sign validate` (trusting the root). Each signer's
//! signature sits in its own incremental update; a byte changed in a signed range makes both report
//! failure. The platform seal comes last, as a B-T signature: its CMS carries an RFC 3161 signature
//! timestamp (from esign's TSA in-process, or over HTTP from `POST /tsa`) that pyHanko validates
//! and `openssl ts -verify` accepts for the seal's signature value.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use der::{Decode, Encode};
use esign::documents::pades::{Revision, SignatureInfo};
use esign::documents::pdf::{Block, Layout, SignatureField, render};
use esign::documents::sign::{FieldSignature, sign_field, sign_field_timestamped};
use esign::trust::ca::{self, Ca};
use esign::trust::cms::Signer;
use esign::trust::timestamper::{LocalTimestamper, Timestamper};
use esign::trust::tsa;
use x509_cert::Certificate;

use crate::helpers::{Backend, TestStore, start_service};

/// Runs an outside validator, or `None` when it is missing (see [`crate::helpers::skip`]).
pub(crate) fn tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    // No stdin at all: certutil spins on a closed pipe instead of treating it as end of input.
    match Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => Some(output),
        Err(error) => {
            crate::helpers::skip(program, format_args!("it is not available ({error})"));
            None
        }
    }
}

/// A development CA written under `dir`, as `esign ca init` makes it.
fn development_ca(dir: &Path) -> Ca {
    let mut config = esign::app::config::Config::default();
    config.server.data_dir = dir.to_path_buf();
    ca::init(&config.trust_settings(), false).unwrap();
    Ca::open(&config.trust_settings()).unwrap().unwrap()
}

fn chain_of(ca: &Ca) -> Vec<Certificate> {
    ca.chain()
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect()
}

/// A two-signer contract signed by both (B-B each), with a third field left for the platform
/// seal when `with_seal_field`.
struct Contract {
    pdf: Vec<u8>,
    revision: Revision,
    seal_field: Option<SignatureField>,
}

fn signed_contract(ca: &Ca, with_seal_field: bool) -> Contract {
    let chain = chain_of(ca);
    let mut fields = vec!["Signer_RECEIVER_001".into(), "Signer_PAYER_001".into()];
    if with_seal_field {
        fields.push("PlatformSeal".into());
    }
    let rendered = render(&Layout {
        title: "天财分账资金归集授权协议".into(),
        footer: "CONTRACT_PADES".into(),
        blocks: vec![
            Block::Title("天财分账资金归集授权协议".into()),
            Block::Paragraph("付款方授权收款方按约定归集资金。".into()),
        ],
        signature_fields: fields,
    })
    .unwrap();
    let mut revision = Revision::of(&rendered);
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
            FieldSignature {
                field,
                info: &info,
                appearance: None,
                signer: Signer {
                    certificate: &certificate,
                    key: &issued.key,
                },
                chain: &chain,
            },
        )
        .unwrap();
        pdf = signed;
        revision = next;
    }
    Contract {
        pdf,
        revision,
        seal_field: rendered.fields.get(2).cloned(),
    }
}

/// The contract signed by both signers, then sealed by the platform with a signature timestamp
/// from `timestamper`.
async fn sealed_contract(ca: &Ca, timestamper: &dyn Timestamper) -> (Vec<u8>, tsa::Timestamp) {
    let contract = signed_contract(ca, true);
    let seal = ca.seal();
    let info = SignatureInfo {
        name: "esign 平台签章".into(),
        reason: "平台签章".into(),
        location: None,
        signed_at: chrono::Utc::now(),
    };
    let sealed = sign_field_timestamped(
        &contract.pdf,
        &contract.revision,
        FieldSignature {
            field: &contract.seal_field.unwrap(),
            info: &info,
            appearance: None,
            signer: Signer {
                certificate: &seal.certificate,
                key: &seal.key,
            },
            chain: &chain_of(ca),
        },
        timestamper,
    )
    .await
    .unwrap();
    (sealed.bytes, sealed.timestamp)
}

/// `pdf` with one byte of the first page's content changed: inside every signature's byte range.
pub(crate) fn tampered(pdf: &[u8]) -> Vec<u8> {
    let mut changed = pdf.to_vec();
    let at = changed
        .windows(6)
        .position(|window| window == b"stream")
        .unwrap()
        + 20;
    changed[at] ^= 0x20;
    changed
}

/// An NSS database trusting only `root_pem`, for pdfsig. Created once: `certutil -N` on an existing
/// database asks for its password.
pub(crate) fn nss_database(dir: &Path, root_pem: &Path) -> Option<String> {
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

/// pdfsig exits 0 even for broken signatures: every one of the `count` signatures must say it is
/// valid and its certificate trusted.
pub(crate) fn assert_all_valid_and_trusted(report: &str, count: usize) {
    assert_all_valid_and_trusted_with_document_timestamps(report, count, 0);
}

/// As [`assert_all_valid_and_trusted`], with `document_timestamps` more listed after the
/// signatures: poppler lists an RFC 3161 document timestamp but does not check it ("Signature
/// Type: unknown"); pyHanko does.
pub(crate) fn assert_all_valid_and_trusted_with_document_timestamps(
    report: &str,
    count: usize,
    document_timestamps: usize,
) {
    assert_eq!(
        report.matches("Signature #").count(),
        count + document_timestamps,
        "{report}"
    );
    assert_eq!(
        report.matches("Signature Type: unknown").count(),
        document_timestamps,
        "{report}"
    );
    for line in [
        "Signature Validation: Signature is Valid.",
        "Certificate Validation: Certificate is Trusted.",
    ] {
        assert_eq!(report.matches(line).count(), count, "{line:?} in {report}");
    }
}

pub(crate) fn pdfsig(nss_db: &str, pdf: &Path) -> Option<String> {
    let output = tool("pdfsig", &["-nssdir", nss_db, pdf.to_str().unwrap()])?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn pdfsig_and_pyhanko_validate_every_signature_and_catch_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let ca = development_ca(dir.path());
    let pdf = signed_contract(&ca, false).pdf;
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();

    let nss_db = nss_database(dir.path(), &root);
    if let Some(report) = nss_db.as_deref().and_then(|db| pdfsig(db, &path)) {
        // pdfsig exits 0 even for broken signatures: read what it says about each one.
        assert_all_valid_and_trusted(&report, 2);
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

    let tampered = tampered(&pdf);
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

/// The seal made with esign's own TSA in-process: every verifier accepts the document and the
/// seal's signature timestamp.
#[tokio::test]
async fn a_platform_seal_with_an_in_process_signature_timestamp_is_b_t_for_every_validator() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(development_ca(dir.path()));
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let timestamper = LocalTimestamper::new(Arc::new(ca.tsa_signer(policy)));
    let (sealed, timestamp) = sealed_contract(&ca, &timestamper).await;
    assert_eq!(timestamp.url, "local");
    check_sealed_contract(
        dir.path(),
        &ca,
        &sealed,
        &timestamp.token,
        SIGNED_THEN_SEALED,
    );
}

/// The seal timestamped over HTTP: the RFC 3161 client asks the running service's `POST /tsa`.
#[tokio::test]
async fn a_platform_seal_timestamped_by_the_tsa_endpoint_over_http_validates_everywhere() {
    let t = TestStore::new(Backend::Sqlite).await.unwrap();
    let service = start_service(&t, &[]).await;
    let ca = service.state.ca.clone().expect("development creates a CA");
    let url = format!("{}/tsa", service.base);
    let client = esign::providers::tsa::Client::new(
        vec![url.clone()],
        Duration::from_secs(20),
        vec![ca.root().clone()],
        Vec::new(),
    )
    .unwrap();
    let (sealed, timestamp) = sealed_contract(&ca, &client).await;
    assert_eq!(timestamp.url, url);
    let dir = tempfile::tempdir().unwrap();
    check_sealed_contract(
        dir.path(),
        &ca,
        &sealed,
        &timestamp.token,
        SIGNED_THEN_SEALED,
    );
}

/// Every signature's `/Contents` (a CMS signature, or a timestamp token for a document
/// timestamp), in the order they were written, without the placeholder's zeros.
pub(crate) fn signature_contents(pdf: &[u8]) -> Vec<Vec<u8>> {
    let marker = b"/Contents <";
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = pdf[from..]
        .windows(marker.len())
        .position(|window| window == marker)
    {
        let start = from + at + marker.len();
        let end = start + pdf[start..].iter().position(|b| *b == b'>').unwrap();
        let padded = hex::decode(&pdf[start..end]).unwrap();
        let mut reader = der::SliceReader::new(&padded).unwrap();
        found.push(
            ::cms::content_info::ContentInfo::decode(&mut reader)
                .unwrap()
                .to_der()
                .unwrap(),
        );
        from = end;
    }
    found
}

/// The signature timestamp token in a CMS signature's unsigned attributes.
pub(crate) fn signature_timestamp_token(cms_der: &[u8]) -> Vec<u8> {
    let content_info = ::cms::content_info::ContentInfo::from_der(cms_der).unwrap();
    let signed_data: ::cms::signed_data::SignedData = content_info.content.decode_as().unwrap();
    let signer_info = &signed_data.signer_infos.0.as_slice()[0];
    let attribute = signer_info
        .unsigned_attrs
        .as_ref()
        .expect("the seal has unsigned attributes")
        .iter()
        .find(|attribute| attribute.oid.to_string() == "1.2.840.113549.1.9.16.2.14")
        .expect("an id-aa-signatureTimeStampToken attribute");
    attribute.values.iter().next().unwrap().to_der().unwrap()
}

pub(crate) fn pyhanko_validate(
    root: &Path,
    pdf: &Path,
    extra: &[&str],
) -> Option<std::process::Output> {
    let mut args = vec![
        "sign",
        "validate",
        "--trust",
        root.to_str().unwrap(),
        "--trust-replace",
        "--no-revocation-check",
    ];
    args.extend_from_slice(extra);
    args.push(pdf.to_str().unwrap());
    tool("pyhanko", &args)
}

pub(crate) fn text_of(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What a sealed contract holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sealed {
    /// CMS signatures (the signers' and the seal).
    pub signatures: usize,
    /// Document timestamps after them.
    pub document_timestamps: usize,
    /// CMS signatures carrying a signature timestamp (pyHanko's count).
    pub signature_timestamps: usize,
    /// The seal's place among the signatures, from 0.
    pub seal: usize,
}

/// Two signers who each signed at their moment with a signature timestamp (B-T), the platform
/// seal third and the closing document timestamp: what a two-signer contract seals to.
pub(crate) const TWO_SIGNERS_SEALED: Sealed = Sealed {
    signatures: 3,
    document_timestamps: 1,
    signature_timestamps: 3,
    seal: 2,
};

/// [`check_sealed_contract`] on a two-signer contract ([`TWO_SIGNERS_SEALED`]), the seal's own
/// signature timestamp checked with openssl.
pub(crate) fn check_two_signer_contract(dir: &Path, ca: &Ca, pdf: &[u8]) {
    let seal = signature_contents(pdf).swap_remove(TWO_SIGNERS_SEALED.seal);
    check_sealed_contract(
        dir,
        ca,
        pdf,
        &signature_timestamp_token(&seal),
        TWO_SIGNERS_SEALED,
    );
}

/// Two signers' B-B signatures and the platform seal, as the tests here make them.
const SIGNED_THEN_SEALED: Sealed = Sealed {
    signatures: 3,
    document_timestamps: 0,
    signature_timestamps: 1,
    seal: 2,
};

/// Two signers' signatures, the seal and the closing document timestamp, checked by pdfsig,
/// pyHanko and `openssl ts -verify`; then a changed byte fails pdfsig and pyHanko.
pub(crate) fn check_sealed_contract(
    dir: &Path,
    ca: &Ca,
    pdf: &[u8],
    timestamp_token: &[u8],
    expected: Sealed,
) {
    let path = dir.join("sealed.pdf");
    std::fs::write(&path, pdf).unwrap();
    let root = dir.join("root.pem");
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();
    let chain: String = ca.chain().iter().map(|der| ca::pem(der).unwrap()).collect();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();

    let nss_db = nss_database(dir, &root);
    if let Some(report) = nss_db.as_deref().and_then(|db| pdfsig(db, &path)) {
        assert_all_valid_and_trusted_with_document_timestamps(
            &report,
            expected.signatures,
            expected.document_timestamps,
        );
        assert!(report.contains("esign Platform Seal"), "{report}");
    }
    if let Some(output) = pyhanko_validate(&root, &path, &[]) {
        assert!(
            output.status.success(),
            "pyHanko refused: {}",
            text_of(&output)
        );
    }
    if let Some(output) = pyhanko_validate(&root, &path, &["--pretty-print"]) {
        let report = text_of(&output);
        assert!(output.status.success(), "{report}");
        // pyHanko checked every signature timestamp and the TSA certificate's chain to the root.
        assert_eq!(
            report.matches("Signature timestamp token:").count(),
            expected.signature_timestamps,
            "{report}"
        );
        let seal = report
            .split("Field 3: PlatformSeal")
            .nth(1)
            .unwrap_or_else(|| panic!("no seal in {report}"));
        for line in [
            "Certificate subject: \"Common Name: esign Platform Seal, Organization: esign\"",
            "Signature timestamp token:",
            "The timestamp token is cryptographically sound.",
            "TSA certificate subject: \"Common Name: esign Timestamp Authority, Organization: esign\"",
            "The TSA certificate is trusted.",
            "The signature is judged VALID.",
        ] {
            assert!(seal.contains(line), "{line:?} missing from {seal}");
        }
    }

    // The token in the seal's CMS is the one the timestamper returned, and openssl accepts it for
    // the SHA-256 of the seal's signature value.
    let seal_cms = signature_contents(pdf).swap_remove(expected.seal);
    let token = signature_timestamp_token(&seal_cms);
    assert_eq!(token, timestamp_token);
    std::fs::write(dir.join("token.der"), &token).unwrap();
    let value = esign::trust::cms::signature_value(&seal_cms).unwrap();
    let ts_verify = |digest: &[u8]| {
        tool(
            "openssl",
            &[
                "ts",
                "-verify",
                "-digest",
                &hex::encode(digest),
                "-token_in",
                "-in",
                dir.join("token.der").to_str().unwrap(),
                "-CAfile",
                root.to_str().unwrap(),
                "-untrusted",
                dir.join("chain.pem").to_str().unwrap(),
            ],
        )
    };
    if let Some(output) = ts_verify(&sha256(&value)) {
        let text = text_of(&output);
        assert!(
            output.status.success() && text.contains("Verification: OK"),
            "{text}"
        );
    }
    if let Some(output) = ts_verify(&sha256(b"another signature value")) {
        assert!(!output.status.success(), "{}", text_of(&output));
    }

    let tampered = tampered(pdf);
    let bad = dir.join("tampered.pdf");
    std::fs::write(&bad, &tampered).unwrap();
    if let Some(report) = nss_db.as_deref().and_then(|db| pdfsig(db, &bad)) {
        assert!(
            !report.contains("Signature Validation: Signature is Valid."),
            "{report}"
        );
    }
    if let Some(output) = pyhanko_validate(&root, &bad, &[]) {
        assert!(!output.status.success(), "pyHanko accepted a tampered file");
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
