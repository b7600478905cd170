//! Hits as the service makes and delivers them: which matches become hits, the wake-up that
//! tells live streams and the sender that something new is stored, and the sender itself,
//! which empties the outbox into webhooks and e-mail with retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use armstrace_core::CountryCode;
use armstrace_matcher::{Confidence, Match};
use armstrace_store::Store;
use armstrace_store::audit::AuditWho;
use armstrace_store::hits::{Attempt, Delivery, DeliveryTarget, NewHit, Notification};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

/// Which matches become hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitPolicy {
    /// The confidences that make a hit.
    pub confidences: Vec<Confidence>,
}

impl Default for HitPolicy {
    /// Exact and strong matches.
    fn default() -> Self {
        HitPolicy {
            confidences: vec![Confidence::Exact, Confidence::Strong],
        }
    }
}

impl HitPolicy {
    /// Reads `exact,strong` (any of exact, strong, possible), or `none`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim() == "none" {
            return Ok(HitPolicy {
                confidences: Vec::new(),
            });
        }
        let confidences = text
            .split(',')
            .map(|c| match c.trim() {
                "exact" => Ok(Confidence::Exact),
                "strong" => Ok(Confidence::Strong),
                "possible" => Ok(Confidence::Possible),
                other => Err(format!(
                    "'{other}' is not a confidence: give exact, strong, possible or none"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HitPolicy { confidences })
    }

    /// Whether `m` becomes a hit.
    pub fn makes_hit(&self, m: &Match) -> bool {
        self.confidences.contains(&m.confidence)
    }
}

/// What a check tells the hits it makes.
#[derive(Debug, Clone)]
pub struct HitContext {
    /// The check's identifier.
    pub check_id: String,
    /// The serial as typed.
    pub serial: String,
    /// The make as typed.
    pub make: Option<String>,
    /// The operation it is made in.
    pub operation: Option<String>,
    /// Who checks.
    pub who: AuditWho,
    /// The country a partner checks for.
    pub on_behalf_of: Option<CountryCode>,
}

impl HitContext {
    /// The hit `m` makes.
    pub fn hit(&self, m: &Match) -> NewHit {
        NewHit {
            check_id: self.check_id.clone(),
            firearm_id: m.firearm_id,
            confidence: token(&m.confidence),
            score: m.score,
            match_kind: token(&m.kind),
            make_relation: token(&m.make),
            differences: serde_json::to_value(&m.differences).unwrap_or_default(),
            serial_typed: self.serial.clone(),
            make_typed: self.make.clone(),
            operation: self.operation.clone(),
            who: self.who.clone(),
            on_behalf_of: self.on_behalf_of,
        }
    }
}

/// A value that serialises as a bare string (`exact`, `same`), as that string.
fn token<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Tells live streams and the sender that notifications were stored; they also look every
/// second, for what other processes store.
#[derive(Clone)]
pub struct Wake {
    sender: Arc<watch::Sender<u64>>,
    /// Until when (milliseconds after `origin`) a batch of checks is running.
    busy_until: Arc<std::sync::atomic::AtomicU64>,
    origin: Instant,
}

impl Default for Wake {
    fn default() -> Self {
        Wake {
            sender: Arc::new(watch::channel(0).0),
            busy_until: Arc::default(),
            origin: Instant::now(),
        }
    }
}

impl Wake {
    /// A batch of checks is running, for about `span` more: the sender holds back (at most
    /// [`MOST_HELD`]) so that the batch keeps the database writer and the cores.
    pub fn busy(&self, span: Duration) {
        let until = (self.origin.elapsed() + span).as_millis() as u64;
        self.busy_until
            .fetch_max(until, std::sync::atomic::Ordering::Relaxed);
    }

    /// How much longer a batch is expected to run.
    fn busy_for(&self) -> Option<Duration> {
        let until = self.busy_until.load(std::sync::atomic::Ordering::Relaxed);
        let now = self.origin.elapsed().as_millis() as u64;
        (until > now).then(|| Duration::from_millis(until - now))
    }

    /// Something new is stored.
    pub fn ring(&self) {
        self.sender.send_modify(|n| *n += 1);
    }

    /// A receiver to wait on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}

/// Waits until `wake` rings or `most` has passed.
pub async fn wait(wake: &mut watch::Receiver<u64>, most: Duration) {
    let _ = tokio::time::timeout(most, wake.changed()).await;
}

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct Sending {
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The first retry's delay; each next one doubles, up to an hour.
    pub retry_base: Duration,
    /// Attempts before a delivery is given up (it stays in the log).
    pub max_attempts: i64,
    /// Where e-mail goes out, if anywhere.
    pub smtp: Option<Smtp>,
}

impl Default for Sending {
    fn default() -> Self {
        Sending {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            max_attempts: 20,
            smtp: None,
        }
    }
}

/// An SMTP relay.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// `smtp://host:port` (plain, for a relay on the same network) or `smtps://host:port`.
    pub url: String,
    /// The sender address.
    pub from: String,
}

/// The delay before retry `attempt` (1 for the first retry).
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(1 << doublings)
        .min(Duration::from_secs(3600))
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Longest the sender holds back for running batches before it delivers anyway.
pub const MOST_HELD: Duration = Duration::from_secs(2);

/// Most deliveries in flight at once.
const IN_FLIGHT: usize = 128;

/// Most deliveries claimed in one transaction.
const CLAIM: usize = 512;

/// How long the sender lets notifications gather after a wake-up, and results gather
/// before they are recorded: fewer, larger transactions, and fewer turns at the single
/// SQLite writer taken from the checks.
const GATHER: Duration = Duration::from_millis(50);

/// Starts the sender: it claims due deliveries from the outbox in groups, sends each on its
/// own (a slow receiver holds up no other), and records the results in groups. A delivery
/// claimed by a process that dies is claimed again once its lease runs out, so nothing
/// acknowledged is lost (and a receiver may see a delivery twice: the idempotency key tells).
pub fn start_sender(store: Arc<dyn Store>, wake: Wake, sending: Sending) {
    let client = reqwest::Client::builder()
        .timeout(sending.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client builds");
    let mailer = sending.smtp.as_ref().and_then(|smtp| match mailer(smtp) {
        Ok(mailer) => Some(mailer),
        Err(error) => {
            tracing::error!(%error, "the SMTP relay cannot be used; e-mail deliveries wait");
            None
        }
    });
    // A claim outlives the slowest attempt twice over; the SMTP relay's time counts only when
    // there is one, so that without it another node takes over a dead node's claims sooner.
    let slowest = if sending.smtp.is_some() {
        sending.timeout.max(SMTP_TIMEOUT)
    } else {
        sending.timeout
    };
    let lease = chrono::Duration::from_std(slowest * 2 + Duration::from_secs(5))
        .unwrap_or(chrono::Duration::seconds(60));
    let (results, recorded) = tokio::sync::mpsc::channel::<(i64, String, Attempt)>(CLAIM * 2);
    tokio::spawn(record_results(store.clone(), recorded));
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let shared = Arc::new((client, mailer, sending));
    tokio::spawn(async move {
        let mut woken = wake.subscribe();
        loop {
            // A batch of checks is running: deliveries wait for it, though not for long.
            let mut held = Duration::ZERO;
            while let Some(left) = wake.busy_for() {
                if held >= MOST_HELD {
                    break;
                }
                let nap = left.min(GATHER);
                tokio::time::sleep(nap).await;
                held += nap;
            }
            // Every slot busy: wait for one to free up.
            if slots.available_permits() == 0 {
                drop(slots.acquire().await);
                tokio::time::sleep(GATHER).await;
                continue;
            }
            let free = slots.available_permits().min(CLAIM);
            let claimed = match store.claim_deliveries(lease, free as u32).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "claiming deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                wait(&mut woken, Duration::from_secs(1)).await;
                tokio::time::sleep(GATHER).await;
                continue;
            }
            for delivery in claimed {
                let permit = slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let (shared, results) = (shared.clone(), results.clone());
                tokio::spawn(async move {
                    let (client, mailer, sending) = &*shared;
                    let attempt = send(client, mailer.as_ref(), sending, &delivery).await;
                    if let Some(error) = &attempt.error {
                        tracing::warn!(delivery = delivery.id, attempt = delivery.attempts + 1, %error, "delivery failed");
                    }
                    let _ = results
                        .send((delivery.id, delivery.claim.clone(), attempt))
                        .await;
                    drop(permit);
                });
            }
            // At most one claim per gathering time: the checks need the writer more.
            tokio::time::sleep(GATHER).await;
        }
    });
}

/// Records delivery results as they come, many per transaction.
async fn record_results(
    store: Arc<dyn Store>,
    mut results: tokio::sync::mpsc::Receiver<(i64, String, Attempt)>,
) {
    while let Some(first) = results.recv().await {
        let mut group = vec![first];
        let until = tokio::time::Instant::now() + GATHER;
        while group.len() < CLAIM {
            match tokio::time::timeout_at(until, results.recv()).await {
                Ok(Some(more)) => group.push(more),
                _ => break,
            }
        }
        if let Err(error) = store.finish_deliveries(&group).await {
            tracing::error!(%error, "recording deliveries failed; they will be sent again");
        }
    }
}

type Mailer = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

/// How long an SMTP relay has to take a message.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

fn mailer(smtp: &Smtp) -> Result<Mailer, String> {
    Mailer::from_url(&smtp.url)
        .map(|builder| builder.timeout(Some(SMTP_TIMEOUT)).build())
        .map_err(|e| format!("{}: {e}", without_credentials(&smtp.url)))
}

/// A relay URL fit for a log line: any `user:password@` left out.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The body a webhook receives for a notification.
pub fn webhook_body(delivery: &Delivery) -> Vec<u8> {
    let n = &delivery.notification;
    serde_json::to_vec(&serde_json::json!({
        "id": n.id,
        "event": n.event,
        "hit_id": n.hit_id,
        "trace_id": n.trace_id,
        "org_id": n.org_id,
        "created_at": n.created_at,
        "data": n.data,
    }))
    .expect("JSON serialises")
}

async fn send(
    client: &reqwest::Client,
    mailer: Option<&Mailer>,
    sending: &Sending,
    delivery: &Delivery,
) -> Attempt {
    let started = Instant::now();
    let result: Result<Option<u16>, (Option<u16>, String)> = match &delivery.target {
        DeliveryTarget::Webhook { url, secret, .. } => {
            let body = webhook_body(delivery);
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-armstrace-signature", signature(secret, &body))
                .header("x-armstrace-event", &delivery.notification.event)
                .header("idempotency-key", format!("armstrace-{}", delivery.id))
                .body(body)
                .send()
                .await;
            match response {
                Ok(response) if response.status().is_success() => {
                    Ok(Some(response.status().as_u16()))
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    Err((Some(status), format!("the receiver answered {status}")))
                }
                Err(error) if error.is_timeout() => Err((
                    None,
                    format!("no answer within {} s", sending.timeout.as_secs_f32()),
                )),
                Err(error) => Err((None, format!("{error}"))),
            }
        }
        DeliveryTarget::Email { address } => match mailer {
            None => Err((
                None,
                "no SMTP relay is configured (serve --smtp-url)".into(),
            )),
            Some(mailer) => send_mail(mailer, sending, address, delivery)
                .await
                .map(|()| None)
                .map_err(|e| (None, e)),
        },
    };
    let millis = started.elapsed().as_millis() as i64;
    match result {
        Ok(status) => Attempt {
            status,
            error: None,
            millis,
            retry_at: None,
        },
        Err((status, error)) => {
            let attempt = delivery.attempts + 1;
            let retry_at = (attempt < sending.max_attempts).then(|| {
                chrono::Utc::now()
                    + chrono::Duration::from_std(backoff(sending.retry_base, attempt))
                        .unwrap_or(chrono::Duration::hours(1))
            });
            Attempt {
                status,
                error: Some(error),
                millis,
                retry_at,
            }
        }
    }
}

/// The subject and text of a hit's notification by e-mail.
fn hit_mail(n: &Notification) -> (String, String) {
    let hit = &n.data["hit"];
    let record = &hit["record"];
    let hit_id = n.hit_id.unwrap_or_default();
    let subject = format!(
        "Armstrace {}: hit {hit_id} on {} record {}",
        n.event,
        record["recording_country"].as_str().unwrap_or("?"),
        record["record_id"].as_str().unwrap_or("?")
    );
    let body = format!(
        "{event} on hit {hit_id}\n\nSerial typed: {serial}\nRecord: {record_id} ({country}), serial {recorded}, make {make}\nConfidence: {confidence}\nSearching organisation: {searcher}\n\nOpen the hit in Armstrace for the follow-up.\n",
        event = n.event,
        serial = hit["serial_typed"].as_str().unwrap_or(""),
        record_id = record["record_id"].as_str().unwrap_or(""),
        country = record["recording_country"].as_str().unwrap_or(""),
        recorded = record["serial_number"].as_str().unwrap_or(""),
        make = record["make"].as_str().unwrap_or(""),
        confidence = hit["confidence"].as_str().unwrap_or(""),
        searcher = hit["searching_organisation"].as_str().unwrap_or(""),
    );
    (subject, body)
}

/// The subject and text of a trace request's notification by e-mail.
fn trace_mail(n: &Notification, trace_id: i64) -> (String, String) {
    let trace = &n.data["trace"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let serials: Vec<String> = trace["serial_numbers"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    let subject = format!(
        "Armstrace {}: trace request {trace_id} from {} to {}",
        n.event,
        text(&trace["requester_country"]),
        text(&trace["to_country"]),
    );
    let body = format!(
        "{event} on trace request {trace_id} ({priority})\n\nFrom: {from} ({from_country})\nTo: {to_country}\nSerial numbers: {serials}\nMake: {make}\nCase reference: {case}\n{note}\nOpen the request in Armstrace for its timeline.\n",
        event = n.event,
        priority = text(&trace["priority"]),
        from = text(&trace["requester_organisation"]),
        from_country = text(&trace["requester_country"]),
        to_country = text(&trace["to_country"]),
        serials = serials.join(", "),
        make = text(&trace["make"]),
        case = text(&trace["case_reference"]),
        note = n.data["text"]
            .as_str()
            .map(|t| format!("\n{t}\n"))
            .unwrap_or_default(),
    );
    (subject, body)
}

async fn send_mail(
    mailer: &Mailer,
    sending: &Sending,
    address: &str,
    delivery: &Delivery,
) -> Result<(), String> {
    use lettre::AsyncTransport;
    let n = &delivery.notification;
    let from = sending
        .smtp
        .as_ref()
        .map(|s| s.from.clone())
        .unwrap_or_default();
    let (subject, body) = match n.trace_id {
        Some(trace_id) => trace_mail(n, trace_id),
        None => hit_mail(n),
    };
    let message = lettre::Message::builder()
        .from(from.parse().map_err(|e| format!("sender '{from}': {e}"))?)
        .to(address
            .parse()
            .map_err(|e| format!("duty address '{address}': {e}"))?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())?;
    mailer
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_relay_s_password_never_reaches_a_message() {
        assert_eq!(
            without_credentials("smtps://duty:s3cret@relay.example:465"),
            "smtps://relay.example:465"
        );
        assert_eq!(without_credentials("smtp://relay:25"), "smtp://relay:25");
    }

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 30), Duration::from_secs(3600));
    }

    #[test]
    fn the_policy_reads_confidences_or_none() {
        assert_eq!(
            HitPolicy::parse("exact,strong").unwrap(),
            HitPolicy::default()
        );
        assert!(HitPolicy::parse("none").unwrap().confidences.is_empty());
        assert!(HitPolicy::parse("sure").is_err());
    }
}
