//! Test support (like `vivid_core::testing`): a local stand-in for Discord's
//! REST API that records what it receives and answers as Discord does (or
//! as scripted: a 429, a 500), a signer for interaction requests, and
//! builders for interaction payloads. Used by this crate's tests, the
//! end-to-end tests of the binary and the endpoint benchmark; nothing in the
//! bot itself calls it.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde_json::{Value, json};

/// The HTTP client the helpers below take (for crates that do not depend on reqwest).
pub use reqwest::Client as HttpClient;

/// One request the fake Discord received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl Recorded {
    /// The body as text, to look for words in it.
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

struct Scripted {
    method: String,
    path_prefix: String,
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

#[derive(Default)]
struct FakeState {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Scripted>>,
    next_id: AtomicU64,
}

impl FakeState {
    fn id(&self) -> String {
        (300_000_000_000_000_000 + self.next_id.fetch_add(1, Ordering::Relaxed)).to_string()
    }
}

/// A local Discord REST API on its own thread (so a test may block freely).
pub struct FakeDiscord {
    addr: SocketAddr,
    state: Arc<FakeState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDiscord {
    pub fn start() -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(FakeState::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let app = Router::new().fallback(fake_route).with_state(state.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        stopped.await.ok();
                    })
                    .await
                    .ok();
            });
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The API base to configure (`VIVID__DISCORD__API_BASE`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer the next request matching method and path prefix with this,
    /// instead of the usual answer. Scripts are used in order, once each.
    pub fn respond_once(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        body: Value,
        headers: &[(&str, &str)],
    ) {
        if let Ok(mut s) = self.state.script.lock() {
            s.push_back(Scripted {
                method: method.to_string(),
                path_prefix: path_prefix.to_string(),
                status,
                body,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Requests with this method whose path starts with `prefix`.
    pub fn matching(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }

    /// Wait (up to `timeout`) for a request that satisfies `pred`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&Recorded) -> bool,
    ) -> Option<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return Some(r);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

fn json_reply(status: u16, body: &Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            axum::http::HeaderValue::try_from(v.as_str()),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

async fn fake_route(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut r) = state.requests.lock() {
        r.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: body.clone(),
        });
    }
    let scripted = state.script.lock().ok().and_then(|mut s| {
        let i = s
            .iter()
            .position(|x| x.method == method.as_str() && path.starts_with(&x.path_prefix))?;
        s.remove(i)
    });
    if let Some(s) = scripted {
        return json_reply(s.status, &s.body, &s.headers);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ok = |v: Value| json_reply(200, &v, &[]);
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["channels", channel, "messages"]) => {
            ok(json!({ "id": state.id(), "channel_id": channel }))
        }
        ("PATCH", ["channels", channel, "messages", message]) => {
            ok(json!({ "id": message, "channel_id": channel }))
        }
        ("POST", ["users", "@me", "channels"]) => ok(json!({ "id": state.id(), "type": 1 })),
        ("GET", ["applications", "@me"]) => ok(json!({ "id": "1100000000000000001" })),
        ("PUT", ["applications", ..]) => ok(body),
        ("POST", ["interactions", ..]) | ("DELETE", ["webhooks", ..]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("PATCH" | "POST", ["webhooks", ..]) => ok(json!({ "id": state.id() })),
        _ => json_reply(404, &json!({ "message": "404: Not Found", "code": 0 }), &[]),
    }
}

/// Signs interaction requests as Discord does.
pub struct Signer(SigningKey);

impl Signer {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// A new key pair, different in every process.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        let random = std::collections::hash_map::RandomState::new();
        for (i, chunk) in seed.chunks_mut(8).enumerate() {
            let mut h = random.build_hasher();
            h.write_usize(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        Self::from_seed(seed)
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// What DISCORD_PUBLIC_KEY holds.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// The X-Signature-Ed25519 header for this timestamp and body.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        hex::encode(self.0.sign(&message).to_bytes())
    }
}

/// Seconds since the epoch, as the timestamp header has it.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// POST a body with the given signature headers; returns status and JSON.
pub async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: Vec<u8>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(s) = signature {
        req = req.header("X-Signature-Ed25519", s);
    }
    if let Some(t) = timestamp {
        req = req.header("X-Signature-Timestamp", t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// POST an interaction signed now.
pub async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    signer: &Signer,
    interaction: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let body = interaction.to_string().into_bytes();
    let ts = now_unix().to_string();
    let sig = signer.sign(&ts, &body);
    post_raw(client, url, Some(&sig), Some(&ts), body).await
}

static NEXT: AtomicU64 = AtomicU64::new(1);

fn envelope(kind: u8, user: &str, data: Value) -> Value {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    json!({
        "id": format!("{}", 900_000_000_000_000_000u64 + pid * 1_000_000 + n),
        "application_id": "1100000000000000001",
        "type": kind,
        "token": format!("interaction-token-{pid}-{n}"),
        "version": 1,
        "guild_id": "1200000000000000001",
        "channel_id": "200000000000000001",
        "member": { "user": { "id": user, "username": format!("user{user}") }, "roles": [] },
        "data": data,
    })
}

/// Discord's PING.
pub fn ping() -> Value {
    let mut v = envelope(1, "0", Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("data");
        o.remove("member");
    }
    v
}

/// A slash command: `command(user, "crisis", Some("ack"), json!([{"name":"id","type":4,"value":42}]))`.
pub fn command(user: &str, name: &str, subcommand: Option<&str>, options: Value) -> Value {
    let options = match subcommand {
        Some(sub) => json!([{ "name": sub, "type": 1, "options": options }]),
        None => options,
    };
    envelope(
        2,
        user,
        json!({ "id": "1300000000000000001", "name": name, "type": 1, "options": options }),
    )
}

/// A button press on a message.
pub fn component(user: &str, custom_id: &str, message_id: &str) -> Value {
    let mut v = envelope(
        3,
        user,
        json!({ "custom_id": custom_id, "component_type": 2 }),
    );
    v["message"] = json!({ "id": message_id, "channel_id": "200000000000000001" });
    v
}

/// A submitted modal; `message_id` when it was opened from a button.
pub fn modal_submit(
    user: &str,
    custom_id: &str,
    fields: &[(&str, &str)],
    message_id: Option<&str>,
) -> Value {
    let rows: Vec<Value> = fields
        .iter()
        .map(|(k, v)| json!({ "type": 1, "components": [{ "type": 4, "custom_id": k, "value": v }] }))
        .collect();
    let mut v = envelope(
        5,
        user,
        json!({ "custom_id": custom_id, "components": rows }),
    );
    if let Some(m) = message_id {
        v["message"] = json!({ "id": m, "channel_id": "200000000000000001" });
    }
    v
}

/// Autocomplete while typing an option.
pub fn autocomplete(
    user: &str,
    name: &str,
    subcommand: Option<&str>,
    option: &str,
    typed: Value,
) -> Value {
    let mut v = command(
        user,
        name,
        subcommand,
        json!([{ "name": option, "type": 4, "value": typed, "focused": true }]),
    );
    v["type"] = json!(4);
    v
}
