//! Where signature timestamps come from: remote RFC 3161 services through
//! `providers::tsa::Client` (several URLs with fallback), or esign's own TSA in-process through
//! [`LocalTimestamper`]. Either way the caller gets a token that passed the same checks.

use std::sync::Arc;

use async_trait::async_trait;

use super::tsa::{self, ClientError, Timestamp, TsaSigner};

/// Gets a verified RFC 3161 token for a SHA-256 digest.
#[async_trait]
pub trait Timestamper: Send + Sync + std::fmt::Debug {
    /// A token whose message imprint is `digest` (SHA-256), verified: signature, imprint, nonce,
    /// the TSA certificate's usage and its chain to a trust anchor.
    async fn timestamp(&self, digest: &[u8; 32]) -> Result<Timestamp, ClientError>;
}

/// The `url` of timestamps from [`LocalTimestamper`].
pub const LOCAL: &str = "local";

/// esign's own TSA, asked in-process: a request with a random nonce goes through
/// [`TsaSigner::respond`] exactly as it would through `POST /tsa`, and the answer is checked as the
/// HTTP client checks a remote one, against the CA's own root.
#[derive(Debug, Clone)]
pub struct LocalTimestamper {
    signer: Arc<TsaSigner>,
}

impl LocalTimestamper {
    pub fn new(signer: Arc<TsaSigner>) -> Self {
        Self { signer }
    }
}

#[async_trait]
impl Timestamper for LocalTimestamper {
    async fn timestamp(&self, digest: &[u8; 32]) -> Result<Timestamp, ClientError> {
        let nonce = tsa::random_nonce()?;
        let request =
            tsa::request_der(digest, nonce).map_err(|e| ClientError::Setup(e.to_string()))?;
        let (response, _) = self.signer.respond(&request, chrono::Utc::now());
        let ca = self.signer.ca();
        tsa::accept_response(
            LOCAL,
            &response,
            digest,
            nonce,
            std::slice::from_ref(ca.root()),
            std::slice::from_ref(ca.intermediate()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ca::NewCa;

    fn local() -> (Arc<crate::trust::Ca>, LocalTimestamper) {
        let ca = Arc::new(NewCa::generate("esign", chrono::Utc::now()).unwrap().ca);
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let signer = Arc::new(ca.tsa_signer(policy));
        (ca, LocalTimestamper::new(signer))
    }

    #[tokio::test]
    async fn the_local_timestamper_returns_a_token_for_the_digest_that_verifies() {
        let (ca, timestamper) = local();
        let digest = crate::trust::sha256(b"a signature value");
        let timestamper: &dyn Timestamper = &timestamper;
        let timestamp = timestamper.timestamp(&digest).await.unwrap();
        assert_eq!(timestamp.url, LOCAL);
        let verified =
            tsa::verify_token(&timestamp.token, &digest, None, &[ca.root().clone()], &[]).unwrap();
        assert_eq!(verified.tsa_certificate, ca.tsa().certificate);
        assert_eq!(verified.gen_time, timestamp.gen_time);
        let now = crate::trust::unix_seconds(chrono::Utc::now()).unwrap();
        assert!(now.abs_diff(timestamp.gen_time).as_secs() < 5);
        let other = crate::trust::sha256(b"another value");
        assert!(
            tsa::verify_token(&timestamp.token, &other, None, &[ca.root().clone()], &[]).is_err()
        );
    }

    #[test]
    fn local_answers_get_the_client_checks_refusals_and_mismatches_included() {
        let (ca, timestamper) = local();
        let roots = [ca.root().clone()];
        let digest = crate::trust::sha256(b"a signature value");
        let (granted, _) = timestamper
            .signer
            .respond(&tsa::request_der(&digest, 7).unwrap(), chrono::Utc::now());
        tsa::accept_response(LOCAL, &granted, &digest, 7, &roots, &[]).unwrap();
        for (digest, nonce) in [([0; 32], 7), (digest, 8)] {
            let refused = tsa::accept_response(LOCAL, &granted, &digest, nonce, &roots, &[]);
            assert!(
                matches!(refused, Err(ClientError::InvalidResponse { .. })),
                "{refused:?}"
            );
        }
        let (rejection, _) = timestamper
            .signer
            .respond(b"not a request", chrono::Utc::now());
        let refused = tsa::accept_response(LOCAL, &rejection, &digest, 7, &roots, &[]);
        assert!(
            matches!(refused, Err(ClientError::Rejected { ref url, status: 2, .. }) if url == LOCAL),
            "{refused:?}"
        );
    }
}
