//! API clients: who may call `/api/v1/**`, with which secret, from where, and whether as an admin.
//!
//! Clients come from two places: the configuration file (`[[clients]]`) and the `api_clients` table,
//! filled by `esign clients add`. A stored secret is sealed with the personal-data cipher (AES-256-GCM):
//! verifying an HMAC needs the secret itself, so it cannot be hashed. Look-ups go to the database every
//! time, so a client added on the command line can sign its next request to a running service.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Serialize;

use super::{Store, StoreError};
use crate::pii::{PiiCipher, PiiError};

/// One `[[clients]]` entry of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    pub secret: String,
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    #[serde(default)]
    pub admin: bool,
}

/// Refuses configured clients without an id or a long enough secret, or listed twice.
pub fn check_configured(clients: &[ClientConfig]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for client in clients {
        if client.id.trim().is_empty() || client.secret.len() < 16 {
            return Err(format!(
                "client {:?}: an id and a secret of at least 16 characters are required",
                client.id
            ));
        }
        if !seen.insert(&client.id) {
            return Err(format!("client {:?} is listed twice", client.id));
        }
    }
    Ok(())
}

/// Random bytes in a generated secret.
const SECRET_BYTES: usize = 32;
const MAX_ID_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0:?} is not a valid client id: use 1-{MAX_ID_LEN} characters of A-Z a-z 0-9 . _ -")]
    InvalidId(String),
    #[error("{0:?} is neither a CIDR range (10.0.0.0/8, 2001:db8::/32) nor an IP address")]
    InvalidCidr(String),
    #[error("a client with id {0:?} already exists")]
    Duplicate(String),
    #[error("the stored client {id:?} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("client secret encryption: {0}")]
    Cipher(#[from] PiiError),
    #[error("cannot generate a secret: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a client is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientSource {
    Config,
    Database,
}

/// A client able to sign requests. Its secret never appears in `Debug` output.
#[derive(Clone)]
pub struct ApiClient {
    pub id: String,
    secret: Vec<u8>,
    /// Empty: any address.
    pub allowed_ips: Vec<IpNet>,
    pub admin: bool,
    pub source: ClientSource,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("id", &self.id)
            .field("allowed_ips", &self.allowed_ips)
            .field("admin", &self.admin)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// The HMAC key: the bytes of the secret exactly as it was issued or configured.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Whether a request from `ip` may use this client. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, as
    /// a dual-stack listener reports them) are compared as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|net| net.contains(&ip))
    }
}

/// What `esign clients add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub id: String,
    pub admin: bool,
    /// CIDR ranges or single addresses; empty allows any address.
    pub allowed_ips: Vec<String>,
}

/// A client just stored, with the only copy of its secret that will ever be shown.
#[derive(Clone)]
pub struct IssuedClient {
    pub id: String,
    /// Base64url (no padding) of 32 random bytes. The HMAC key is this text's bytes, as printed.
    pub secret: String,
    pub admin: bool,
    pub allowed_ips: Vec<IpNet>,
}

impl fmt::Debug for IssuedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedClient")
            .field("id", &self.id)
            .field("admin", &self.admin)
            .field("allowed_ips", &self.allowed_ips)
            .finish_non_exhaustive()
    }
}

/// One line of `esign clients list`: everything but the secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSummary {
    pub id: String,
    pub admin: bool,
    pub allowed_ips: Vec<String>,
    pub source: ClientSource,
    pub created_at: Option<DateTime<Utc>>,
}

/// Every client: the configured ones in memory, the stored ones read on each look-up.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    configured: Arc<BTreeMap<String, ApiClient>>,
    store: Store,
    cipher: Arc<PiiCipher>,
}

impl ClientRegistry {
    /// Checks the configured clients' address ranges and keeps them beside the store.
    pub fn new(
        configured: &[ClientConfig],
        store: Store,
        cipher: Arc<PiiCipher>,
    ) -> Result<Self, ClientError> {
        let mut clients = BTreeMap::new();
        for client in configured {
            let allowed_ips = parse_ranges(&client.allowed_ips)?;
            clients.insert(
                client.id.clone(),
                ApiClient {
                    id: client.id.clone(),
                    secret: client.secret.as_bytes().to_vec(),
                    allowed_ips,
                    admin: client.admin,
                    source: ClientSource::Config,
                },
            );
        }
        Ok(Self {
            configured: Arc::new(clients),
            store,
            cipher,
        })
    }

