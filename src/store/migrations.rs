//! Schema migrations: plain SQL files per backend, applied in order, each recorded with its checksum.
//!
//! A migration that was applied and later edited is refused (its checksum no longer matches): applied
//! migrations are history, changes go into a new file.

use sha2::{Digest, Sha256};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

macro_rules! migrations {
    ($backend:literal: $($version:literal => $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $backend, "/", $name, ".sql")),
        }),*]
    };
}

pub const POSTGRES: &[Migration] = migrations!("postgres": 1 => "0001_events", 2 => "0002_query_tables", 3 => "0003_clients_nonces", 4 => "0004_outbox", 5 => "0005_delivery", 6 => "0006_face_providers", 7 => "0007_sms_notices", 8 => "0008_sign_link_lookup", 9 => "0009_short_links", 10 => "0010_merkle_log", 11 => "0011_events_json_text", 12 => "0012_certificate_revocations", 13 => "0013_document_versions", 14 => "0014_sealed_names", 15 => "0015_contract_invitations", 16 => "0016_face_result_archives", 17 => "0017_organizations_seals", 18 => "0018_organization_signers", 19 => "0019_uploaded_documents");
pub const SQLITE: &[Migration] = migrations!("sqlite": 1 => "0001_events", 2 => "0002_query_tables", 3 => "0003_clients_nonces", 4 => "0004_outbox", 5 => "0005_delivery", 6 => "0006_face_providers", 7 => "0007_sms_notices", 8 => "0008_sign_link_lookup", 9 => "0009_short_links", 10 => "0010_merkle_log", 11 => "0011_events_json_text", 12 => "0012_certificate_revocations", 13 => "0013_document_versions", 14 => "0014_sealed_names", 15 => "0015_contract_invitations", 16 => "0016_face_result_archives", 17 => "0017_organizations_seals", 18 => "0018_organization_signers", 19 => "0019_uploaded_documents");

/// A fingerprint of a migration set, used to name databases built from it (test templates).
pub fn fingerprint(migrations: &[Migration]) -> String {
    let mut hasher = Sha256::new();
    for migration in migrations {
        hasher.update(migration.checksum().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Which migrations to apply, given the `(version, checksum)` pairs already recorded.
pub fn pending<'a>(
    migrations: &'a [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<&'a Migration>, String> {
    for (version, checksum) in applied {
        match migrations.iter().find(|m| m.version == *version) {
            Some(migration) if migration.checksum() == *checksum => {}
            Some(migration) => {
                return Err(format!(
                    "migration {} ({}) was changed after it was applied",
                    migration.version, migration.name
                ));
            }
            None => {
                return Err(format!(
                    "the database has migration {version}, which this build does not know: \
                     it was migrated by a newer esign"
                ));
            }
        }
    }
    Ok(migrations
        .iter()
        .filter(|m| !applied.iter().any(|(version, _)| *version == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing_in_both_backends() {
        for set in [POSTGRES, SQLITE] {
            assert!(set.windows(2).all(|pair| pair[0].version < pair[1].version));
        }
        assert_eq!(POSTGRES.len(), SQLITE.len());
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let applied = vec![(1, "not the checksum".to_owned())];
        assert!(pending(POSTGRES, &applied).is_err());
    }

    #[test]
    fn applied_migrations_are_skipped() {
        let applied: Vec<_> = POSTGRES.iter().map(|m| (m.version, m.checksum())).collect();
        assert!(pending(POSTGRES, &applied).unwrap().is_empty());
        let first_only = vec![(1, POSTGRES[0].checksum())];
        assert_eq!(
            pending(POSTGRES, &first_only).unwrap().len(),
            POSTGRES.len() - 1
        );
        assert_eq!(pending(POSTGRES, &[]).unwrap().len(), POSTGRES.len());
    }
}
