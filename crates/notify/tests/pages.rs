//! Pages end to end, against real local servers written here: an SMTP
//! listener (tokio TCP, enough of SMTP for one message at a time) and an HTTP
//! server (axum) standing in for a Twilio-compatible SMS API, ntfy and a
//! webhook receiver. Real PostgreSQL, simulated time, the real transports.

use std::sync::{Arc, Mutex};

use axum::Router as Http;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::crisis::Severity;
use vivid_core::crisis::service::{self, NewIncident, Source};
use vivid_core::engine::Engine;
use vivid_core::engine::outbox::LogTarget;
use vivid_core::notify::config::Security;
use vivid_core::notify::{Method, contacts, model};
use vivid_core::privacy::crypto::{MasterKey, install_process_key};
use vivid_core::testing::{TestDb, default_config, fresh_db};
use vivid_notify::{Router, Secrets};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SID: &str = "AC0123456789";
const TOKEN: &str = "sms-token";
const HOOK_SECRET: &str = "hook-secret";

/// Wednesday 2026-12-02 15:00 UTC (10:00 in New York).
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// One HTTP request received: path, headers, body.
type Request = (String, HeaderMap, Bytes);
/// One message received: recipients and DATA.
type Mail = (Vec<String>, String);

/// What the local servers received.
#[derive(Debug, Clone, Default)]
struct Inbox {
    http: Arc<Mutex<Vec<Request>>>,
    mail: Arc<Mutex<Vec<Mail>>>,
}

