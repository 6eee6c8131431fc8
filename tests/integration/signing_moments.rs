//! Each signer's signature is made when they sign, not when the document is sealed: it sits in its
//! own incremental revision, with a certificate issued at that moment (never earlier) and an RFC
//! 3161 signature timestamp within seconds of their `SignerSigned` event; the platform seal and a
//! document timestamp close the document. When no timestamp authority answers at a signer's moment,
//! the signer still signs, and nothing in the document or the log claims a time for that signature.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aggregates::contract::{ContractAggregate, ContractState, SignerStatus};
use chrono::{DateTime, SubsecRound, Utc};
use der::{Decode, Encode};
use serde_json::json;
use sha2::Digest as _;
use x509_cert::Certificate;

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore};
use crate::sealing::{FlakyTsa, contract_when_archive_is, service, verify};

crate::backend_tests!(
    each_signature_is_made_and_timestamped_when_its_signer_signs,
    signers_of_one_sequence_who_confirm_at_once_both_sign_into_one_chain,
    a_signer_signs_when_no_timestamp_authority_answers_and_no_time_is_claimed,
);

/// Seconds a signature's timestamp may lie after its signer's `SignerSigned` event.
const MOMENT_SECONDS: i64 = 5;
/// Time between the two signers, so a signature made at sealing time could not pass for the first.
const BETWEEN_SIGNERS: Duration = Duration::from_secs(3);

/// A two-signer contract archived with `LOCAL_CA`, not yet signed.
async fn contract(service: &RunningService, name: &str) -> String {
    let template = format!("TPL_{name}");
    crate::journey::publish_template(&service.client(ADMIN), &template).await;
    crate::journey::initiate_archived_contract(
        &service.client(CALLER),
        &template,
        &format!("REL_{name}"),
        "http://127.0.0.1:9/unused",
        7,
        Some("LOCAL_CA"),
    )
    .await
}

/// The sealed document, downloaded as a caller would once it is archived.
async fn sealed_pdf(service: &RunningService, contract_id: &str) -> Vec<u8> {
    let contract = contract_when_archive_is(&service.client(CALLER), contract_id, "SUCCESS").await;
    download(contract["documentUrl"].as_str().unwrap()).await
}

