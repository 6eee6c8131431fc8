//! Short links (`shortUrl`): `/s/<code>` redirects to a signer's sign URL, short enough for an SMS.
//!
//! The code is a lookup key, not a credential: 10 random base62 characters (about 59 bits) that lead
//! to the real sign URL, whose 256-bit token is what the signing page checks. The target is stored
//! encrypted, because the token is never stored in clear or in the log.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rusqlite::OptionalExtension;

use crate::pii::PiiCipher;
use crate::store::postgres::{db_error, pool_error};
use crate::store::sqlite::sql_error;
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

/// A new code leading to `target` until `expires_at`.
pub async fn create(
    store: &Store,
    pii: &PiiCipher,
    contract_id: &str,
    party_id: &str,
    target: &str,
    expires_at: DateTime<Utc>,
) -> Result<String, ShortLinkError> {
    let sealed = pii.seal_text(target)?.to_string();
    let now = Utc::now();
    // A collision among 62^10 codes is rare; a few tries make it negligible.
    for _ in 0..5 {
        let code = generate_code();
        let inserted = match store {
            Store::Sqlite(sqlite) => {
                let (code, contract_id, party_id, sealed) = (
                    code.clone(),
                    contract_id.to_owned(),
                    party_id.to_owned(),
                    sealed.clone(),
                );
                let (expires_at, now) = (
                    expires_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                    now.to_rfc3339_opts(SecondsFormat::Micros, true),
                );
                sqlite
                    .write(move |connection| {
                        connection
                            .execute(
                                "INSERT INTO short_links (code, contract_id, party_id, target_sealed, \
                                 expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                                 ON CONFLICT DO NOTHING",
                                rusqlite::params![code, contract_id, party_id, sealed, expires_at, now],
                            )
                            .map_err(sql_error)
                    })
                    .await?
            }
            Store::Postgres(postgres) => {
                let client = postgres.pool().get().await.map_err(pool_error)?;
                let count = client
                    .execute(
                        "INSERT INTO short_links (code, contract_id, party_id, target_sealed, \
                         expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT DO NOTHING",
                        &[&code, &contract_id, &party_id, &sealed, &expires_at, &now],
                    )
                    .await
                    .map_err(db_error)?;
                usize::try_from(count).unwrap_or(0)
            }
        };
        if inserted == 1 {
            return Ok(code);
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
    let row: Option<(String, DateTime<Utc>)> = match store {
        Store::Sqlite(sqlite) => {
            let code = code.to_owned();
            let found: Option<(String, String)> = sqlite
                .read(move |connection| {
                    connection
                        .query_row(
                            "SELECT target_sealed, expires_at FROM short_links WHERE code = ?1",
                            [code],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .optional()
                        .map_err(sql_error)
                })
                .await?;
            match found {
                Some((sealed, expires_at)) => {
                    let expires_at = DateTime::parse_from_rfc3339(&expires_at)
                        .map_err(|e| StoreError::Database(format!("short link expiry: {e}")))?
                        .with_timezone(&Utc);
                    Some((sealed, expires_at))
                }
                None => None,
            }
        }
        Store::Postgres(postgres) => {
            let client = postgres.pool().get().await.map_err(pool_error)?;
            client
                .query_opt(
                    "SELECT target_sealed, expires_at FROM short_links WHERE code = $1",
                    &[&code],
                )
                .await
                .map_err(db_error)?
                .map(|row| (row.get(0), row.get(1)))
        }
    };
    let Some((sealed, expires_at)) = row else {
        return Ok(None);
    };
    let sealed: serde_json::Value = serde_json::from_str(&sealed)
        .map_err(|e| StoreError::Database(format!("short link target: {e}")))?;
    Ok(Some(ShortLink {
        target: pii.open_text(&sealed)?,
        expires_at,
    }))
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
