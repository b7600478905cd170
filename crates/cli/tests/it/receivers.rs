//! Receivers the hit tests deliver to, on 127.0.0.1: a webhook receiver that fails, answers
//! slowly or takes deliveries as it is told, and a minimal SMTP server that keeps the mail.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// 500.
    Fail,
    /// 200, after this long (longer than the sender waits).
    Slow(Duration),
    /// 200 at once.
    Take,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub body: serde_json::Value,
    pub idempotency_key: String,
    /// Whether the signature is the HMAC-SHA256 of the raw body with the secret.
    pub signed: bool,
    /// Whether it was taken (answered 200 at once).
    pub taken: bool,
}

#[derive(Clone)]
struct Shared {
    secret: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    got: Arc<Mutex<Vec<Delivered>>>,
}

/// A webhook receiver.
pub struct Receiver {
    pub address: SocketAddr,
    got: Arc<Mutex<Vec<Delivered>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on `listener`, answering by `script` first and taking everything after.
    pub fn start(listener: std::net::TcpListener, secret: &str, script: Vec<Answer>) -> Self {
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Shared {
            secret: secret.to_string(),
            script: Arc::new(Mutex::new(script.into())),
            got: Arc::default(),
        };
        let got = shared.got.clone();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { address, got, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Delivered> {
        self.got.lock().unwrap().clone()
    }

    /// The distinct deliveries taken (a retried delivery keeps its idempotency key).
    pub fn taken_keys(&self) -> std::collections::BTreeSet<String> {
        self.received()
            .into_iter()
            .filter(|d| d.taken)
            .map(|d| d.idempotency_key)
            .collect()
    }

    /// Waits up to `most` until `done` holds of what was received.
    pub async fn wait_for(&self, most: Duration, done: impl Fn(&Receiver) -> bool) -> bool {
        let until = std::time::Instant::now() + most;
        while std::time::Instant::now() < until {
            if done(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        done(self)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answer = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Take);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(shared.secret.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let delivered = Delivered {
        body: serde_json::from_slice(&body).unwrap_or_default(),
        idempotency_key: header("idempotency-key"),
        signed: header("x-armstrace-signature") == expected,
        taken: matches!(answer, Answer::Take),
    };
    shared.got.lock().unwrap().push(delivered);
    match answer {
        Answer::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
        Answer::Take => StatusCode::OK,
    }
}

/// A message as the SMTP server kept it: its envelope recipients and its text.
pub type Mail = (Vec<String>, String);

/// A minimal SMTP server that keeps each message's envelope recipients and text.
pub struct SmtpSink {
    pub address: SocketAddr,
    mail: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mail: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let kept = mail.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut recipients = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let command = line.to_ascii_uppercase();
                        let reply: &[u8] = if command.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if command.starts_with("RCPT TO:") {
                            recipients.push(line[8..].trim().to_string());
                            b"250 OK\r\n"
                        } else if command.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut text = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                text.push_str(&line);
                                text.push('\n');
                            }
                            kept.lock()
                                .unwrap()
                                .push((std::mem::take(&mut recipients), text));
                            b"250 kept\r\n"
                        } else if command.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink {
            address,
            mail,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    pub fn mail(&self) -> Vec<Mail> {
        self.mail.lock().unwrap().clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
