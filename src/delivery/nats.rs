//! Publication to NATS JetStream: subject `esign.events.<EventName>`, message id = the event id, so
//! JetStream drops a redelivered publication inside its duplicate window.

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use tokio::sync::Mutex;

/// A lazily connected JetStream publisher: a broker that is down when the service starts only delays
/// publications, which wait in the outbox.
#[derive(Debug)]
pub struct NatsPublisher {
    url: String,
    stream: String,
    /// The stream's subjects (`esign.events.>`), used when creating it.
    subjects: String,
    timeout: Duration,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsPublisher {
    pub fn new(url: &str, stream: &str, subjects: &str, timeout: Duration) -> Self {
        Self {
            url: url.to_owned(),
            stream: stream.to_owned(),
            subjects: subjects.to_owned(),
            timeout,
            context: Mutex::new(None),
        }
    }

    async fn context(&self) -> Result<jetstream::Context, String> {
        let mut slot = self.context.lock().await;
        if let Some(context) = slot.as_ref() {
            return Ok(context.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(self.timeout)
            .name("esign")
            .connect(self.url.as_str())
            .await
            .map_err(|error| format!("cannot connect to NATS at {}: {error}", self.url))?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        context
            .get_or_create_stream(jetstream::stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.subjects.clone()],
                ..Default::default()
            })
            .await
            .map_err(|error| format!("cannot open JetStream stream {}: {error}", self.stream))?;
        *slot = Some(context.clone());
        Ok(context)
    }

    /// Publishes and waits for JetStream's acknowledgement. `Ok(true)` when JetStream already had
    /// this event id (a repeat after a lost acknowledgement).
    pub async fn publish(
        &self,
        subject: &str,
        event_id: &str,
        body: Bytes,
    ) -> Result<bool, String> {
        let context = self.context().await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event_id);
        let acknowledgement = context
            .publish_with_headers(subject.to_owned(), headers, body)
            .await
            .map_err(|error| format!("publish to {subject} failed: {error}"))?
            .await
            .map_err(|error| format!("JetStream did not acknowledge {subject}: {error}"))?;
        Ok(acknowledgement.duplicate)
    }
}
