//! The query tables (spec 3.1 plus our additions) and backend-neutral row values.
//!
//! Column lists here are the contract with the migrations (`migrations/*/0002_query_tables.sql` and
//! the later ones that add, recreate or create tables): same names, same order (a test replays the
//! migration files and compares).

use chrono::{DateTime, SubsecRound, Utc};

/// One column value, independent of the database backend.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SqlValue {
    Null,
    Text(String),
    Integer(i64),
    /// An exact decimal in text form, e.g. `"0.9500"` for `numeric(5,4)`.
    Decimal(String),
    Bool(bool),
    /// Always whole microseconds (see [`SqlValue::timestamp`]).
    Timestamp(DateTime<Utc>),
}

impl SqlValue {
    /// A timestamp cut to microseconds, the precision both backends store, so a row computed in memory
    /// equals the row read back and PostgreSQL's rounding never differs from SQLite's text.
    pub fn timestamp(time: DateTime<Utc>) -> Self {
        SqlValue::Timestamp(time.trunc_subsecs(6))
    }

    pub fn text(text: impl Into<String>) -> Self {
        SqlValue::Text(text.into())
    }

    pub fn optional_text(text: Option<impl Into<String>>) -> Self {
        text.map_or(SqlValue::Null, |text| SqlValue::Text(text.into()))
    }

    pub fn optional_timestamp(time: Option<DateTime<Utc>>) -> Self {
        time.map_or(SqlValue::Null, SqlValue::timestamp)
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(text) | SqlValue::Decimal(text) => Some(text),
            SqlValue::Null | SqlValue::Integer(_) | SqlValue::Bool(_) | SqlValue::Timestamp(_) => {
                None
            }
        }
    }
}

/// A query table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    FaceVerification,
    Contract,
    ContractSigner,
    ContractArchive,
    ContractDocument,
    ContractTemplate,
    SmsTemplate,
    SmsNotice,
    CertificateRevocation,
    ContractInvitation,
    FaceVerificationArchive,
    Organization,
    Seal,
    SealVersion,
}

const FACE_VERIFICATION: &[&str] = &[
    "id",
    "verification_id",
    "client_id",
    "biz_id",
    "biz_type",
    "status",
    "user_name",
    "id_card_no",
    "id_card_hash",
    "mobile",
    "mobile_hash",
    "face_score",
    "thirdparty_transaction_no",
    "fail_reason",
    "callback_url",
    "callback_headers",
    "verification_url",
    "provider",
    "provider_task_id",
    "provider_url",
    "provider_attempts",
    "next_provider_attempt_at",
    "degraded",
    "verification_method",
    "ui_config_json",
    "expires_at",
    "verified_at",
    "created_at",
    "updated_at",
    "stream_version",
];

const CONTRACT: &[&str] = &[
    "id",
    "contract_id",
    "client_id",
    "biz_id",
    "biz_type",
    "template_id",
    "template_version",
    "title",
    "status",
    "variables_json",
    "preview_hash",
    "documents_json",
    "document_url",
    "document_hash",
    "callback_url",
    "callback_headers",
    "need_archive",
    "archive_providers",
    "expires_at",
    "signed_at",
    "revoked_at",
    "revoke_reason",
    "revoke_operator",
    "created_at",
    "updated_at",
    "stream_version",
];

const CONTRACT_SIGNER: &[&str] = &[
    "id",
    "contract_id",
    "party_id",
    "party_type",
    "name",
    "id_card_no",
    "id_card_hash",
    "mobile",
    "mobile_hash",
    "sign_method",
    "notify_type",
    "organization_name",
    "credit_code",
    "agent_role",
    "seal_appearance",
    "seal_id",
    "seal_version",
    "places_json",
    "sign_status",
    "sign_url",
    "short_url",
    "sequence",
    "link_id",
    "signed_at",
    "transaction_no",
    "ip_address",
    "device_info",
    "reject_reason",
    "rejected_at",
    "expires_at",
    "link_status",
    "link_token_hash",
    "created_at",
    "updated_at",
];

const CONTRACT_ARCHIVE: &[&str] = &[
    "id",
    "archive_id",
    "contract_id",
    "archive_provider",
    "status",
    "document_hash",
    "archive_time",
    "certificate_url",
    "transaction_no",
    "metadata_json",
    "attempts",
    "fail_reason",
    "created_at",
    "updated_at",
];

const CONTRACT_DOCUMENT: &[&str] = &[
    "id",
    "contract_id",
    "version",
    "document_hash",
    "current",
    "document_timestamped_at",
    "document_timestamp_valid_until",
    "created_at",
    "updated_at",
];

