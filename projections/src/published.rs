//! The events esign publishes (spec 2.2), decided from how a command changed a stream's rows: a
//! contract whose status moved, an archive record that succeeded, a face verification that reached
//! its outcome (to callers and the broker), and a template version published or (de)activated (to
//! the broker only: `TemplateUpdatedEvent`, for esign's own instances and internal tools).

use crate::row::{Row, Table};

/// A published event's kind; `name()` is the name callers receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishedEvent {
    /// A face verification reached SUCCESS, FAILED or EXPIRED.
    FaceVerificationCompleted,
    /// A contract's status changed after its creation (PARTIAL_SIGNED, SIGNED, REJECTED, EXPIRED,
    /// REVOKED).
    ContractStatusChanged,
    /// One archive record of a contract succeeded.
    ContractArchived,
    /// A template version was published, activated or deactivated.
    TemplateUpdated,
}

impl PublishedEvent {
    pub fn name(&self) -> &'static str {
        match self {
            PublishedEvent::FaceVerificationCompleted => "FaceVerificationCompletedEvent",
            PublishedEvent::ContractStatusChanged => "ContractStatusChangedEvent",
            PublishedEvent::ContractArchived => "ContractArchivedEvent",
            PublishedEvent::TemplateUpdated => "TemplateUpdatedEvent",
        }
    }
}

/// One event to publish; `archive_id` names the archive record a `ContractArchived` is about, and
/// `template_version` the version a `TemplateUpdated` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub event: PublishedEvent,
    pub archive_id: Option<String>,
    pub template_version: Option<String>,
}

const VERIFICATION_OUTCOMES: [&str; 3] = ["SUCCESS", "FAILED", "EXPIRED"];

