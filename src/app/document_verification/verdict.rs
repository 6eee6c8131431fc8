//! The one-word verdict on a checked document, decided from the answer's own findings, so the API
//! and the public page tell the same truth: `VALID` only when every check passed for the file that
//! was checked.

use serde::Serialize;

use super::Verification;

/// What checking a document concluded, most specific failure first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The file is the sealed document, every signature and timestamp is valid, the event chain
    /// holds, the first revision is what the events render to, and the archive evidence verifies.
    Valid,
    /// The contract has no sealed document yet: there is nothing to check.
    NotSealed,
    /// A signature in the file does not validate, or bytes were added after the last one: the file
    /// was changed after signing (or was never signed properly).
    Tampered,
    /// The file is not the document sealed for the contract (its SHA-256 differs), or no contract
    /// of the caller was sealed with it.
    FileMismatch,
    /// The file is the sealed one, but the contract's record does not hold: the event chain is
    /// broken, the content is not what the events render to, or archive evidence fails.
    RecordBroken,
    /// Not valid for another reason (see `problems`).
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::NotSealed => "NOT_SEALED",
            Self::Tampered => "TAMPERED",
            Self::FileMismatch => "FILE_MISMATCH",
            Self::RecordBroken => "RECORD_BROKEN",
            Self::Invalid => "INVALID",
        }
    }
}

