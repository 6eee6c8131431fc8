//! Which query-table rows each aggregate's streams have: the pure projections of the `projections`
//! crate, applied to stored events. The pipeline runs them inline with every command; the rebuild
//! runs the same functions over the whole log, so both give the same rows.

use aggregates::Aggregate;
use projections::{ProjectedEvent, ProjectionError, Row};

use crate::store::RecordedEvent;

/// An aggregate whose streams have query-table rows.
pub trait ReadModel: Aggregate
where
    Self::Event: Send + Sync + 'static,
{
    /// Every row the stream owns, from all of its events in order.
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError>;
}

impl ReadModel for aggregates::contract::ContractAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::contract_rows(events)
    }
}

impl ReadModel for aggregates::face_verification::FaceVerificationAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::verification_rows(events)
    }
}

impl ReadModel for aggregates::template::TemplateAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::template_rows(events)
    }
}

impl ReadModel for aggregates::sms_template::SmsTemplateAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::sms_template_rows(events)
    }
}

impl ReadModel for aggregates::sms_notice::SmsNoticeAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::sms_notice_rows(events)
    }
}

impl ReadModel for aggregates::certificate_revocation::CertificateRevocationAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::certificate_revocation_rows(events)
    }
}

impl ReadModel for aggregates::organization::OrganizationAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::organization_rows(events)
    }
}

impl ReadModel for aggregates::seal::SealAggregate {
    fn rows(events: &[ProjectedEvent<'_, Self::Event>]) -> Result<Vec<Row>, ProjectionError> {
        projections::seal_rows(events)
    }
}

/// The stream's rows from its stored events and their decoded forms, old and new.
pub fn project<A>(
    prior: &[RecordedEvent],
    prior_events: &[A::Event],
    appended: &[RecordedEvent],
    new_events: &[A::Event],
) -> Result<Vec<Row>, ProjectionError>
where
    A: ReadModel,
    A::Event: Send + Sync + 'static,
{
    let projected: Vec<ProjectedEvent<'_, A::Event>> = prior
        .iter()
        .zip(prior_events)
        .chain(appended.iter().zip(new_events))
        .map(|(recorded, event)| ProjectedEvent {
            event,
            sealed_payload: recorded.payload.as_value(),
            global_position: recorded.global_position,
            stream_version: recorded.stream_version,
            recorded_at: recorded.recorded_at,
        })
        .collect();
    A::rows(&projected)
}