/// What a change from `before` to `after` (one stream's rows) publishes.
pub fn published(before: &[Row], after: &[Row]) -> Vec<Publication> {
    let mut publications = Vec::new();
    for row in after {
        let previous = before
            .iter()
            .find(|old| old.table == row.table && old.key() == row.key());
        if row.table == Table::ContractTemplate {
            // A new version, or one whose activation changed; nothing else of a version changes.
            let active = |row: &Row| row.get("active").cloned();
            if previous.is_none_or(|previous| active(previous) != active(row)) {
                publications.push(Publication {
                    event: PublishedEvent::TemplateUpdated,
                    archive_id: None,
                    template_version: row
                        .get("version")
                        .and_then(|value| value.as_text())
                        .map(str::to_owned),
                });
            }
            continue;
        }
        let status = |row: &Row| {
            row.get("status")
                .and_then(|value| value.as_text())
                .map(str::to_owned)
        };
        let (now, was) = (status(row), previous.and_then(status));
        if now == was {
            continue;
        }
        let event = match row.table {
            // A contract's first row is its creation, not a change of status.
            Table::Contract if previous.is_some() => Some(PublishedEvent::ContractStatusChanged),
            Table::ContractArchive if now.as_deref() == Some("SUCCESS") => {
                Some(PublishedEvent::ContractArchived)
            }
            Table::FaceVerification
                if now
                    .as_deref()
                    .is_some_and(|s| VERIFICATION_OUTCOMES.contains(&s)) =>
            {
                Some(PublishedEvent::FaceVerificationCompleted)
            }
            Table::Contract
            | Table::ContractArchive
            | Table::ContractDocument
            | Table::FaceVerification => None,
            Table::ContractSigner | Table::ContractTemplate => None,
            // Notices are answered by their GET; the request carries no callback.
            Table::SmsTemplate | Table::SmsNotice => None,
            // Revocations are published by the CA's CRL and OCSP responder, not to callers.
            Table::CertificateRevocation => None,
            // An invitation's delivery is the platform's business; the audit trail shows it.
            Table::ContractInvitation => None,
            // The result's archive records are read with the verification; its callback was sent.
            Table::FaceVerificationArchive => None,
            // Organisations and seals are administered; no caller waits for a callback on them.
            Table::Organization | Table::Seal | Table::SealVersion => None,
        };
        if let Some(event) = event {
            let archive_id = match event {
                PublishedEvent::ContractArchived => row
                    .get("archive_id")
                    .and_then(|value| value.as_text())
                    .map(str::to_owned),
                PublishedEvent::FaceVerificationCompleted
                | PublishedEvent::ContractStatusChanged
                | PublishedEvent::TemplateUpdated => None,
            };
            publications.push(Publication {
                event,
                archive_id,
                template_version: None,
            });
        }
    }
    publications
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::SqlValue;

    fn row(table: Table, key: (&'static str, &str), status: &str) -> Row {
        Row {
            table,
            values: vec![
                (key.0, SqlValue::text(key.1)),
                ("status", SqlValue::text(status)),
            ],
        }
    }

    fn template_row(version: &str, active: bool) -> Row {
        Row {
            table: Table::ContractTemplate,
            values: vec![
                ("template_id", SqlValue::text("TPL_1")),
                ("version", SqlValue::text(version)),
                ("active", SqlValue::Bool(active)),
            ],
        }
    }

    #[test]
    fn a_template_publishes_each_new_version_and_each_change_of_activation() {
        let v1 = template_row("1", true);
        let first = published(&[], std::slice::from_ref(&v1));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].event, PublishedEvent::TemplateUpdated);
        assert_eq!(first[0].template_version.as_deref(), Some("1"));
        let v2 = template_row("2", true);
        let second = published(std::slice::from_ref(&v1), &[v1.clone(), v2.clone()]);
        assert_eq!(second.len(), 1, "only the new version: {second:?}");
        assert_eq!(second[0].template_version.as_deref(), Some("2"));
        let deactivated = template_row("2", false);
        let third = published(&[v1.clone(), v2.clone()], &[v1.clone(), deactivated]);
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].template_version.as_deref(), Some("2"));
        assert!(published(std::slice::from_ref(&v1), std::slice::from_ref(&v1)).is_empty());
    }

    #[test]
    fn a_contract_publishes_on_each_status_change_but_not_at_creation() {
        let created = [row(Table::Contract, ("contract_id", "C1"), "CREATED")];
        assert!(published(&[], &created).is_empty());
        let partial = [row(
            Table::Contract,
            ("contract_id", "C1"),
            "PARTIAL_SIGNED",
        )];
        assert_eq!(
            published(&created, &partial)[0].event,
            PublishedEvent::ContractStatusChanged
        );
        assert!(
            published(&partial, &partial).is_empty(),
            "no change, nothing published"
        );
    }

    #[test]
    fn a_verification_publishes_when_it_reaches_an_outcome() {
        let pending = [row(
            Table::FaceVerification,
            ("verification_id", "V1"),
            "PENDING",
        )];
        let processing = [row(
            Table::FaceVerification,
            ("verification_id", "V1"),
            "PROCESSING",
        )];
        let failed = [row(
            Table::FaceVerification,
            ("verification_id", "V1"),
            "FAILED",
        )];
        assert!(published(&[], &pending).is_empty());
        assert!(published(&pending, &processing).is_empty());
        assert_eq!(
            published(&processing, &failed)[0].event.name(),
            "FaceVerificationCompletedEvent"
        );
    }

    #[test]
    fn each_archive_success_publishes_once_with_its_archive_id() {
        let pending = [row(Table::ContractArchive, ("archive_id", "A1"), "PENDING")];
        let success = [row(Table::ContractArchive, ("archive_id", "A1"), "SUCCESS")];
        assert!(published(&[], &pending).is_empty());
        let published_now = published(&pending, &success);
        assert_eq!(published_now.len(), 1);
        assert_eq!(published_now[0].archive_id.as_deref(), Some("A1"));
        assert!(published(&success, &success).is_empty());
    }
}