/// The verdict on `answer`, from its findings. `VALID` needs `answer.valid` and every finding
/// that makes it: a checked file whose hash is the sealed one, valid signatures and an intact
/// chain. A file whose signatures are broken reads as tampered even when its hash also differs
/// (the stronger statement); a file without any signature that is not the sealed one reads as
/// another document.
pub fn decide(answer: &Verification) -> Verdict {
    let signatures_broken = answer.signatures_valid == Some(false);
    let has_signatures = !answer.signature_info.is_empty();
    let hash_matches = answer.hash_matches_sealed == Some(true);
    let archive_failed = answer.archive_info["records"]
        .as_array()
        .is_some_and(|records| records.iter().any(|record| record["verified"] == false));
    if answer.valid
        && hash_matches
        && answer.signatures_valid == Some(true)
        && answer.chain_intact == Some(true)
        && answer.content_matches_events != Some(false)
        && !archive_failed
    {
        return Verdict::Valid;
    }
    if answer.document_hash.is_none() && answer.signatures_valid.is_none() {
        return if answer.contract_id.is_some() {
            Verdict::NotSealed
        } else {
            Verdict::Invalid
        };
    }
    if signatures_broken && has_signatures {
        return Verdict::Tampered;
    }
    if !hash_matches {
        return Verdict::FileMismatch;
    }
    if signatures_broken {
        return Verdict::Tampered;
    }
    if answer.chain_intact == Some(false)
        || answer.content_matches_events == Some(false)
        || archive_failed
    {
        return Verdict::RecordBroken;
    }
    Verdict::Invalid
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::signatures::{SignatureFacts, SignatureRole};
    use super::*;

    fn signature(valid: bool) -> SignatureFacts {
        SignatureFacts {
            signer: Some("张三".into()),
            sign_time: None,
            certificate_issuer: None,
            certificate_serial: None,
            valid_from: None,
            valid_to: None,
            field: Some("Signer_A".into()),
            valid,
            covers_whole_document: true,
            timestamp_authority: None,
            timestamp_time: None,
            problems: Vec::new(),
            index: 1,
            kind: SignatureRole::SignerSignature,
            signed_by: Some("张三".into()),
            proven_time: None,
            claimed_time: None,
            certificate_subject: None,
            certificate_issuer_name: None,
            invalid_reason: None,
            ltv_data_present: false,
        }
    }

    /// The answer for the sealed document of a contract, every check passed.
    fn valid() -> Verification {
        let mut answer = Verification::refused(Some("CONTRACT_1".into()), "unused");
        answer.valid = true;
        answer.reason = None;
        answer.problems.clear();
        answer.document_hash = Some(format!("sha256:{}", "a".repeat(64)));
        answer.sealed_document_hash = answer.document_hash.clone();
        answer.hash_matches_sealed = Some(true);
        answer.signatures_valid = Some(true);
        answer.chain_intact = Some(true);
        answer.content_matches_events = Some(true);
        answer.signature_info = vec![signature(true), signature(true)];
        answer.archive_info = json!({"archived": true, "records": [{"verified": true}]});
        answer
    }

    /// `answer` as `check` leaves it: not valid once a finding fails.
    fn failed(mut answer: Verification) -> Verification {
        answer.valid = false;
        answer.problems = vec!["a check failed".into()];
        answer
    }

    #[test]
    fn every_check_passed_is_valid() {
        assert_eq!(decide(&valid()), Verdict::Valid);
        let mut unknown_content = valid();
        unknown_content.content_matches_events = None;
        assert_eq!(
            decide(&unknown_content),
            Verdict::Valid,
            "a document sealed before the content hash was kept"
        );
    }

    #[test]
    fn valid_is_never_said_without_the_findings_that_make_it() {
        let mut claimed = valid();
        claimed.hash_matches_sealed = Some(false);
        assert_eq!(decide(&claimed), Verdict::FileMismatch);
        let mut claimed = valid();
        claimed.signatures_valid = None;
        assert_ne!(decide(&claimed), Verdict::Valid);
        let mut claimed = valid();
        claimed.chain_intact = None;
        assert_eq!(decide(&claimed), Verdict::Invalid);
        let mut claimed = valid();
        claimed.valid = false;
        assert_eq!(decide(&claimed), Verdict::Invalid);
    }

    #[test]
    fn a_file_that_is_not_the_sealed_one_is_a_mismatch() {
        let mut other = failed(valid());
        other.document_hash = Some(format!("sha256:{}", "b".repeat(64)));
        other.hash_matches_sealed = Some(false);
        assert_eq!(decide(&other), Verdict::FileMismatch);
        // A file no contract of the caller was sealed with (no signatures in it at all).
        let mut foreign = failed(valid());
        foreign.contract_id = None;
        foreign.hash_matches_sealed = None;
        foreign.signatures_valid = Some(false);
        foreign.signature_info.clear();
        assert_eq!(decide(&foreign), Verdict::FileMismatch);
    }

    #[test]
    fn a_changed_byte_is_tampering_even_though_the_hash_differs_too() {
        let mut tampered = failed(valid());
        tampered.hash_matches_sealed = Some(false);
        tampered.signatures_valid = Some(false);
        tampered.signature_info = vec![signature(false), signature(true)];
        assert_eq!(decide(&tampered), Verdict::Tampered);
        let mut stored = failed(valid());
        stored.signatures_valid = Some(false);
        assert_eq!(
            decide(&stored),
            Verdict::Tampered,
            "the stored file itself does not validate"
        );
    }

    #[test]
    fn a_broken_record_is_not_valid_even_for_the_sealed_file() {
        let mut chain = failed(valid());
        chain.chain_intact = Some(false);
        assert_eq!(decide(&chain), Verdict::RecordBroken);
        let mut content = failed(valid());
        content.content_matches_events = Some(false);
        assert_eq!(decide(&content), Verdict::RecordBroken);
        let mut archive = failed(valid());
        archive.archive_info = json!({"archived": false, "records": [{"verified": false}]});
        assert_eq!(decide(&archive), Verdict::RecordBroken);
    }

    #[test]
    fn a_contract_without_a_sealed_document_is_not_sealed() {
        let pending = Verification::refused(Some("CONTRACT_1".into()), "being sealed");
        assert_eq!(decide(&pending), Verdict::NotSealed);
        assert_eq!(
            decide(&Verification::refused(None, "nothing")),
            Verdict::Invalid
        );
        assert_eq!(Verdict::NotSealed.as_str(), "NOT_SEALED");
        assert_eq!(
            serde_json::to_value(Verdict::FileMismatch).unwrap(),
            "FILE_MISMATCH"
        );
    }
}