impl Inbox {
    fn http_to(&self, prefix: &str) -> Vec<Request> {
        self.http
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|r| r.0.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mail(&self) -> Vec<Mail> {
        self.mail.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

async fn record(State(inbox): State<Inbox>, path: &str, headers: HeaderMap, body: Bytes) {
    if let Ok(mut v) = inbox.http.lock() {
        v.push((path.to_string(), headers, body));
    }
}

/// The HTTP side: SMS API, ntfy (a topic named "down" answers 500), webhooks.
async fn http_server(inbox: Inbox) -> std::io::Result<String> {
    let app = Http::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(
                |State(i): State<Inbox>, Path(sid): Path<String>, h: HeaderMap, b: Bytes| async move {
                    record(State(i), &format!("/sms/{sid}"), h, b).await;
                    (StatusCode::CREATED, "{\"sid\":\"SM1\"}")
                },
            ),
        )
        .route(
            "/ntfy/{topic}",
            post(
                |State(i): State<Inbox>, Path(topic): Path<String>, h: HeaderMap, b: Bytes| async move {
                    record(State(i), &format!("/ntfy/{topic}"), h, b).await;
                    if topic == "down" {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .route(
            "/hook/{name}",
            post(
                |State(i): State<Inbox>, Path(name): Path<String>, h: HeaderMap, b: Bytes| async move {
                    record(State(i), &format!("/hook/{name}"), h, b).await;
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(inbox);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    Ok(url)
}

/// Enough SMTP for a client sending plain messages: EHLO/HELO, MAIL, RCPT,
/// DATA, RSET, NOOP, QUIT. Returns the port.
async fn smtp_server(inbox: Inbox) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if write
                    .write_all(b"220 localhost test SMTP\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-localhost\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        rcpt.clear();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        rcpt.push(line[8..].trim().to_string());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        if write.write_all(b"354 end with .\r\n").await.is_err() {
                            return;
                        }
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            data.push('\n');
                        }
                        if let Ok(mut m) = inbox.mail.lock() {
                            m.push((rcpt.clone(), data));
                        }
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.ok();
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
    Ok(port)
}

struct World {
    _db: TestDb,
    ctx: Ctx,
    clock: SimClock,
    engine: Engine,
    inbox: Inbox,
    http: String,
}

/// P1 ladder: level 1 pages kai, level 2 (15 minutes later) theo.
async fn world(page_max_attempts: u32) -> Result<World, Box<dyn std::error::Error>> {
    install_process_key(MasterKey::generate()?);
    let inbox = Inbox::default();
    let http = http_server(inbox.clone()).await?;
    let smtp = smtp_server(inbox.clone()).await?;
    let mut config = default_config();
    let p1 = config
        .escalation
        .policies
        .get_mut("crisis-p1")
        .ok_or("no crisis-p1 policy")?;
    p1.levels[0].targets = vec!["person:kai".into()];
    p1.levels[1].targets = vec!["person:theo".into()];
    p1.repeat = 0;
    let n = &mut config.notify;
    n.email.host = "127.0.0.1".into();
    n.email.port = smtp;
    n.email.security = Security::None;
    n.sms.base_url = http.clone();
    n.sms.from = "+15550100000".into();
    n.push.server = format!("{http}/ntfy");
    n.page_max_attempts = page_max_attempts;
    n.rate_per_minute.clear();
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(config, Arc::new(clock.clone())).await?;
    let secrets = Secrets {
        sms_account: Some(SID.into()),
        sms_token: Some(TOKEN.into()),
        webhook_secret: Some(HOOK_SECRET.into()),
        ..Secrets::default()
    };
    let router = Router::with_secrets(&ctx.config.notify, secrets, Arc::new(LogTarget))?;
    let engine = Engine::new(ctx.clone(), Arc::new(router));
    Ok(World {
        _db: db,
        ctx,
        clock,
        engine,
        inbox,
        http,
    })
}

fn p1(title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: "Customers cannot pay.".into(),
        severity: Severity::P1,
        source: Source::Manual,
        source_ref: None,
        departments: vec!["technology".into()],
        commander: None,
        trigger_key: None,
    }
}

async fn states(
    ctx: &Ctx,
    incident: i64,
) -> Result<Vec<(i32, String, String, String)>, Box<dyn std::error::Error>> {
    let d = service::detail(ctx, incident).await?;
    Ok(d.delivery
        .levels
        .iter()
        .flat_map(|l| {
            l.pages
                .iter()
                .map(move |p| (l.level, p.person.clone(), p.method.clone(), p.state.clone()))
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_carries_the_title_and_how_to_acknowledge() -> TestResult {
    let w = world(3).await?;
    let ctx = &w.ctx;
    contacts::add(ctx, "kai", Method::Push, "kai-oncall", "kai").await?;
    contacts::add(ctx, "kai", Method::Sms, "+1 555 123 0001", "kai").await?;
    contacts::add(ctx, "kai", Method::Email, "kai@example.com", "kai").await?;
    contacts::add(
        ctx,
        "kai",
        Method::Webhook,
        &format!("{}/hook/kai", w.http),
        "kai",
    )
    .await?;
    let inc = service::open(ctx, &p1("Checkout is down"), "olu")
        .await?
        .ok_or("not opened")?;
    let ack = format!("vivid crisis ack {} --as kai", inc.id);

    // At once: push and the webhook.
    w.engine.run_pass().await?;
    let push = w.inbox.http_to("/ntfy/kai-oncall");
    assert_eq!(push.len(), 1, "one push");
    let (_, headers, body) = &push[0];
    let title = headers
        .get("Title")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(title.contains("Checkout is down"), "{title}");
    assert_eq!(
        headers.get("Priority").and_then(|v| v.to_str().ok()),
        Some("urgent")
    );
    assert!(String::from_utf8_lossy(body).contains(&ack), "{body:?}");
    let hook = w.inbox.http_to("/hook/kai");
    assert_eq!(hook.len(), 1, "one webhook");
    let (_, headers, body) = &hook[0];
    let signature = headers
        .get("X-Vivid-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        model::verify(HOOK_SECRET.as_bytes(), body, signature),
        "signed"
    );
    assert!(!model::verify(b"another secret", body, signature));
    let json: serde_json::Value = serde_json::from_slice(body)?;
    assert!(
        json["title"]
            .as_str()
            .is_some_and(|t| t.contains("Checkout is down"))
    );
    assert!(
        json["acknowledge"]
            .as_str()
            .is_some_and(|t| t.contains(&ack))
    );
    assert_eq!(json["level"], 1);
    assert!(
        w.inbox.http_to("/sms/").is_empty(),
        "no SMS before 5 minutes"
    );
    assert!(w.inbox.mail().is_empty(), "no e-mail before 10 minutes");

    // After 5 minutes: the SMS, form-encoded, with basic auth.
    w.clock.advance(TimeDelta::minutes(5));
    w.engine.run_pass().await?;
    let sms = w.inbox.http_to(&format!("/sms/{SID}"));
    assert_eq!(sms.len(), 1, "one SMS");
    let (_, headers, body) = &sms[0];
    let auth = headers
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(
        auth, "Basic QUMwMTIzNDU2Nzg5OnNtcy10b2tlbg==",
        "basic auth sid:token"
    );
    let form: Vec<(String, String)> = url_decode(body);
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("To"), "+15551230001");
    assert_eq!(field("From"), "+15550100000");
    assert!(field("Body").contains("Checkout is down"), "{form:?}");
    assert!(field("Body").contains(&ack), "{form:?}");
    assert!(w.inbox.mail().is_empty());

    // After 10 minutes: the e-mail.
    w.clock.advance(TimeDelta::minutes(5));
    w.engine.run_pass().await?;
    let mail = w.inbox.mail();
    assert_eq!(mail.len(), 1, "one e-mail");
    let (rcpt, data) = &mail[0];
    assert_eq!(rcpt, &vec!["<kai@example.com>".to_string()]);
    assert!(
        data.contains("Subject: [VividWalls] [escalation L1] [P1]"),
        "{data}"
    );
    assert!(data.contains("Checkout is down"), "{data}");
    assert!(data.contains(&ack), "{data}");

    let seen = states(ctx, inc.id).await?;
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen.iter()
            .all(|(l, p, _, s)| *l == 1 && p == "kai" && s == "delivered"),
        "{seen:?}"
    );
    // The contact details never reached the event log or the outbox in clear.
    let leaked: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%kai@example.com%' OR payload::text LIKE '%5551230001%')
              + (SELECT count(*) FROM outbox WHERE body LIKE '%kai@example.com%' OR payload::text LIKE '%kai-oncall%')
              + (SELECT count(*) FROM contact_methods WHERE encode(sealed, 'escape') LIKE '%example.com%')",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(leaked, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_stops_the_remaining_steps() -> TestResult {
    let w = world(3).await?;
    let ctx = &w.ctx;
    contacts::add(ctx, "kai", Method::Push, "kai-oncall", "kai").await?;
    contacts::add(ctx, "kai", Method::Sms, "+15551230001", "kai").await?;
    contacts::add(ctx, "kai", Method::Email, "kai@example.com", "kai").await?;
    contacts::add(ctx, "theo", Method::Push, "theo-oncall", "theo").await?;
    let inc = service::open(ctx, &p1("Checkout is down"), "olu")
        .await?
        .ok_or("not opened")?;
    w.engine.run_pass().await?;
    assert_eq!(w.inbox.http_to("/ntfy/kai-oncall").len(), 1);
    let d = service::detail(ctx, inc.id).await?;
    let next: Vec<&str> = d.delivery.next.iter().map(|n| n.what.as_str()).collect();
    assert_eq!(
        next,
        vec!["sms to kai", "email to kai", "escalation level 2"],
        "{next:?}"
    );
    assert_eq!(d.delivery.next[0].at, t0() + TimeDelta::minutes(5));

    w.clock.advance(TimeDelta::minutes(2));
    service::acknowledge(ctx, inc.id, "kai").await?;
    // Past every step and level 2's time (and short of the un-ack timeout,
    // which would start paging again).
    w.clock.advance(TimeDelta::minutes(20));
    w.engine.run_pass().await?;
    assert!(
        w.inbox.http_to("/sms/").is_empty(),
        "no SMS after the acknowledgement"
    );
    assert!(
        w.inbox.mail().is_empty(),
        "no e-mail after the acknowledgement"
    );
    assert!(
        w.inbox.http_to("/ntfy/theo-oncall").is_empty(),
        "level 2 not paged"
    );
    let seen = states(ctx, inc.id).await?;
    let state_of = |m: &str| {
        seen.iter()
            .find(|(_, _, method, _)| method == m)
            .map(|(_, _, _, s)| s.clone())
            .unwrap_or_default()
    };
    assert_eq!(state_of("push"), "delivered");
    assert_eq!(state_of("sms"), "cancelled");
    assert_eq!(state_of("email"), "cancelled");
    let d = service::detail(ctx, inc.id).await?;
    assert!(d.delivery.next.is_empty(), "{:?}", d.delivery.next);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_out_of_reach_is_skipped_at_once_and_shown_failed() -> TestResult {
    let w = world(2).await?;
    let ctx = &w.ctx;
    // kai's only way in is a push topic whose server fails.
    contacts::add(ctx, "kai", Method::Push, "down", "kai").await?;
    contacts::add(ctx, "theo", Method::Push, "theo-oncall", "theo").await?;
    let inc = service::open(ctx, &p1("Checkout is down"), "olu")
        .await?
        .ok_or("not opened")?;
    w.engine.run_pass().await?;
    assert_eq!(w.inbox.http_to("/ntfy/down").len(), 1);
    assert!(
        w.inbox.http_to("/ntfy/theo-oncall").is_empty(),
        "one failure is retried first"
    );
    // The retry (after the backoff) fails too: kai cannot be reached, so
    // level 2 is paged at once instead of after 15 minutes.
    w.clock.advance(TimeDelta::seconds(3));
    w.engine.run_pass().await?;
    assert_eq!(w.inbox.http_to("/ntfy/down").len(), 2);
    assert_eq!(
        w.inbox.http_to("/ntfy/theo-oncall").len(),
        1,
        "level 2 paged at once"
    );
    let seen = states(ctx, inc.id).await?;
    assert_eq!(
        seen,
        vec![
            (1, "kai".into(), "push".into(), "failed".into()),
            (2, "theo".into(), "push".into(), "delivered".into()),
        ]
    );
    let d = service::detail(ctx, inc.id).await?;
    let failed = &d.delivery.levels[0].pages[0];
    assert!(
        failed.error.as_deref().is_some_and(|e| e.contains("500")),
        "{failed:?}"
    );
    assert!(
        !failed.error.as_deref().unwrap_or_default().contains("down"),
        "no topic in the reason"
    );
    let escalated = d
        .timeline
        .iter()
        .rfind(|e| e.action == "escalated")
        .ok_or("no escalated event")?;
    let reason = escalated.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with(
            "level 1 could not be reached (kai: push failed (the push server answered 500"
        ),
        "{reason}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_are_sealed_masked_and_checked() -> TestResult {
    let w = world(3).await?;
    let ctx = &w.ctx;
    let c = contacts::add(ctx, "kai", Method::Email, "Kai.Tanaka@Example.com", "kai").await?;
    assert_eq!(c.hint, "K•••@example.com");
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM contact_methods WHERE id = $1")
        .bind(c.id)
        .fetch_one(&ctx.pool)
        .await?;
    assert!(!String::from_utf8_lossy(&sealed).contains("Tanaka"));
    let revealed = contacts::reveal(ctx, c.id).await?;
    assert_eq!(revealed.detail.as_str(), "Kai.Tanaka@example.com");
    assert!(!format!("{revealed:?}").contains("Tanaka"), "Debug redacts");
    // A ciphertext moved to another row does not open.
    let other = contacts::add(ctx, "kai", Method::Email, "other@example.com", "kai").await?;
    sqlx::query("UPDATE contact_methods SET sealed = $1, wrapped_key = (SELECT wrapped_key FROM contact_methods WHERE id = $2) WHERE id = $3")
        .bind(&sealed)
        .bind(c.id)
        .bind(other.id)
        .execute(&ctx.pool)
        .await?;
    assert!(contacts::reveal(ctx, other.id).await.is_err());
    // Bad input changes nothing, with a reason.
    let e = contacts::add(ctx, "kai", Method::Sms, "555-1234", "kai")
        .await
        .expect_err("not international");
    assert!(e.to_string().contains("international"), "{e}");
    let e = contacts::add(ctx, "kai", Method::Email, "x@example.com", "dana")
        .await
        .expect_err("not theirs");
    assert!(e.to_string().contains("may not change kai"), "{e}");
    assert_eq!(contacts::list(ctx, Some("kai")).await?.len(), 2);
    contacts::remove(ctx, other.id, "kai").await?;
    let left = contacts::list(ctx, Some("kai")).await?;
    assert_eq!(left.len(), 1);
    assert!(
        contacts::remove(ctx, other.id, "kai").await.is_err(),
        "already gone"
    );
    Ok(())
}

fn url_decode(body: &[u8]) -> Vec<(String, String)> {
    fn unescape(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}