const CONTRACT_TEMPLATE: &[&str] = &[
    "id",
    "template_id",
    "name",
    "version",
    "category",
    "content_type",
    "content",
    "variable_definitions_json",
    "signer_config_json",
    "active",
    "activation_order",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "stream_version",
];

const SMS_TEMPLATE: &[&str] = &[
    "id",
    "template_code",
    "version",
    "name",
    "content",
    "variables_json",
    "active",
    "activation_order",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "stream_version",
];

const SMS_NOTICE: &[&str] = &[
    "id",
    "notice_id",
    "client_id",
    "biz_id",
    "biz_type",
    "template_code",
    "template_version",
    "mobile",
    "mobile_hash",
    "status",
    "attempts",
    "sender",
    "message_id",
    "fail_reason",
    "retryable",
    "next_attempt_at",
    "attempt_started_at",
    "sent_at",
    "created_at",
    "updated_at",
    "stream_version",
];

const CONTRACT_INVITATION: &[&str] = &[
    "id",
    "contract_id",
    "party_id",
    "link_id",
    "status",
    "attempts",
    "sender",
    "message_id",
    "fail_reason",
    "retryable",
    "next_attempt_at",
    "attempt_started_at",
    "sent_at",
    "created_at",
    "updated_at",
    "stream_version",
];

const FACE_VERIFICATION_ARCHIVE: &[&str] = &[
    "id",
    "archive_id",
    "verification_id",
    "archive_provider",
    "status",
    "record_hash",
    "record_json",
    "archive_time",
    "transaction_no",
    "metadata_json",
    "attempts",
    "fail_reason",
    "created_at",
    "updated_at",
];

const CERTIFICATE_REVOCATION: &[&str] = &[
    "id",
    "serial",
    "reason",
    "reason_code",
    "operator",
    "revoked_at",
    "created_at",
    "updated_at",
    "stream_version",
];

const ORGANIZATION: &[&str] = &[
    "id",
    "credit_code",
    "name",
    "client_id",
    "operator",
    "registered_at",
    "created_at",
    "updated_at",
    "stream_version",
];

const SEAL: &[&str] = &[
    "id",
    "seal_id",
    "credit_code",
    "organization_name",
    "kind",
    "name",
    "version",
    "image_hash",
    "width",
    "height",
    "active",
    "created_at",
    "updated_at",
    "stream_version",
];

const SEAL_VERSION: &[&str] = &[
    "id",
    "seal_id",
    "version",
    "image_hash",
    "width",
    "height",
    "byte_length",
    "source",
    "operator",
    "created_at",
    "updated_at",
];

impl Table {
    pub const ALL: [Table; 14] = [
        Table::FaceVerification,
        Table::Contract,
        Table::ContractSigner,
        Table::ContractArchive,
        Table::ContractDocument,
        Table::ContractTemplate,
        Table::SmsTemplate,
        Table::SmsNotice,
        Table::CertificateRevocation,
        Table::ContractInvitation,
        Table::FaceVerificationArchive,
        Table::Organization,
        Table::Seal,
        Table::SealVersion,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Table::FaceVerification => "face_verification",
            Table::Contract => "contract",
            Table::ContractSigner => "contract_signer",
            Table::ContractArchive => "contract_archive",
            Table::ContractDocument => "contract_document",
            Table::ContractTemplate => "contract_template",
            Table::SmsTemplate => "sms_template",
            Table::SmsNotice => "sms_notice",
            Table::CertificateRevocation => "certificate_revocation",
            Table::ContractInvitation => "contract_invitation",
            Table::FaceVerificationArchive => "face_verification_archive",
            Table::Organization => "organization",
            Table::Seal => "seal",
            Table::SealVersion => "seal_version",
        }
    }

    /// The natural key a row is upserted by (a unique constraint in the migration).
    pub fn key_columns(&self) -> &'static [&'static str] {
        match self {
            Table::FaceVerification => &["verification_id"],
            Table::Contract => &["contract_id"],
            Table::ContractSigner => &["contract_id", "party_id"],
            Table::ContractArchive => &["archive_id"],
            Table::ContractDocument => &["contract_id", "version"],
            Table::ContractTemplate => &["template_id", "version"],
            Table::SmsTemplate => &["template_code", "version"],
            Table::SmsNotice => &["notice_id"],
            Table::CertificateRevocation => &["serial"],
            Table::ContractInvitation => &["contract_id", "party_id"],
            // The archive id is named only when the sweep requests the record.
            Table::FaceVerificationArchive => &["verification_id", "archive_provider"],
            Table::Organization => &["credit_code"],
            Table::Seal => &["seal_id"],
            Table::SealVersion => &["seal_id", "version"],
        }
    }

    /// Every column in the migration's order, starting with the deterministic `id`.
    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            Table::FaceVerification => FACE_VERIFICATION,
            Table::Contract => CONTRACT,
            Table::ContractSigner => CONTRACT_SIGNER,
            Table::ContractArchive => CONTRACT_ARCHIVE,
            Table::ContractDocument => CONTRACT_DOCUMENT,
            Table::ContractTemplate => CONTRACT_TEMPLATE,
            Table::SmsTemplate => SMS_TEMPLATE,
            Table::SmsNotice => SMS_NOTICE,
            Table::CertificateRevocation => CERTIFICATE_REVOCATION,
            Table::ContractInvitation => CONTRACT_INVITATION,
            Table::FaceVerificationArchive => FACE_VERIFICATION_ARCHIVE,
            Table::Organization => ORGANIZATION,
            Table::Seal => SEAL,
            Table::SealVersion => SEAL_VERSION,
        }
    }

    /// Whether the table's rows carry the stream version they reflect (the inline checkpoint).
    pub fn has_stream_version(&self) -> bool {
        self.columns().contains(&"stream_version")
    }
}

