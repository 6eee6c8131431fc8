//! Short links (`shortUrl`): `/s/<code>` redirects to a signer's sign URL, short enough for an SMS.
//!
//! The code is a lookup key, not a credential: 10 random base62 characters (about 59 bits) that lead
//! to the real sign URL, whose 256-bit token is what the signing page checks. The target is stored
//! encrypted, because the token is never stored in clear or in the log. The code itself is stored
//! only as its keyed hash ([`code_key`]): whoever reads the table (or a database log of its
//! parameters) could otherwise follow the code to the token while the link lives.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rusqlite::OptionalExtension;

use crate::app::pipeline::AttachedWrite;
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
    code_key: String,
    pub contract_id: String,
    pub party_id: String,
    target_sealed: String,
    pub expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
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
            code_key: code_key(pii, &code),
            code,
            contract_id: contract_id.to_owned(),
            party_id: party_id.to_owned(),
            target_sealed: pii.seal_text(target)?.to_string(),
            expires_at,
            created_at: Utc::now(),
        })
    }
}

/// Short links written in the transaction of the command that issued their sign links (see
/// [`AttachedWrite`]). A code already taken fails that command: with 62^10 codes this is vanishingly
/// rare, and the caller may simply retry.
#[derive(Debug, Clone, Default)]
pub struct NewShortLinks(pub Vec<NewShortLink>);

impl NewShortLinks {
    /// Inserts the links whose codes are free; returns how many were inserted.
    fn insert_sqlite(&self, connection: &rusqlite::Connection) -> Result<usize, StoreError> {
        let mut statement = connection
            .prepare_cached(
                "INSERT INTO short_links (code, contract_id, party_id, target_sealed, expires_at, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )
            .map_err(sql_error)?;
        let mut inserted = 0;
        for link in &self.0 {
            inserted += statement
                .execute(rusqlite::params![
                    link.code_key,
                    link.contract_id,
                    link.party_id,
                    link.target_sealed,
                    link.expires_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                    link.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                ])
                .map_err(sql_error)?;
        }
        Ok(inserted)
    }

    /// The same in one statement for every link: a round trip per command, not per signer.
    async fn insert_postgres<C: deadpool_postgres::GenericClient + Sync>(
        &self,
        client: &C,
    ) -> Result<usize, StoreError> {
        let codes: Vec<&str> = self.0.iter().map(|l| l.code_key.as_str()).collect();
        let contracts: Vec<&str> = self.0.iter().map(|l| l.contract_id.as_str()).collect();
        let parties: Vec<&str> = self.0.iter().map(|l| l.party_id.as_str()).collect();
        let targets: Vec<&str> = self.0.iter().map(|l| l.target_sealed.as_str()).collect();
        let expiries: Vec<DateTime<Utc>> = self.0.iter().map(|l| l.expires_at).collect();
        let created: Vec<DateTime<Utc>> = self.0.iter().map(|l| l.created_at).collect();
        let statement = client
            .prepare_cached(
                "INSERT INTO short_links (code, contract_id, party_id, target_sealed, expires_at, \
                 created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
                 $5::timestamptz[], $6::timestamptz[]) ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(db_error)?;
        let inserted = client
            .execute(
                &statement,
                &[&codes, &contracts, &parties, &targets, &expiries, &created],
            )
            .await
            .map_err(db_error)?;
        Ok(usize::try_from(inserted).unwrap_or(0))
    }

    fn all_inserted(&self, inserted: usize) -> Result<(), StoreError> {
        if inserted == self.0.len() {
            Ok(())
        } else {
            Err(StoreError::Database(
                "a new short code is already taken; try again".to_owned(),
            ))
        }
    }
}

#[async_trait::async_trait]
impl AttachedWrite for NewShortLinks {
    fn write_sqlite(&self, connection: &rusqlite::Connection) -> Result<(), StoreError> {
        self.all_inserted(self.insert_sqlite(connection)?)
    }

    async fn write_postgres(
        &self,
        transaction: &deadpool_postgres::Transaction<'_>,
    ) -> Result<(), StoreError> {
        self.all_inserted(self.insert_postgres(transaction).await?)
    }
}

/// A new code leading to `target` until `expires_at`, stored at once (for a link issued again on
/// its own; initiate writes its links with the contract, see [`NewShortLinks`]).
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
        let code = link.code.clone();
        let links = NewShortLinks(vec![link]);
        let inserted = match store {
            Store::Sqlite(sqlite) => {
                sqlite
                    .write(move |connection| links.insert_sqlite(connection))
                    .await?
            }
            Store::Postgres(postgres) => {
                let client = postgres.pool().get().await.map_err(pool_error)?;
                links.insert_postgres(&client).await?
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
    // Links issued before codes were stored hashed hold the code itself; they live a day at most.
    let row = match find(store, &code_key(pii, code)).await? {
        Some(row) => Some(row),
        None => find(store, code).await?,
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

/// The sealed target and expiry of the row whose `code` column is `key`.
async fn find(store: &Store, code: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
    Ok(match store {
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
    })
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
