//! The log's counters, served at `/metrics` in the Prometheus text exposition format
//! (version 0.0.4): queue depth, writers waiting, batches, checkpoints, acknowledgement
//! latency and errors. Plain atomics: recording never blocks a request.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the acknowledgement-latency histogram buckets.
const ACK_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counters of one log process.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) submitted: AtomicU64,
    pub(crate) acknowledged: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) batch_entries: AtomicU64,
    pub(crate) last_batch_size: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) integration_errors: AtomicU64,
    ack_buckets: [AtomicU64; ACK_BUCKETS.len()],
    ack_count: AtomicU64,
    ack_sum_micros: AtomicU64,
}

impl Metrics {
    /// Records one acknowledgement that took `d`.
    pub(crate) fn ack(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in ACK_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.ack_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.ack_count.fetch_add(1, Ordering::Relaxed);
        self.ack_sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a finished batch of `n` entries.
    pub(crate) fn batch(&self, n: usize) {
        let n = n as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_entries.fetch_add(n, Ordering::Relaxed);
        self.last_batch_size.store(n, Ordering::Relaxed);
    }

    /// The exposition text, with the gauges read at this moment.
    pub fn render(&self, queue_depth: usize, waiting_writers: usize) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "chainseal_log_queue_depth",
            "gauge",
            "Submissions waiting to be sequenced.",
            queue_depth.to_string(),
        );
        metric(
            "chainseal_log_waiting_writers",
            "gauge",
            "Sequenced entries whose writer waits for a covering checkpoint.",
            waiting_writers.to_string(),
        );
        metric(
            "chainseal_log_submitted_total",
            "counter",
            "Write requests received.",
            g(&self.submitted).to_string(),
        );
        metric(
            "chainseal_log_rejected_total",
            "counter",
            "Write requests refused as bad or too large (4xx).",
            g(&self.rejected).to_string(),
        );
        metric(
            "chainseal_log_failed_total",
            "counter",
            "Write requests that failed on the server's side (overload, timeout, storage).",
            g(&self.failed).to_string(),
        );
        metric(
            "chainseal_log_batches_total",
            "counter",
            "Batches made durable.",
            g(&self.batches).to_string(),
        );
        metric(
            "chainseal_log_batch_entries_total",
            "counter",
            "Entries in the batches made durable.",
            g(&self.batch_entries).to_string(),
        );
        metric(
            "chainseal_log_last_batch_size",
            "gauge",
            "Entries in the last batch.",
            g(&self.last_batch_size).to_string(),
        );
        metric(
            "chainseal_log_checkpoints_total",
            "counter",
            "Checkpoints published.",
            g(&self.checkpoints).to_string(),
        );
        metric(
            "chainseal_log_integration_errors_total",
            "counter",
            "Integration rounds that failed (storage, witnesses).",
            g(&self.integration_errors).to_string(),
        );
        let name = "chainseal_log_ack_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a write request to its acknowledgement (durable and covered by a published checkpoint).\n# TYPE {name} histogram"
        );
        for (i, b) in ACK_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                g(&self.ack_buckets[i])
            );
        }
        let count = g(&self.ack_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            g(&self.ack_sum_micros) as f64 / 1_000_000.0
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}
