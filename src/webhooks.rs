//! Webhooks on account events, signed per the Standard Webhooks
//! specification and delivered from a durable outbox.
//!
//! An event is queued in the store in the same transaction as the change
//! it tells of (see `store::webhooks`), one row per endpoint that wants it,
//! so a crash or restart at any point loses none. Every replica runs a
//! deliverer: it claims due rows with a lease (exactly one replica sends a
//! given attempt), posts them, and records each attempt. A failed attempt
//! is tried again on a schedule that spans a little over a day; then the
//! delivery is marked failed. A replica that dies mid-attempt leaves its
//! lease to run out, and another sends the event again with the same
//! `webhook-id`, so receivers drop repeats by that id (delivery is at least
//! once).
//!
//! Signature: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the bytes of the
//! endpoint's `whsec_…` secret.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::metrics::Metrics;
use crate::store::{Attempt, Delivery, Store, Webhook};
use crate::upstream::Upstream;
use crate::vault::{Place, Vault};

/// How long after each failed attempt the next one is made; after the
/// last, the delivery is given up (about 27.6 hours after the event).
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(5 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
];

/// How often a deliverer looks for due rows queued by other replicas (its
/// own are sent at once).
const POLL: Duration = Duration::from_secs(1);
/// Most deliveries one deliverer sends at once.
const BATCH: u32 = 32;

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", BASE64.encode(key))
}

/// The `webhook-signature` value of `body` sent as message `id` at
/// `timestamp` (Unix seconds) with `secret` (`whsec_…`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// When attempt number `attempts` (1-based) failed, when to try again.
pub fn next_attempt(attempts: i64, now_ms: i64) -> Option<i64> {
    let index = usize::try_from(attempts - 1).ok()?;
    RETRY_SCHEDULE
        .get(index)
        .map(|wait| now_ms + wait.as_millis() as i64)
}

/// This replica's deliverer.
pub struct Deliverer {
    pub store: Store,
    pub vault: Arc<Vault>,
    pub upstream: Upstream,
    pub metrics: Metrics,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
}

impl Deliverer {
    /// Runs for as long as the process does.
    pub fn spawn(self) {
        let me = Arc::new(self);
        tokio::spawn(async move {
            let mut rounds = 0u64;
            while !me.store.is_closed() {
                let sent = me.round().await;
                if rounds.is_multiple_of(5)
                    && let Ok(n) = me.store.pending_deliveries().await
                {
                    me.metrics.webhook_outbox.set(n);
                }
                rounds += 1;
                if sent < BATCH as usize {
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => {}
                        () = me.store.outbox_queued() => {}
                    }
                }
            }
        });
    }

    /// Claims and sends what is due; returns how many it sent.
    async fn round(self: &Arc<Self>) -> usize {
        let now = crate::clock::now_ms();
        // Long enough for the attempt and for recording it.
        let lease = now + 2 * self.timeout.as_millis() as i64 + 5_000;
        let claimed = match self.store.claim_deliveries(now, lease, BATCH).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the webhook outbox");
                return 0;
            }
        };
        let n = claimed.len();
        let mut sending = tokio::task::JoinSet::new();
        for (delivery, webhook) in claimed {
            let me = self.clone();
            sending.spawn(async move { me.deliver(&delivery, &webhook).await });
        }
        while sending.join_next().await.is_some() {}
        n
    }

    /// One attempt of one delivery, recorded.
    async fn deliver(&self, delivery: &Delivery, webhook: &Webhook) {
        let attempt = match self.post(delivery, webhook).await {
            Ok(status) if (200..300).contains(&status) => Attempt::Delivered { status },
            failed => {
                let (status, error) = match failed {
                    Ok(status) => (Some(status), format!("the endpoint answered {status}")),
                    Err(e) => (None, e),
                };
                Attempt::Failed {
                    status,
                    error,
                    next_attempt_at: next_attempt(delivery.attempts + 1, crate::clock::now_ms()),
                }
            }
        };
        let outcome = match &attempt {
            Attempt::Delivered { .. } => "delivered",
            Attempt::Failed {
                next_attempt_at: Some(_),
                ..
            } => "retrying",
            Attempt::Failed { .. } => "failed",
        };
        self.metrics
            .webhook_deliveries
            .with_label_values(&[delivery.event_type.as_str(), outcome])
            .inc();
        if outcome != "delivered" {
            tracing::warn!(webhook = %webhook.id, delivery = %delivery.id, outcome, "a webhook delivery failed");
        }
        if let Err(e) = self.store.record_attempt(&delivery.id, &attempt).await {
            // The lease runs out and the delivery is sent again.
            tracing::warn!(error = %e, delivery = %delivery.id, "could not record a webhook attempt");
        }
    }

    async fn post(&self, delivery: &Delivery, webhook: &Webhook) -> Result<u16, String> {
        let secret = self
            .vault
            .open(Place::webhook_secret(&webhook.id), &webhook.secret)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or("the endpoint's secret cannot be opened (encryption key changed?)")?;
        let timestamp = crate::clock::now_ms() / 1000;
        let body = Bytes::from(delivery.payload.clone());
        let signature = sign(&secret, &delivery.id, timestamp, &body).ok_or("invalid secret")?;
        let mut headers = HeaderMap::new();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set("content-type", "application/json");
        set("webhook-id", &delivery.id);
        set("webhook-timestamp", &timestamp.to_string());
        set("webhook-signature", &signature);
        self.upstream
            .post(&webhook.url, headers, body, self.timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_hmac_sha256_of_id_timestamp_and_body() {
        // The secret is 32 bytes of 0x01; the expected value was computed
        // with Python's hmac and base64 modules.
        let secret = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let signed = sign(secret, "msg_1", 1_700_000_000, br#"{"a":1}"#).unwrap();
        assert_eq!(signed, "v1,3tN+SMwreJINGaFSPFdhMpE4XGSVaCkC9ee+KquMGGQ=");
        assert!(sign("whsec_not base64!", "m", 1, b"").is_none());
    }

    #[test]
    fn retries_span_a_day_then_stop() {
        assert_eq!(next_attempt(1, 0), Some(5_000));
        assert_eq!(next_attempt(7, 0), Some(10 * 3_600_000));
        assert_eq!(next_attempt(8, 0), None);
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(30 * 3600));
    }

    #[test]
    fn secrets_are_fresh_and_well_formed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let key = BASE64.decode(a.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 32);
    }
}
