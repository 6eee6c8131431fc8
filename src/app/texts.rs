//! What every text delivered with retries shares (payment-verification notices, signing
//! invitations): one send turned into the outcome the aggregates record, the due test of the
//! delivery sweep, and the sweep's loop. The attempt rules themselves are the domain's
//! (`aggregates::delivery`).

use std::time::Duration;

use aggregates::delivery::DeliveryOutcome;
use aggregates::values::{LongText, MobileNumber, ProviderName, Reason};
use chrono::{DateTime, TimeDelta, Utc};

use super::Services;
use crate::providers::sms::{SmsError, SmsMessage};
use crate::store::query_tables::RowView;

/// Sends `text` to `mobile` and says what the sender made of it. A failure is logged with the number
/// masked; the text is never logged (it may carry a link).
pub async fn send(
    services: &Services,
    mobile: &MobileNumber,
    text: String,
    purpose: &'static str,
) -> DeliveryOutcome {
    let message = SmsMessage {
        mobile: mobile.clone(),
        text,
        purpose,
    };
    match services.sms.send(&message).await {
        Ok(receipt) => DeliveryOutcome::Sent {
            sender: sender_name(receipt.sender),
            message_id: bounded(&receipt.message_id),
        },
        Err(error) => {
            let retryable = matches!(error, SmsError::Unavailable(_));
            tracing::warn!(mobile = %mobile.masked(), purpose, %error, retryable, "text not sent");
            failed(services, &error.to_string(), retryable)
        }
    }
}

/// A failure of the configured sender for `reason`.
pub fn failed(services: &Services, reason: &str, retryable: bool) -> DeliveryOutcome {
    DeliveryOutcome::Failed {
        sender: sender_name(services.sms.name()),
        reason: self::reason(reason),
        retryable,
    }
}

fn sender_name(name: &str) -> ProviderName {
    // A sender's name outside the id charset would be a programming slip; keep the outcome anyway.
    ProviderName::parse(name).unwrap_or_else(|_| fixed(ProviderName::parse("sms-sender")))
}

/// A reason text that fits `Reason` (512 characters, no control characters).
fn reason(text: &str) -> Reason {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    Reason::parse(&cleaned).unwrap_or_else(|_| fixed(Reason::parse("the sender gave no reason")))
}

/// A message id that fits `LongText`.
fn bounded(message_id: &str) -> LongText {
    let cleaned: String = message_id
        .chars()
        .filter(|c| !c.is_control())
        .take(1000)
        .collect();
    LongText::parse(&cleaned).unwrap_or_else(|_| fixed(LongText::parse("unknown")))
}

/// A value parsed from a fixed literal the parser is known to accept.
fn fixed<T, E: std::fmt::Display>(parsed: Result<T, E>) -> T {
    match parsed {
        Ok(value) => value,
        Err(error) => unreachable!("a fixed literal is valid: {error}"),
    }
}

/// How long an attempt may go without an outcome before it is presumed lost.
pub fn lease(services: &Services) -> TimeDelta {
    TimeDelta::try_seconds(i64::try_from(services.config.sms.attempt_lease_seconds).unwrap_or(0))
        .unwrap_or(TimeDelta::MAX)
}

/// Whether a row of a delivery table (`status`, `attempt_started_at`, `next_attempt_at`) is due
/// for its next attempt: REQUESTED with its lease over, or FAILED with its retry time passed.
pub fn is_due(row: &RowView, lease: TimeDelta, now: DateTime<Utc>) -> bool {
    match row.text("status") {
        Some("REQUESTED") => row
            .time("attempt_started_at")
            .is_some_and(|started| aggregates::values::later(started, lease) <= now),
        Some("FAILED") => row.time("next_attempt_at").is_some_and(|due| due <= now),
        _ => false,
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Attempts this instance claimed and made.
    pub attempted: u32,
    /// Deliveries given up because their last attempt was lost.
    pub abandoned: u32,
}

/// What claiming the next attempt of one delivery led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    Attempted,
    Abandoned,
    Nothing,
}

impl SweepReport {
    fn add(&mut self, other: &SweepReport) {
        self.attempted += other.attempted;
        self.abandoned += other.abandoned;
    }

    pub fn count(&mut self, claimed: Claimed) {
        match claimed {
            Claimed::Attempted => self.attempted += 1,
            Claimed::Abandoned => self.abandoned += 1,
            Claimed::Nothing => {}
        }
    }
}

/// Runs the delivery sweeps of notices and invitations every `sms.sweep_interval_ms` until the
/// process ends. A failed sweep is logged and the next one tries again.
pub fn spawn_sweep(services: Services) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_millis(services.config.sms.sweep_interval_ms);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let mut report = SweepReport::default();
            match super::notices::sweep_once(&services).await {
                Ok(notices) => report.add(&notices),
                Err(error) => tracing::warn!(%error, "notice sweep failed; retrying next tick"),
            }
            match super::invitations::sweep_once(&services).await {
                Ok(invitations) => report.add(&invitations),
                Err(error) => tracing::warn!(%error, "invitation sweep failed; retrying next tick"),
            }
            if report.attempted > 0 || report.abandoned > 0 {
                tracing::info!(?report, "text delivery sweep");
            }
        }
    })
}
