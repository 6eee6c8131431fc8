//! Text messages to people's phones: signing codes, degraded-mode codes and payment-verification
//! notices all leave through one [`SmsSender`].
//!
//! The development sender writes each message to the log (number masked) and keeps it in memory so
//! tests and a developer can read the code that was "sent"; [`message_centre`] posts to the message
//! centre. [`CountedSender`] wraps whichever is configured so every send is counted in the metrics.
//! The use cases that send through it are `app::one_time_codes` (signers' and degraded-mode codes)
//! and `app::notices` (payment-verification notices).

mod config;
pub mod message_centre;

pub use config::{SenderKind, SmsConfig};

use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::Mutex;

use aggregates::values::MobileNumber;
use chrono::{DateTime, Utc};

/// One message to one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    pub mobile: MobileNumber,
    /// The full text as the person will read it.
    pub text: String,
    /// Why it is sent (`SIGNING_CODE`, `FACE_DEGRADED_CODE`, `NOTICE`...), for logs and metrics.
    pub purpose: &'static str,
}

/// The sender's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    /// Which sender took it (`development`, `message-centre`).
    pub sender: &'static str,
    /// The sender's own id for the message, for tracing a delivery complaint.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The sender could not be reached or did not answer in time: worth retrying.
    #[error("the SMS sender is unavailable: {0}")]
    Unavailable(String),
    /// The sender refused this message; retrying the same message will not help.
    #[error("the SMS sender refused the message: {0}")]
    Rejected(String),
}

/// Sends text messages.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync + Debug {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError>;

    /// The sender's name in metrics and events when there is no receipt to take it from.
    fn name(&self) -> &'static str {
        "unnamed"
    }
}

/// Counts every message in `esign_sms_sent{sender, purpose, outcome}` (`sent`, `unavailable`,
/// `rejected`) on its way to the real sender.
#[derive(Debug)]
pub struct CountedSender {
    inner: std::sync::Arc<dyn SmsSender>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl CountedSender {
    pub fn new(
        inner: std::sync::Arc<dyn SmsSender>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait::async_trait]
impl SmsSender for CountedSender {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let outcome = self.inner.send(message).await;
        let label = match &outcome {
            Ok(_) => "sent",
            Err(SmsError::Unavailable(_)) => "unavailable",
            Err(SmsError::Rejected(_)) => "rejected",
        };
        self.metrics
            .sms_sent(self.inner.name(), message.purpose, label);
        outcome
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// What the development sender kept of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub message_id: String,
    pub mobile: String,
    pub text: String,
    pub purpose: &'static str,
    pub sent_at: DateTime<Utc>,
}

/// How many messages the development sender remembers; older ones are forgotten first.
const DEVELOPMENT_OUTBOX_CAPACITY: usize = 1000;

/// Logs messages instead of sending them and keeps the latest ones readable. Development only: the
/// texts carry codes in clear.
#[derive(Debug, Default)]
pub struct DevelopmentSmsSender {
    sent: Mutex<VecDeque<SentSms>>,
}

impl DevelopmentSmsSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages sent to `mobile`, oldest first.
    pub fn sent_to(&self, mobile: &str) -> Vec<SentSms> {
        self.lock()
            .iter()
            .filter(|message| message.mobile == mobile)
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SentSms>> {
        // A panic while holding the lock leaves a consistent queue; keep using it.
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl SmsSender for DevelopmentSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let message_id = format!("dev-{}", uuid::Uuid::now_v7().simple());
        tracing::info!(
            mobile = %message.mobile.masked(),
            purpose = message.purpose,
            %message_id,
            "development SMS sender: message kept, not sent"
        );
        let mut sent = self.lock();
        if sent.len() == DEVELOPMENT_OUTBOX_CAPACITY {
            sent.pop_front();
        }
        sent.push_back(SentSms {
            message_id: message_id.clone(),
            mobile: message.mobile.as_str().to_owned(),
            text: message.text.clone(),
            purpose: message.purpose,
            sent_at: Utc::now(),
        });
        Ok(SmsReceipt {
            sender: DEVELOPMENT_SENDER,
            message_id,
        })
    }

    fn name(&self) -> &'static str {
        DEVELOPMENT_SENDER
    }
}

/// The development sender's name in receipts, metrics and events.
pub const DEVELOPMENT_SENDER: &str = "development";
