//! Short links (`shortUrl`): `/s/<code>` redirects to a signer's sign URL, short enough for an SMS.
//!
//! The code is a lookup key, not a credential: 10 random base62 characters (about 59 bits) that lead
//! to the real sign URL, whose 256-bit token is what the signing page checks. The target is stored
//! encrypted, because the token is never stored in clear or in the log. The code itself is stored
//! only as its keyed hash ([`code_key`]): whoever reads the table (or a database log of its
//! parameters) could otherwise follow the code to the token while the link lives.

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::pii::PiiCipher;
use crate::store::commands::Attached;
use crate::store::short_links::ShortLinkRow;
use crate::store::{Store, StoreError};

pub const CODE_LENGTH: usize = 10;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, thiserror::Error)]
pub enum ShortLinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("personal data: {0}")]
    Pii(#[from] crate::pii::PiiError),
    #[error("no free short code after several tries")]
    Exhausted,
}

/// Where a code leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortLink {
    pub target: String,
    pub expires_at: DateTime<Utc>,
}

/// What the `code` column holds for `code`: its keyed hash (the personal-data index key), so a copy
/// of the table cannot be turned back into working links.
pub fn code_key(pii: &PiiCipher, code: &str) -> String {
    pii.blind_index(&format!("short-link:{code}"))
}

fn generate_code() -> String {
    let mut random = rand::rng();
    (0..CODE_LENGTH)
        .map(|_| char::from(ALPHABET[random.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Whether `code` could be one of ours (checked before any look-up).
pub fn is_well_formed(code: &str) -> bool {
    code.len() == CODE_LENGTH && code.bytes().all(|byte| ALPHABET.contains(&byte))
}

/// One signer's short link, before it is stored.
#[derive(Debug, Clone)]
pub struct NewShortLink {
    /// The code for the URL; only [`code_key`] of it is stored.
    pub code: String,
    pub row: ShortLinkRow,
}

impl NewShortLink {
    /// A fresh code leading to `target` (sealed) until `expires_at`.
    pub fn new(
        pii: &PiiCipher,
        contract_id: &str,
        party_id: &str,
        target: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, ShortLinkError> {
        let code = generate_code();
        Ok(Self {
            row: ShortLinkRow {
                code_key: code_key(pii, &code),
                contract_id: contract_id.to_owned(),
                party_id: party_id.to_owned(),
                target_sealed: pii.seal_text(target)?.to_string(),
                expires_at,
                created_at: Utc::now(),
            },
            code,
        })
    }

    pub fn party_id(&self) -> &str {
        &self.row.party_id
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
}

/// Links written in the transaction of the command that issued their sign links.
pub fn attached(links: &[NewShortLink]) -> Attached {
    Attached::ShortLinks(links.iter().map(|link| link.row.clone()).collect())
}

/// A new code leading to `target` until `expires_at`, stored at once (for a link issued again on
/// its own; initiate writes its links with the contract, see [`attached`]).
pub async fn create(
    store: &Store,
    pii: &PiiCipher,
    contract_id: &str,
    party_id: &str,
    target: &str,
    expires_at: DateTime<Utc>,
) -> Result<String, ShortLinkError> {
    // A collision among 62^10 codes is rare; a few tries make it negligible.
    for _ in 0..5 {
        let link = NewShortLink::new(pii, contract_id, party_id, target, expires_at)?;
        if store.short_links().insert(&link.row).await? {
            return Ok(link.code);
        }
    }
    Err(ShortLinkError::Exhausted)
}

/// Where `code` leads, if it exists.
pub async fn resolve(
    store: &Store,
    pii: &PiiCipher,
    code: &str,
) -> Result<Option<ShortLink>, ShortLinkError> {
    if !is_well_formed(code) {
        return Ok(None);
    }
    // Links issued before codes were stored hashed hold the code itself; they live a day at most.
    let links = store.short_links();
    let row = match links.find(&code_key(pii, code)).await? {
        Some(row) => Some(row),
        None => links.find(code).await?,
    };
    let Some((sealed, expires_at)) = row else {
        return Ok(None);
    };
    Ok(Some(ShortLink {
        target: open_target(pii, &sealed)?,
        expires_at,
    }))
}

fn open_target(pii: &PiiCipher, sealed: &str) -> Result<String, ShortLinkError> {
    let sealed: serde_json::Value = serde_json::from_str(sealed)
        .map_err(|e| StoreError::Database(format!("short link target: {e}")))?;
    Ok(pii.open_text(&sealed)?)
}

/// The sign URL of the signer's live link whose token hashes to `token_hash`, from the signer's
/// stored short links (the token itself is kept nowhere else): what a text sent later carries. `None`
/// when no stored short link leads there (the table is not rebuilt from the log).
pub async fn signer_target(
    store: &Store,
    pii: &PiiCipher,
    contract_id: &str,
    party_id: &str,
    token_hash: &aggregates::values::Digest,
    now: DateTime<Utc>,
) -> Result<Option<String>, ShortLinkError> {
    use sha2::{Digest as _, Sha256};
    for (sealed, _) in store
        .short_links()
        .of_signer(contract_id, party_id, now)
        .await?
    {
        let target = open_target(pii, &sealed)?;
        let Some((_, token)) = target.rsplit_once("token=") else {
            continue;
        };
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        if aggregates::values::Digest::parse(&hash).is_ok_and(|hash| hash.matches(token_hash)) {
            return Ok(Some(target));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_base62_characters_and_vary() {
        let codes: std::collections::HashSet<String> = (0..1000).map(|_| generate_code()).collect();
        assert_eq!(codes.len(), 1000);
        assert!(codes.iter().all(|code| is_well_formed(code)));
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed("0123456789/"));
        assert!(!is_well_formed("012345678-"));
    }
}