/// One row of a query table: a value for every column of [`Table::columns`], in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub table: Table,
    pub values: Vec<(&'static str, SqlValue)>,
}

impl Row {
    /// The value of one column, if the table has it.
    pub fn get(&self, column: &str) -> Option<&SqlValue> {
        self.values
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, value)| value)
    }

    /// The values of the key columns, in [`Table::key_columns`] order.
    pub fn key(&self) -> Vec<&SqlValue> {
        self.table
            .key_columns()
            .iter()
            .filter_map(|column| self.get(column))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration of one backend, in order, joined.
    fn all_migrations(backend: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The column names of `<table>` after every migration, in order: those of its
    /// `CREATE TABLE <table> (...)`, then those added by `ALTER TABLE <table> ADD COLUMN`.
    fn migration_columns(sql: &str, table: &str) -> Vec<String> {
        let start = format!("CREATE TABLE {table} (");
        // The last creation counts: a later migration may recreate a table.
        let body = sql
            .rsplit_once(&start)
            .unwrap_or_else(|| panic!("no {start}"))
            .1;
        let body = &body[..body.find("\n)").unwrap()];
        let mut columns: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("--"))
            .filter_map(|line| line.split_whitespace().next())
            .filter(|word| {
                !["CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE"].contains(word)
                    && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
            .map(str::to_owned)
            .collect();
        columns.extend(added_columns(sql, table));
        columns
    }

    /// Columns added to `table` by `ALTER TABLE <table> ADD COLUMN`, in migration order.
    fn added_columns(sql: &str, table: &str) -> Vec<String> {
        let added = format!("ALTER TABLE {table} ADD COLUMN ");
        sql.match_indices(&added)
            .filter_map(|(at, _)| sql[at + added.len()..].split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn both_migrations_create_every_table_with_the_projected_columns_in_order() {
        for sql in [all_migrations("postgres"), all_migrations("sqlite")] {
            let sql = sql.as_str();
            for table in Table::ALL {
                // `ALTER TABLE ... ADD COLUMN` appends physically; the projection lists such a column
                // where it reads best. Inserts name their columns, so only the set and the order of
                // the original columns matter.
                let migrated = migration_columns(sql, table.name());
                let added = added_columns(sql, table.name());
                let mut projected: Vec<String> = table
                    .columns()
                    .iter()
                    .map(|column| (*column).to_owned())
                    .filter(|column| !added.contains(column))
                    .collect();
                projected.extend(added);
                assert_eq!(migrated, projected, "{}", table.name());
            }
        }
    }

    #[test]
    fn every_key_is_a_unique_constraint_in_both_migrations() {
        for sql in [all_migrations("postgres"), all_migrations("sqlite")] {
            for table in Table::ALL {
                let unique = format!("UNIQUE ({})", table.key_columns().join(", "));
                assert!(sql.contains(&unique), "{}: {unique}", table.name());
            }
        }
    }

    #[test]
    fn every_table_starts_with_id_and_ends_with_its_timestamps() {
        for table in Table::ALL {
            let columns = table.columns();
            assert_eq!(columns[0], "id");
            let tail: Vec<_> = columns
                .iter()
                .copied()
                .skip_while(|column| *column != "created_at")
                .collect();
            let expected: &[&str] = if table.has_stream_version() {
                &["created_at", "updated_at", "stream_version"]
            } else {
                &["created_at", "updated_at"]
            };
            assert_eq!(tail, expected, "{}", table.name());
            for key in table.key_columns() {
                assert!(columns.contains(key));
            }
        }
    }
}