    /// The client with this id; a configured client wins over a stored one of the same id.
    pub async fn find(&self, id: &str) -> Result<Option<ApiClient>, ClientError> {
        if let Some(client) = self.configured.get(id) {
            return Ok(Some(client.clone()));
        }
        match self.load(Some(id.to_owned())).await?.pop() {
            Some(row) => self.decode(row).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a new client with a fresh random secret, refusing an id already in use here or in the
    /// configuration. The returned secret is the only copy in clear.
    pub async fn add(&self, new: NewClient) -> Result<IssuedClient, ClientError> {
        validate_id(&new.id)?;
        let allowed_ips = parse_ranges(&new.allowed_ips)?;
        if self.configured.contains_key(&new.id) {
            return Err(ClientError::Duplicate(new.id));
        }
        let mut raw = [0u8; SECRET_BYTES];
        getrandom::fill(&mut raw).map_err(|e| ClientError::Random(e.to_string()))?;
        let secret = URL_SAFE_NO_PAD.encode(raw);
        let sealed = self.cipher.seal_text(&secret)?.to_string();
        let ranges = serde_json::Value::from(
            allowed_ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .to_string();
        let inserted = self
            .store
            .write_one(
                "INSERT INTO api_clients (client_id, secret_sealed, allowed_ips, admin, created_at) \
                 VALUES ({1}, {2}, {3}, {4}, {5}) ON CONFLICT DO NOTHING",
                vec![
                    new.id.as_str().into(),
                    sealed.into(),
                    ranges.into(),
                    new.admin.into(),
                    Utc::now().into(),
                ],
            )
            .await?
            .count;
        if inserted != 1 {
            return Err(ClientError::Duplicate(new.id));
        }
        Ok(IssuedClient {
            id: new.id,
            secret,
            admin: new.admin,
            allowed_ips,
        })
    }

    /// Every client, configured and stored, by id; never a secret.
    pub async fn list(&self) -> Result<Vec<ClientSummary>, ClientError> {
        let mut clients: BTreeMap<String, ClientSummary> = self
            .load(None)
            .await?
            .into_iter()
            .map(|row| {
                let summary = ClientSummary {
                    id: row.id.clone(),
                    admin: row.admin,
                    allowed_ips: parse_stored_ranges(&row)?
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    source: ClientSource::Database,
                    created_at: Some(row.created_at),
                };
                Ok((row.id, summary))
            })
            .collect::<Result<_, ClientError>>()?;
        for client in self.configured.values() {
            clients.insert(
                client.id.clone(),
                ClientSummary {
                    id: client.id.clone(),
                    admin: client.admin,
                    allowed_ips: client.allowed_ips.iter().map(ToString::to_string).collect(),
                    source: ClientSource::Config,
                    created_at: None,
                },
            );
        }
        Ok(clients.into_values().collect())
    }

    /// Stored rows: the one with `id`, or all of them.
    async fn load(&self, id: Option<String>) -> Result<Vec<StoredClient>, ClientError> {
        const SELECT: &str =
            "SELECT client_id, secret_sealed, allowed_ips, admin, created_at FROM api_clients";
        let rows = match id {
            Some(id) => {
                self.store
                    .query(format!("{SELECT} WHERE client_id = {{1}}"), vec![id.into()])
                    .await?
            }
            None => {
                self.store
                    .query(format!("{SELECT} ORDER BY client_id"), Vec::new())
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                let id = row.text(0)?;
                let corrupt = |reason: StoreError| ClientError::Corrupt {
                    id: id.clone(),
                    reason: reason.to_string(),
                };
                Ok(StoredClient {
                    secret_sealed: row.text(1).map_err(corrupt)?,
                    allowed_ips: row.text(2).map_err(corrupt)?,
                    admin: row.boolean(3).map_err(corrupt)?,
                    created_at: row.time(4).map_err(corrupt)?,
                    id,
                })
            })
            .collect()
    }

    fn decode(&self, row: StoredClient) -> Result<ApiClient, ClientError> {
        let allowed_ips = parse_stored_ranges(&row)?;
        let corrupt = |reason: String| ClientError::Corrupt {
            id: row.id.clone(),
            reason,
        };
        let sealed: serde_json::Value = serde_json::from_str(&row.secret_sealed)
            .map_err(|e| corrupt(format!("secret_sealed: {e}")))?;
        let secret = self.cipher.open_text(&sealed)?;
        Ok(ApiClient {
            id: row.id,
            secret: secret.into_bytes(),
            allowed_ips,
            admin: row.admin,
            source: ClientSource::Database,
        })
    }
}

/// A row of `api_clients`.
struct StoredClient {
    id: String,
    secret_sealed: String,
    allowed_ips: String,
    admin: bool,
    created_at: DateTime<Utc>,
}

fn parse_stored_ranges(row: &StoredClient) -> Result<Vec<IpNet>, ClientError> {
    let ranges: Vec<String> =
        serde_json::from_str(&row.allowed_ips).map_err(|e| ClientError::Corrupt {
            id: row.id.clone(),
            reason: format!("allowed_ips: {e}"),
        })?;
    parse_ranges(&ranges)
}

/// Parses CIDR ranges; a bare address means just that address. Host bits are cleared
/// (`10.1.2.3/8` -> `10.0.0.0/8`) so what is stored and listed is what is enforced.
pub fn parse_ranges(ranges: &[String]) -> Result<Vec<IpNet>, ClientError> {
    ranges
        .iter()
        .map(|range| {
            let text = range.trim();
            IpNet::from_str(text)
                .map(|net| net.trunc())
                .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                .map_err(|_| ClientError::InvalidCidr(range.clone()))
        })
        .collect()
}

fn validate_id(id: &str) -> Result<(), ClientError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ClientError::InvalidId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ranges: &[&str]) -> ApiClient {
        ApiClient {
            id: "c".into(),
            secret: b"s".to_vec(),
            allowed_ips: parse_ranges(&ranges.iter().map(|r| r.to_string()).collect::<Vec<_>>())
                .unwrap(),
            admin: false,
            source: ClientSource::Config,
        }
    }

    #[test]
    fn an_empty_allow_list_admits_every_address() {
        assert!(client(&[]).allows("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn the_allow_list_matches_ranges_single_addresses_and_mapped_ipv4() {
        let client = client(&["10.1.2.3/8", "192.0.2.7", "2001:db8::/32"]);
        assert!(client.allows("10.200.0.1".parse().unwrap()));
        assert!(client.allows("192.0.2.7".parse().unwrap()));
        assert!(client.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(client.allows("2001:db8::1".parse().unwrap()));
        assert!(!client.allows("192.0.2.8".parse().unwrap()));
        assert!(!client.allows("11.0.0.1".parse().unwrap()));
        assert_eq!(client.allowed_ips[0].to_string(), "10.0.0.0/8");
    }

    #[test]
    fn a_malformed_range_is_refused() {
        assert!(matches!(
            parse_ranges(&["10.0.0.0/33".to_owned()]),
            Err(ClientError::InvalidCidr(_))
        ));
        assert!(matches!(
            parse_ranges(&["intranet".to_owned()]),
            Err(ClientError::InvalidCidr(_))
        ));
    }

    #[test]
    fn client_ids_are_plain_tokens() {
        assert!(validate_id("erp-prod_01.cn").is_ok());
        for bad in ["", "has space", "中文", &"x".repeat(65)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let issued = IssuedClient {
            id: "c".into(),
            secret: "very-secret-value".into(),
            admin: false,
            allowed_ips: vec![],
        };
        assert!(!format!("{issued:?}").contains("very-secret-value"));
        let mut api = client(&[]);
        api.secret = b"very-secret-value".to_vec();
        assert!(!format!("{api:?}").contains("very-secret"));
    }
}
