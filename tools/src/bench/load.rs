//! Drives one operation from N concurrent workers for a fixed time and summarises the latencies.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Latencies;
use super::service::ProcessSample;

/// One concurrency level of one scenario.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Level {
    pub connections: usize,
    #[serde(flatten)]
    pub latencies: Latencies,
    /// Cores the service used on average during the level (1.0 = one core); 0 when not measured.
    pub service_cores: f64,
    /// The service's resident memory at the end of the level, and its highest so far, in MiB.
    pub service_rss_mib: f64,
    pub service_peak_rss_mib: f64,
    /// The first few errors, for the report.
    pub error_samples: Vec<String>,
}

/// `operation(worker, iteration)` is called back to back by `connections` workers for `duration`
/// after `warmup` (whose calls are not counted). `service` is the pid whose CPU and memory are read.
pub async fn run<F, Fut, E>(
    connections: usize,
    warmup: Duration,
    duration: Duration,
    service: Option<u32>,
    operation: F,
) -> Level
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let operation = Arc::new(operation);
    let started = Instant::now();
    let measuring_from = started + warmup;
    let deadline = measuring_from + duration;
    let errors = Arc::new(AtomicU64::new(0));
    let error_samples = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let before = Arc::new(std::sync::Mutex::new(None::<(Instant, ProcessSample)>));
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections.max(1) {
        let operation = Arc::clone(&operation);
        let errors = Arc::clone(&errors);
        let error_samples = Arc::clone(&error_samples);
        let before = Arc::clone(&before);
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut iteration = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                if sent >= measuring_from && worker == 0 {
                    // The first call after the warm-up marks the start of the service's CPU window.
                    let mut before = before.lock().unwrap_or_else(|e| e.into_inner());
                    if before.is_none() {
                        *before = Some((sent, service.map(ProcessSample::of).unwrap_or_default()));
                    }
                }
                let outcome = operation(worker, iteration).await;
                iteration += 1;
                if sent < measuring_from {
                    continue;
                }
                match outcome {
                    Ok(()) => samples.push(sent.elapsed()),
                    Err(error) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut kept = error_samples.lock().unwrap_or_else(|e| e.into_inner());
                        if kept.len() < 5 {
                            kept.push(error.to_string());
                        }
                    }
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        // A worker that panicked contributes nothing; its absence shows in the count.
        if let Ok(done) = worker.await {
            samples.extend(done);
        }
    }
    let ended = Instant::now();
    let after = service.map(ProcessSample::of).unwrap_or_default();
    let (window_start, cpu_before) = before
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or((measuring_from, after));
    let seconds = ended
        .saturating_duration_since(measuring_from)
        .as_secs_f64();
    let error_samples = error_samples
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Level {
        connections,
        latencies: Latencies::from_samples(samples, errors.load(Ordering::Relaxed), seconds),
        service_cores: after.cores_since(
            &cpu_before,
            ended.saturating_duration_since(window_start).as_secs_f64(),
        ),
        service_rss_mib: after.rss_mib,
        service_peak_rss_mib: after.peak_rss_mib,
        error_samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_after_the_warmup_is_counted_once() {
        let level = run(
            4,
            Duration::from_millis(20),
            Duration::from_millis(100),
            None,
            |worker, iteration| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if worker == 1 && iteration % 2 == 0 {
                    Err("even calls of worker 1 fail")
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(level.connections, 4);
        assert!(level.latencies.count > 0);
        assert!(level.latencies.errors > 0);
        assert!(level.error_samples.len() <= 5);
        assert!(level.latencies.p50_ms >= 2.0, "{}", level.latencies.p50_ms);
    }
}
