//! A caller's callback receiver on a random port: it records every request it gets (headers and raw
//! body) and answers as the test tells it: 200, a failure for the first N calls, always a failure,
//! slowly, or not at all until released.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub enum Behaviour {
    Accept,
    /// Answer 500 to this many more requests, then accept.
    FailNext(usize),
    AlwaysFail(StatusCode),
    /// Wait this long, then accept.
    Slow(Duration),
    /// Do not answer until [`Receiver::release`].
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON callback body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// Checks `X-Esign-Signature` the way a receiver should.
    pub fn signed_with(&self, secret: &str) -> bool {
        esign::delivery::signature::verify(
            self.header("x-esign-signature"),
            &self.body,
            secret.as_bytes(),
            chrono::Utc::now().timestamp(),
            300,
        )
        .is_ok()
    }
}

struct Shared {
    received: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    arrived: Notify,
    release: Notify,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            behaviour: Mutex::new(behaviour),
            arrived: Notify::new(),
            release: Notify::new(),
        });
        let router = axum::Router::new()
            .route("/callback", post(receive))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callback", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, shared }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived (30 s at most).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.shared.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} callbacks, got {}: {:?}",
                    received.len(),
                    received.iter().map(Received::json).collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    shared.arrived.notify_waiters();
    let behaviour = {
        let mut behaviour = shared.behaviour.lock().unwrap();
        let now = behaviour.clone();
        if let Behaviour::FailNext(remaining) = &mut *behaviour {
            *remaining = remaining.saturating_sub(1);
        }
        now
    };
    match behaviour {
        Behaviour::Accept => StatusCode::OK,
        Behaviour::FailNext(0) => StatusCode::OK,
        Behaviour::FailNext(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::AlwaysFail(status) => status,
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
        Behaviour::Hang => {
            shared.release.notified().await;
            StatusCode::OK
        }
    }
}