async fn download(url: &str) -> Vec<u8> {
    reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The sealed document, downloaded as soon as the contract has one (60 s at most).
pub(crate) async fn document_when_sealed(service: &RunningService, contract_id: &str) -> Vec<u8> {
    let caller = service.client(CALLER);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) =
            crate::helpers::json_of(caller.get(&format!("/api/v1/contract/{contract_id}")).await)
                .await;
        if let Some(url) = body["documentUrl"].as_str() {
            return download(url).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never sealed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What one signer's signature in the file says: its certificate and the time its signature
/// timestamp proves, if it has one.
struct MadeSignature {
    certificate: Certificate,
    timestamped_at: Option<DateTime<Utc>>,
}

fn made_signature(service: &RunningService, cms_der: &[u8]) -> MadeSignature {
    let content_info = ::cms::content_info::ContentInfo::from_der(cms_der).unwrap();
    let signed_data: ::cms::signed_data::SignedData = content_info.content.decode_as().unwrap();
    let signer_info = &signed_data.signer_infos.0.as_slice()[0];
    let ::cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(signer) = &signer_info.sid
    else {
        panic!("the signer is named by issuer and serial number");
    };
    // The certificates are a SET OF: DER orders them, so find the signer's by its serial.
    let certificate = signed_data
        .certificates
        .as_ref()
        .unwrap()
        .0
        .iter()
        .find_map(|choice| match choice {
            ::cms::cert::CertificateChoices::Certificate(certificate)
                if certificate.tbs_certificate().serial_number() == &signer.serial_number =>
            {
                Some(certificate.clone())
            }
            _ => None,
        })
        .expect("the signer's certificate is in the signature");
    let token = signer_info.unsigned_attrs.as_ref().and_then(|attributes| {
        attributes
            .iter()
            .find(|attribute| attribute.oid.to_string() == "1.2.840.113549.1.9.16.2.14")
            .map(|attribute| attribute.values.iter().next().unwrap().to_der().unwrap())
    });
    let timestamped_at = token.map(|token| {
        let value = esign::trust::cms::signature_value(cms_der).unwrap();
        let ca = service.state.ca.as_ref().unwrap();
        let verified = esign::trust::tsa::verify_token(
            &token,
            &sha2::Sha256::digest(&value).into(),
            None,
            std::slice::from_ref(ca.root()),
            &[],
        )
        .unwrap();
        DateTime::from_timestamp(
            i64::try_from(verified.gen_time.as_secs()).unwrap(),
            verified.gen_time.subsec_nanos(),
        )
        .unwrap()
    });
    MadeSignature {
        certificate,
        timestamped_at,
    }
}

fn not_before(certificate: &Certificate) -> DateTime<Utc> {
    let seconds = certificate
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration()
        .as_secs();
    DateTime::from_timestamp(i64::try_from(seconds).unwrap(), 0).unwrap()
}

/// The contract's signers in signing order, with when each signed and the revision recorded.
pub(crate) async fn signings(
    service: &RunningService,
    contract_id: &str,
) -> Vec<(DateTime<Utc>, Option<aggregates::contract::SignedRevision>)> {
    let loaded = service
        .state
        .pipeline
        .load::<ContractAggregate>(&esign::store::StreamId::new("contract", contract_id))
        .await
        .unwrap();
    let ContractState::Signed { contract, .. } = &loaded.state else {
        panic!("not signed: {:?}", loaded.state);
    };
    let mut signers: Vec<_> = contract.signers.iter().collect();
    signers.sort_by_key(|signer| signer.sequence);
    signers
        .into_iter()
        .map(|signer| match &signer.status {
            SignerStatus::Signed(signature) => (signature.signed_at, signature.revision.clone()),
            other => panic!("{} has not signed: {other:?}", signer.party_id),
        })
        .collect()
}

/// Each signer's signature in `pdf` (the first signatures, in signing order) was made at their
/// moment: `began[i]` is when the test saw signer `i` start confirming. Its timestamp lies within
/// seconds after their `SignerSigned`, its certificate starts in the second they signed (not earlier
/// than `began[i]`), and each revision builds on the one before.
pub(crate) async fn assert_signed_at_each_moment(
    service: &RunningService,
    contract_id: &str,
    pdf: &[u8],
    began: &[DateTime<Utc>],
) {
    let contents = crate::pades::signature_contents(pdf);
    assert_eq!(
        contents.len(),
        began.len() + 2,
        "each signer, the seal and the document timestamp"
    );
    let signings = signings(service, contract_id).await;
    assert_eq!(signings.len(), began.len());
    for (index, ((signed_at, revision), started)) in signings.iter().zip(began).enumerate() {
        let revision = revision
            .as_ref()
            .expect("the signature's revision is recorded");
        let made = made_signature(service, &contents[index]);
        // The timestamp proves the signer's moment: within seconds of the event, never before it.
        let stamped = made.timestamped_at.expect("a signature timestamp");
        let after = (stamped - *signed_at).num_milliseconds();
        assert!(
            (-1_000..MOMENT_SECONDS * 1_000).contains(&after),
            "signer {index}: timestamp {stamped} is {after} ms after signing at {signed_at}"
        );
        assert_eq!(
            revision.timestamped_at.map(|time| time.timestamp()),
            Some(stamped.timestamp())
        );
        // The certificate was issued then: it starts in the second the signer signed, not earlier
        // than the test saw the signing begin.
        let starts = not_before(&made.certificate);
        assert!(
            starts >= started.trunc_subsecs(0) && starts <= *signed_at,
            "signer {index}: notBefore {starts}, signing began {started}, signed {signed_at}"
        );
        assert_eq!(revision.certificate.not_before, starts);
        if index > 0 {
            let before = signings[index - 1].1.as_ref().unwrap();
            assert_eq!(revision.previous_hash, before.document_hash);
        }
    }

    // pyHanko, validating the file on its own, reads the same moments from each signer's
    // signature timestamp.
    let dir = tempfile::tempdir().unwrap();
    let (root, path) = (dir.path().join("root.pem"), dir.path().join("signed.pdf"));
    let ca = service.state.ca.as_ref().unwrap();
    std::fs::write(&root, ca.root_pem().unwrap()).unwrap();
    std::fs::write(&path, pdf).unwrap();
    if let Some(output) = crate::pades::pyhanko_validate(&root, &path, &["--pretty-print"]) {
        let report = crate::pades::text_of(&output);
        assert!(output.status.success(), "{report}");
        let stamped = pyhanko_timestamp_times(&report);
        for (index, (signed_at, _)) in signings.iter().enumerate() {
            let (field, time) = &stamped[index];
            assert!(field.starts_with("Signer_"), "{field} in {report}");
            // pyHanko prints whole seconds.
            let after = (*time - signed_at.trunc_subsecs(0)).num_seconds();
            assert!(
                (0..MOMENT_SECONDS).contains(&after),
                "{field}: pyHanko's timestamp {time} is {after} s after signing at {signed_at}"
            );
        }
    }
}

/// Each field pyHanko's `--pretty-print` reports with a signature timestamp, in order: its name
/// and the time the timestamp token proves.
fn pyhanko_timestamp_times(report: &str) -> Vec<(String, DateTime<Utc>)> {
    let mut field = String::new();
    let mut times = Vec::new();
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("Field ") {
            field = rest
                .split_once(": ")
                .map(|(_, name)| name.to_owned())
                .unwrap_or_default();
        } else if let Some(time) = line.strip_prefix("Signature timestamp token: ") {
            let time = DateTime::parse_from_rfc3339(time.trim())
                .unwrap_or_else(|error| panic!("{time}: {error}"))
                .with_timezone(&Utc);
            times.push((field.clone(), time));
        }
    }
    times
}

async fn each_signature_is_made_and_timestamped_when_its_signer_signs(t: TestStore) {
    let service = service(&t, |_| {}).await;
    let contract_id = contract(&service, "MOMENTS").await;
    let before_first = Utc::now();
    crate::journey::sign_as(&service.state, &contract_id, "RECEIVER_001").await;
    tokio::time::sleep(BETWEEN_SIGNERS).await;
    let before_second = Utc::now();
    crate::journey::sign_as(&service.state, &contract_id, "PAYER_001").await;
    let pdf = sealed_pdf(&service, &contract_id).await;
    assert_signed_at_each_moment(&service, &contract_id, &pdf, &[before_first, before_second])
        .await;
    let contents = crate::pades::signature_contents(&pdf);
    // The first signature was made before the second signer began, so not at sealing time.
    let first = made_signature(&service, &contents[0])
        .timestamped_at
        .unwrap();
    assert!(
        first < before_second,
        "{first} is not before {before_second}"
    );
    let sealed = verify(
        &service.client(CALLER),
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(sealed["valid"], true, "{sealed}");
}

/// Both signers of the two-signer fixture with the same sequence confirm at the same moment: each
/// signature is made on the document as it stood, one of them on a revision the other had already
/// grown, and that one is made again on the new head. The log's revisions form one chain and the
/// sealed file holds both signatures, valid.
async fn signers_of_one_sequence_who_confirm_at_once_both_sign_into_one_chain(t: TestStore) {
    let service = service(&t, |_| {}).await;
    crate::journey::publish_template(&service.client(ADMIN), "TPL_AT_ONCE").await;
    let mut signers = esign_tools::fixtures::two_signers();
    signers[1]["sequence"] = json!(1);
    let (status, body) = crate::helpers::json_of(
        service
            .client(CALLER)
            .post_json(
                "/api/v1/contract/initiate",
                &json!({
                    "archiveConfig": {"needArchive": true, "archiveProvider": "LOCAL_CA"},
                    "bizId": "REL_AT_ONCE",
                    "bizType": "RELATIONSHIP_AGREEMENT",
                    "templateId": "TPL_AT_ONCE",
                    "title": "天财分账资金归集授权协议",
                    "variables": {"payerName": "XX品牌总部"},
                    "signers": signers,
                    "callbackUrl": "http://127.0.0.1:9/unused",
                    "expireDays": 7
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let contract_id = body["contractId"].as_str().unwrap().to_owned();

    // Each passes their checks; then both confirm at the same moment.
    for party in ["RECEIVER_001", "PAYER_001"] {
        crate::journey::pass_checks(&service.state, &contract_id, party).await;
    }
    tokio::join!(
        crate::journey::confirm(&service.state, &contract_id, "RECEIVER_001"),
        crate::journey::confirm(&service.state, &contract_id, "PAYER_001"),
    );
    let pdf = sealed_pdf(&service, &contract_id).await;
    let signings = signings(&service, &contract_id).await;
    let revisions: Vec<_> = signings
        .iter()
        .map(|(_, revision)| revision.clone().expect("made at the signer's moment"))
        .collect();
    // One chain: one revision builds on the other, whichever came first.
    assert!(
        revisions[0].previous_hash == revisions[1].document_hash
            || revisions[1].previous_hash == revisions[0].document_hash,
        "{revisions:?}"
    );
    assert_eq!(crate::pades::signature_contents(&pdf).len(), 4);
    let verdict = verify(
        &service.client(CALLER),
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["verdict"], "VALID", "{verdict}");
}

async fn a_signer_signs_when_no_timestamp_authority_answers_and_no_time_is_claimed(t: TestStore) {
    let tsa = FlakyTsa::start(usize::MAX).await;
    let target = tsa.target.clone();
    let tsa_url = tsa.url.clone();
    let service = service(&t, move |config| {
        *target.lock().unwrap() = format!("{}/tsa", config.server.public_base_url);
        config.trust.seal_tsa_urls = vec![tsa_url];
        config.trust.tsa_timeout_ms = 2_000;
    })
    .await;
    let contract_id = contract(&service, "NO_TSA").await;
    // Every authority is down: the first signer signs all the same.
    crate::journey::sign_as(&service.state, &contract_id, "RECEIVER_001").await;
    // The authority is back for the second signer and the seal.
    tsa.failures.store(0, Ordering::SeqCst);
    crate::journey::sign_as(&service.state, &contract_id, "PAYER_001").await;
    let pdf = sealed_pdf(&service, &contract_id).await;

    let contents = crate::pades::signature_contents(&pdf);
    let signings = signings(&service, &contract_id).await;
    let untimed = made_signature(&service, &contents[0]);
    assert!(
        untimed.timestamped_at.is_none(),
        "no timestamp in the first signature"
    );
    let first_revision = signings[0].1.as_ref().unwrap();
    assert_eq!(first_revision.timestamped_at, None);
    assert_eq!(first_revision.timestamp_authority, None);
    assert!(
        made_signature(&service, &contents[1])
            .timestamped_at
            .is_some()
    );
    // The document is whole and valid; the later timestamps prove the first signature by then.
    let verdict = verify(
        &service.client(CALLER),
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    let signatures = verdict["signatureInfo"].as_array().unwrap();
    assert_eq!(
        signatures[0]["provenTime"],
        serde_json::Value::Null,
        "the verify API claims no time for the signature made without a timestamp: {verdict}"
    );
    assert!(signatures[1]["provenTime"].is_string(), "{verdict}");
}
