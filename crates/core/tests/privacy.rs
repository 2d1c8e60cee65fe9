//! Compliance and data privacy against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::crisis::Severity;
use vivid_core::engine::approvals::Decision;
use vivid_core::engine::{Engine, outbox::LogTarget};
use vivid_core::journey::{self, service::NewTouch};
use vivid_core::privacy::crypto::{FieldBinding, MasterKey, WrapBinding};
use vivid_core::privacy::model::RequestKind;
use vivid_core::privacy::service::{self, BreachInfoUpdate, NewBreach, NewRequest, ReadRequest};
use vivid_core::privacy::{audit, read, report};
use vivid_core::testing::{TestDb, default_config, fresh_db};
use vivid_core::when::{self, Bound, Relative};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Wednesday 2026-12-02 15:00 UTC (10:00 in New York).
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock, MasterKey), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    Ok((db, ctx, clock, MasterKey::generate()?))
}

const EMAIL: &str = "ana.lima.test@example.org";

fn customer(email: &str) -> Vec<(String, String)> {
    [
        ("full_name", "Ana Lima"),
        ("email", email),
        ("phone", "+351 912 345 678"),
        ("shipping_address", "Rua das Flores 12, 4050-262 Porto"),
        ("ip_address", "198.51.100.7"),
        ("country", "PT"),
        ("order_total_cents", "12900"),
        ("newsletter_opt_in", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

async fn read(
    ctx: &Ctx,
    key: &MasterKey,
    subject: &str,
    names: &[&str],
    purpose: &str,
    actor: &str,
) -> Result<service::PiiRead, vivid_core::Error> {
    let f = fields(names);
    service::read(
        ctx,
        key,
        &ReadRequest {
            subject,
            fields: (!names.is_empty()).then_some(f.as_slice()),
            purpose,
            actor,
        },
    )
    .await
}

/// Rows anywhere in the database whose stored bytes contain `needle`: every
/// table's rows as text (text, jsonb, arrays) and every bytea column raw.
async fn stored_anywhere(ctx: &Ctx, needle: &str) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let mut hits = Vec::new();
    for (schema, table) in tables {
        let q = format!("\"{schema}\".\"{table}\"");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {q} t WHERE position($1 in t::text) > 0"
        )))
        .bind(needle)
        .fetch_one(&ctx.pool)
        .await?;
        if n > 0 {
            hits.push(format!("{table} (as text)"));
        }
        let bytea: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
        )
        .bind(&schema)
        .bind(&table)
        .fetch_all(&ctx.pool)
        .await?;
        for col in bytea {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {q} WHERE position(convert_to($1, 'UTF8') in \"{col}\") > 0"
            )))
            .bind(needle)
            .fetch_one(&ctx.pool)
            .await?;
            if n > 0 {
                hits.push(format!("{table}.{col} (bytes)"));
            }
        }
    }
    Ok(hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_classifies_every_field_and_seals_pii() -> TestResult {
    let (_db, ctx, _clock, key) = setup().await?;
    let mut record = customer(EMAIL);
    record.push(("shoe_size".into(), "38".into()));
    let refused = err_text(service::collect(&ctx, &key, Some("C1"), &record, "olu").await);
    assert!(
        refused.contains("`shoe_size` is not classified"),
        "{refused}"
    );
    let mislabelled = vec![("country".to_string(), format!("write to {EMAIL}"))];
    assert!(
        err_text(service::collect(&ctx, &key, Some("C1"), &mislabelled, "olu").await)
            .contains("looks like an e-mail address")
    );
    assert!(
        err_text(service::collect(&ctx, &key, Some(EMAIL), &customer(EMAIL), "olu").await)
            .contains("reference")
    );
    let subjects: i64 = sqlx::query_scalar("SELECT count(*) FROM privacy_subjects")
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(subjects, 0, "a refused record stores nothing");

    let done = service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    assert!(done.created);
    assert_eq!(done.fields.iter().filter(|f| f.pii).count(), 5);
    let analytics: Vec<(String, String)> =
        sqlx::query_as("SELECT field, value FROM privacy_analytics ORDER BY field")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(
        analytics,
        [
            ("country".to_string(), "PT".to_string()),
            ("newsletter_opt_in".into(), "true".into()),
            ("order_total_cents".into(), "12900".into())
        ]
    );
    // Sealed: nonce + ciphertext + tag, no plaintext.
    let sealed: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT field, ciphertext FROM privacy_pii ORDER BY field")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(sealed.len(), 5);
    for (field, bytes) in &sealed {
        assert!(bytes.len() >= 28, "{field}");
        assert!(!bytes.windows(8).any(|w| w == &b"ana.lima"[..]));
    }
    // A ciphertext moved to another row fails authentication.
    let (id, subject_id, ct): (i64, i64, Vec<u8>) =
        sqlx::query_as("SELECT id, subject_id, ciphertext FROM privacy_pii WHERE field = 'email'")
            .fetch_one(&ctx.pool)
            .await?;
    sqlx::query("UPDATE privacy_pii SET ciphertext = $1 WHERE field = 'phone'")
        .bind(&ct)
        .execute(&ctx.pool)
        .await?;
    let moved = err_text(
        read(
            &ctx,
            &key,
            "C1",
            &["phone"],
            "support: call back about an order",
            "jun",
        )
        .await,
    );
    assert!(moved.contains("authentication failed"), "{moved}");
    let _ = (id, subject_id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_the_role_and_a_purpose_and_every_attempt_is_logged() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    clock.advance(TimeDelta::minutes(5));
    let ok = read(
        &ctx,
        &key,
        "C1",
        &["email", "phone"],
        "support: ticket 4411",
        "jun",
    )
    .await?;
    assert_eq!(ok.values.get("email").map(String::as_str), Some(EMAIL));
    // No role for network data; no purpose; nobody; unknown subject; PII in the purpose.
    assert!(
        err_text(
            read(
                &ctx,
                &key,
                "C1",
                &["ip_address"],
                "support: ticket 4411",
                "jun"
            )
            .await
        )
        .contains("may not read network")
    );
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], "", "jun").await).contains("needs a purpose")
    );
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], "aaaaaaaa", "jun").await)
            .contains("\"aaaaaaaa\" is not a purpose personal data may be read for")
    );
    assert!(
        err_text(
            read(
                &ctx,
                &key,
                "C1",
                &[],
                "marketing: testimonial search",
                "remy"
            )
            .await
        )
        .contains("may not read")
    );
    assert!(
        err_text(
            read(
                &ctx,
                &key,
                "C404",
                &["email"],
                "support: ticket 4411",
                "jun"
            )
            .await
        )
        .contains("no data subject \"C404\"")
    );
    assert!(
        err_text(
            read(
                &ctx,
                &key,
                "C1",
                &["email"],
                "support: ticket 4411",
                "nobody"
            )
            .await
        )
        .contains("unknown person")
    );
    let leaky = format!("customer {EMAIL} called");
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], &leaky, "jun").await).contains("personal data")
    );
    let log: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT actor, outcome, purpose, reason FROM privacy_access_log ORDER BY id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(log.len(), 8, "{log:?}");
    assert_eq!(log[0].1, "granted");
    assert_eq!(log.iter().filter(|l| l.1 == "refused").count(), 7);
    assert!(
        log.iter().all(|l| !l.2.contains(EMAIL)),
        "the purpose with PII is withheld"
    );
    // The log is append-only.
    let update = sqlx::query("UPDATE privacy_access_log SET purpose = 'x'")
        .execute(&ctx.pool)
        .await;
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
    let delete = sqlx::query("DELETE FROM privacy_access_log")
        .execute(&ctx.pool)
        .await;
    assert!(delete.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_loudly_and_rotation_rewraps_without_touching_data() -> TestResult {
    let (_db, ctx, _clock, key) = setup().await?;
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let wrong = MasterKey::generate()?;
    assert!(
        err_text(service::check_key(&ctx, &wrong).await).contains("not this database's master key")
    );
    assert!(
        err_text(read(&ctx, &wrong, "C1", &["email"], "support: ticket 1", "jun").await)
            .contains("not this database's master key")
    );
    let before: Vec<Vec<u8>> = sqlx::query_scalar("SELECT ciphertext FROM privacy_pii ORDER BY id")
        .fetch_all(&ctx.pool)
        .await?;
    let new = MasterKey::generate()?;
    assert!(
        err_text(service::rotate_master(&ctx, &key, &new, "kai").await).contains("cannot rotate")
    );
    assert!(
        err_text(service::rotate_master(&ctx, &key, &key, "theo").await)
            .contains("is the current key")
    );
    assert!(
        err_text(service::rotate_master(&ctx, &wrong, &new, "theo").await)
            .contains("not this database's")
    );
    let r = service::rotate_master(&ctx, &key, &new, "theo").await?;
    assert_eq!((r.from_version, r.to_version, r.rewrapped), (1, 2, 1));
    let after: Vec<Vec<u8>> = sqlx::query_scalar("SELECT ciphertext FROM privacy_pii ORDER BY id")
        .fetch_all(&ctx.pool)
        .await?;
    assert_eq!(before, after, "the data is not touched");
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], "support: ticket 1", "jun").await)
            .contains("version 2")
    );
    let ok = read(&ctx, &new, "C1", &["email"], "support: ticket 1", "jun").await?;
    assert_eq!(ok.values.get("email").map(String::as_str), Some(EMAIL));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_document_compliance_and_an_access_anomaly_opens_a_privacy_incident() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    let start = t0() - TimeDelta::days(16);
    clock.set(start);
    for n in 1..=6 {
        service::collect(
            &ctx,
            &key,
            Some(&format!("C{n}")),
            &customer(&format!("c{n}@example.org")),
            "olu",
        )
        .await?;
    }
    // The first scheduled audit, a day after the first collection: compliant.
    clock.set(start + TimeDelta::days(1));
    engine.run_pass().await?;
    let first = audit::audits(&ctx, 10).await?;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].trigger.as_str(), first[0].outcome.as_str()),
        ("scheduled", "compliant")
    );
    assert!(first[0].documentation.contains("Outcome: **compliant**"));
    let next: DateTime<Utc> = sqlx::query_scalar(
        "SELECT due_at FROM timers WHERE kind = 'privacy.audit' AND status = 'pending'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(
        next,
        start + TimeDelta::days(2),
        "it reschedules itself on its grid"
    );
    // Two weeks of three reads a day by support, then a burst of 45.
    for day in 1..=14 {
        for i in 0..3 {
            clock.set(t0() - TimeDelta::days(day) - TimeDelta::hours(i));
            read(
                &ctx,
                &key,
                &format!("C{}", 1 + i),
                &["email"],
                "support: ticket follow-up",
                "jun",
            )
            .await?;
        }
    }
    for i in 0..45 {
        clock.set(t0() - TimeDelta::hours(2) + TimeDelta::minutes(i));
        read(
            &ctx,
            &key,
            &format!("C{}", 1 + i % 6),
            &["email", "phone"],
            "marketing: mailing list export",
            "jun",
        )
        .await?;
    }
    clock.set(t0());
    let result = audit::run(&ctx, "rhea").await?;
    assert_eq!(result.audit.outcome, "findings");
    let anomaly = result
        .findings
        .iter()
        .find(|f| f.kind == "access_anomaly")
        .ok_or("no anomaly")?;
    assert_eq!(anomaly.person.as_deref(), Some("jun"));
    assert!(anomaly.detail.contains("15.0x"), "{}", anomaly.detail);
    let incident_id = anomaly.incident_id.ok_or("no incident")?;
    let (source, severity, departments): (String, String, Vec<String>) =
        sqlx::query_as("SELECT source, severity, departments FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(
        (source.as_str(), severity.as_str()),
        ("privacy_breach", "P2")
    );
    assert_eq!(departments, ["compliance", "technology", "operations"]);
    // The next audit sees the same condition: no second finding or incident.
    clock.advance(TimeDelta::minutes(10));
    let again = audit::run(&ctx, "rhea").await?;
    assert!(again.incidents.is_empty());
    let seen: i32 = sqlx::query_scalar("SELECT seen FROM privacy_findings WHERE id = $1")
        .bind(anomaly.id)
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(seen, 2);
    assert!(err_text(audit::run(&ctx, "remy").await).contains("cannot run privacy audits"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_runs_the_72_hour_clock_through_phases_to_an_approved_close_out() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let aware = t0() - TimeDelta::hours(2);
    let b = service::open_breach(
        &ctx,
        &NewBreach {
            title: "Support export shared outside the company".into(),
            finding: None,
            incident: None,
            severity: Severity::P1,
            aware_at: Some(aware),
            info: BreachInfoUpdate {
                nature: Some(
                    "A CSV of customer contact data was sent to a personal mailbox".into(),
                ),
                ..Default::default()
            },
        },
        "theo",
    )
    .await?;
    assert_eq!(b.notify_by, aware + TimeDelta::hours(72));
    assert!(
        b.contact_point
            .as_deref()
            .is_some_and(|c| c.contains("Rhea Castillo"))
    );
    let source: String = sqlx::query_scalar("SELECT source FROM incidents WHERE id = $1")
        .bind(b.incident_id)
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(source, "privacy_breach");
    // Not enough for a notification yet; PII in the record is refused.
    assert!(
        err_text(service::notify_authority(&ctx, b.id, None, "theo").await)
            .contains("approximate number of people")
    );
    let leak = BreachInfoUpdate {
        consequences: Some(format!("{EMAIL} may get phishing")),
        ..Default::default()
    };
    assert!(
        err_text(service::update_breach(&ctx, b.id, &leak, "theo").await).contains("personal data")
    );
    service::update_breach(
        &ctx,
        b.id,
        &BreachInfoUpdate {
            people_approx: Some(120),
            records_approx: Some(480),
            categories: Some("customers; names, e-mail addresses and order totals".into()),
            ..Default::default()
        },
        "theo",
    )
    .await?;
    // Art. 33(3): consequences and measures are required too, each named.
    let missing = err_text(service::notify_authority(&ctx, b.id, None, "theo").await);
    assert!(
        missing.contains("likely consequences (--consequences)")
            && missing.contains("measures taken or proposed (--measures)")
            && !missing.contains("--people"),
        "{missing}"
    );
    service::update_breach(
        &ctx,
        b.id,
        &BreachInfoUpdate {
            consequences: Some("Risk of targeted phishing".into()),
            measures: Some("Mailbox owner asked to delete the file".into()),
            ..Default::default()
        },
        "theo",
    )
    .await?;
    // The reminder 24h before the deadline reaches the responders.
    clock.set(aware + TimeDelta::hours(49));
    engine.run_pass().await?;
    let reminded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE workflow = 'privacy' AND subject LIKE 'Breach #%: notify the%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert!(reminded >= 1);
    let notified = service::notify_authority(&ctx, b.id, None, "rhea").await?;
    assert_eq!(notified.on_time(), Some(true));
    // Information added after the notification is a phase.
    let phase = service::update_breach(
        &ctx,
        b.id,
        &BreachInfoUpdate {
            measures: Some("Mailbox owner deleted the file; links revoked".into()),
            ..Default::default()
        },
        "ivy",
    )
    .await?;
    assert_eq!(phase.phases, 1);
    // The deadline passing changes nothing now that the authority knows.
    clock.set(aware + TimeDelta::hours(73));
    engine.run_pass().await?;
    let overdue: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE action = 'notification_overdue'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(overdue, 0);
    // Close-out: remediation first, then the Compliance & Risk director approves.
    assert!(
        err_text(service::request_close(&ctx, b.id, "theo").await).contains("remediation task")
    );
    let task = service::add_task(
        &ctx,
        b.id,
        "Block personal webmail uploads",
        "kai",
        None,
        "theo",
    )
    .await?;
    assert!(err_text(service::request_close(&ctx, b.id, "theo").await).contains("still open"));
    service::complete_task(&ctx, task.id, "kai").await?;
    assert!(err_text(service::request_close(&ctx, b.id, "rhea").await).contains("only 0 people"));
    let (closing, approval) = service::request_close(&ctx, b.id, "theo").await?;
    assert_eq!(closing.status, "closing");
    assert_eq!(approval.eligible_roles, ["director:compliance"]);
    assert!(
        err_text(service::decide_closeout(&ctx, b.id, "omar", Decision::Approve, "").await)
            .contains("director:compliance")
    );
    assert!(
        err_text(service::decide_closeout(&ctx, b.id, "theo", Decision::Approve, "").await)
            .contains("self-approval")
    );
    let (closed, _) = service::decide_closeout(
        &ctx,
        b.id,
        "rhea",
        Decision::Approve,
        "remediation verified",
    )
    .await?;
    assert_eq!(closed.status, "closed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnotified_breach_goes_overdue_and_a_late_notification_needs_reasons() -> TestResult {
    let (_db, ctx, clock, _key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    let b = service::open_breach(
        &ctx,
        &NewBreach {
            title: "Laptop with an order export stolen".into(),
            finding: None,
            incident: None,
            severity: Severity::P2,
            aware_at: None,
            info: BreachInfoUpdate {
                nature: Some("Unencrypted export of 30 orders".into()),
                categories: Some("customers; order records".into()),
                people_approx: Some(30),
                records_approx: Some(30),
                consequences: Some("Exposure of order details".into()),
                measures: Some("Laptop wiped remotely".into()),
                ..Default::default()
            },
        },
        "omar",
    )
    .await?;
    clock.advance(TimeDelta::hours(72) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let overdue: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE action = 'notification_overdue'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(overdue, 1);
    assert!(
        err_text(service::notify_authority(&ctx, b.id, None, "omar").await)
            .contains("reasons for the delay")
    );
    let late = service::notify_authority(
        &ctx,
        b.id,
        Some("the theft was reported to us late by the courier"),
        "omar",
    )
    .await?;
    assert_eq!(late.on_time(), Some(false));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_run_one_calendar_month_with_reminders_extension_and_overdue() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let unknown = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C404",
            kind: RequestKind::Access,
            note: "",
            received_at: None,
        },
        "jun",
    )
    .await;
    assert!(err_text(unknown).contains("no data subject \"C404\""));
    assert!(
        err_text(
            service::open_request(
                &ctx,
                &NewRequest {
                    subject: "C1",
                    kind: RequestKind::Access,
                    note: "",
                    received_at: None
                },
                "remy"
            )
            .await
        )
        .contains("cannot open")
    );
    // Received Wednesday 2 December: due Saturday 2 January, so Monday 4 January (New York).
    let r = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Rectification,
            note: "new address",
            received_at: None,
        },
        "jun",
    )
    .await?;
    let local = r.due_at.with_timezone(&chrono_tz::America::New_York);
    assert_eq!((local.year(), local.month(), local.day()), (2027, 1, 4));
    // Reminders 7 and 2 days before.
    clock.set(r.due_at - TimeDelta::days(7) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let reminders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE action = 'request_reminded'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(reminders, 1);
    // Extended by two months while still in the first: the clocks move.
    let ext = service::extend_request(
        &ctx,
        r.id,
        2,
        "the courier must confirm the old address",
        "ivy",
    )
    .await?;
    let local = ext.due_at.with_timezone(&chrono_tz::America::New_York);
    assert_eq!((local.year(), local.month(), local.day()), (2027, 3, 2));
    assert!(
        err_text(service::extend_request(&ctx, r.id, 1, "more", "ivy").await).contains("at most 2")
    );
    assert!(
        err_text(service::extend_request(&ctx, r.id, 1, "more", "jun").await)
            .contains("cannot extend")
    );
    // Past the extended deadline still open: overdue.
    clock.set(ext.due_at + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let overdue: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE action = 'request_overdue'")
            .fetch_one(&ctx.pool)
            .await?;
    assert_eq!(overdue, 1);
    // Nothing is done before the person's identity is verified.
    assert!(
        err_text(
            service::complete_rectification(
                &ctx,
                &key,
                r.id,
                &[("shipping_address".to_string(), "x".to_string())],
                "ivy"
            )
            .await
        )
        .contains("verify the person's identity first")
    );
    verify(&ctx, r.id).await?;
    let fixed = service::complete_rectification(
        &ctx,
        &key,
        r.id,
        &[(
            "shipping_address".to_string(),
            "Avenida da Boavista 100, Porto".to_string(),
        )],
        "ivy",
    )
    .await?;
    assert_eq!(
        (fixed.status.as_str(), fixed.on_time()),
        ("completed", Some(false))
    );
    let now = read(
        &ctx,
        &key,
        "C1",
        &["shipping_address"],
        "fulfilment: check the rectified address",
        "omar",
    )
    .await?;
    assert_eq!(
        now.values.get("shipping_address").map(String::as_str),
        Some("Avenida da Boavista 100, Porto")
    );
    // Too late to extend a new request after its first month.
    let old = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "",
            received_at: Some(clock.now_utc() - TimeDelta::days(40)),
        },
        "jun",
    )
    .await?;
    assert!(
        err_text(service::extend_request(&ctx, old.id, 1, "busy", "ivy").await)
            .contains("too late")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_clocks_run_on_the_engine_and_timers_of_the_old_kinds_still_fire() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let r = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "",
            received_at: None,
        },
        "jun",
    )
    .await?;
    // The request's clock is the engine's deadline clock: two reminders and
    // the deadline, nothing of the old kinds.
    let stages: Vec<String> = sqlx::query_scalar(
        "SELECT dedupe_key FROM timers WHERE status = 'pending' AND kind = 'deadline'
         AND workflow = 'privacy' AND entity_id = $1 ORDER BY due_at",
    )
    .bind(r.id.to_string())
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(
        stages,
        ["request:remind0", "request:remind1", "request:breach"]
    );
    // The first reminder says how long before the deadline it fired.
    clock.set(r.due_at - TimeDelta::days(7) + TimeDelta::seconds(1));
    engine.run_pass().await?;
    let before: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload->'before' FROM events WHERE action = 'request_reminded'",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(before, [serde_json::json!("7d")]);
    // A database scheduled before the move still holds timers of the old
    // kinds: they fire through the same code.
    let second = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Rectification,
            note: "new address",
            received_at: None,
        },
        "jun",
    )
    .await?;
    sqlx::query(
        "UPDATE timers SET status = 'cancelled' WHERE kind = 'deadline' AND entity_id = $1
         AND dedupe_key LIKE 'request:%'",
    )
    .bind(second.id.to_string())
    .execute(&ctx.pool)
    .await?;
    sqlx::query(
        "INSERT INTO timers (kind, workflow, entity_id, dedupe_key, due_at, payload, created_at)
         VALUES ('privacy.request_due', 'privacy', $1, '', $2, '{}', $2)",
    )
    .bind(second.id.to_string())
    .bind(r.due_at - TimeDelta::days(7))
    .execute(&ctx.pool)
    .await?;
    engine.run_pass().await?;
    let overdue: Vec<String> =
        sqlx::query_scalar("SELECT entity_id FROM events WHERE action = 'request_overdue'")
            .fetch_all(&ctx.pool)
            .await?;
    assert_eq!(overdue, [second.id.to_string()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_a_request_leaves_the_clocks_of_the_breach_with_the_same_number() -> TestResult {
    let (_db, ctx, _clock, key) = setup().await?;
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let b = service::open_breach(
        &ctx,
        &NewBreach {
            title: "Order export mailed to the wrong address".into(),
            finding: None,
            incident: None,
            severity: Severity::P2,
            aware_at: None,
            info: BreachInfoUpdate::default(),
        },
        "omar",
    )
    .await?;
    let r = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "",
            received_at: None,
        },
        "jun",
    )
    .await?;
    // Both live in the privacy workflow; their numbers coincide.
    assert_eq!(r.id, b.id);
    let pending = async || -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM timers WHERE status = 'pending' AND kind = 'deadline' AND dedupe_key LIKE 'breach:%' AND entity_id = $1",
        )
        .bind(b.id.to_string())
        .fetch_one(&ctx.pool)
        .await
    };
    let before = pending().await?;
    assert!(before > 0, "the breach runs its 72-hour clock");
    service::refuse_request(&ctx, r.id, "manifestly unfounded", "ivy").await?;
    assert_eq!(pending().await?, before, "the breach's clocks still run");
    let request_timers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM timers WHERE status = 'pending' AND (kind LIKE 'privacy.request%' OR (kind = 'deadline' AND dedupe_key LIKE 'request:%'))",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(request_timers, 0, "the request's own clocks stopped");
    Ok(())
}

async fn verify(ctx: &Ctx, id: i64) -> Result<(), vivid_core::Error> {
    service::verify_request(
        ctx,
        id,
        service::Verification::Verified,
        "order number and postcode match the account",
        "ivy",
    )
    .await
    .map(|_| ())
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for SimClock {
    fn now_utc(&self) -> DateTime<Utc> {
        vivid_core::clock::Clock::now(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_crypto_shreds_the_person_and_no_plaintext_is_stored_anywhere() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    service::collect(
        &ctx,
        &key,
        Some("C2"),
        &customer("someone.else@example.org"),
        "olu",
    )
    .await?;
    read(&ctx, &key, "C1", &["email"], "support: ticket 77", "jun").await?;
    let access = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "by post",
            received_at: None,
        },
        "jun",
    )
    .await?;
    verify(&ctx, access.id).await?;
    let export = service::complete_access(&ctx, &key, access.id, "ivy").await?;
    assert!(
        export
            .processing
            .get("contact")
            .is_some_and(|p| p.legal_basis == "contract" && p.retention == "3y"),
        "Art. 15: purposes, legal basis, recipients, retention, source per category"
    );
    assert_eq!(
        export.personal_data.get("email").map(|f| f.value.as_str()),
        Some(EMAIL)
    );
    assert_eq!(export.other_data.len(), 3);
    assert!(export.accesses.iter().any(|a| a.actor == "jun"));
    // A "backup" of the subject's sealed email and wrapped key, taken before erasure.
    let (row_id, subject_id, sealed, key_version): (i64, i64, Vec<u8>, i32) = sqlx::query_as(
        "SELECT p.id, p.subject_id, p.ciphertext, p.key_version FROM privacy_pii p JOIN privacy_subjects s ON s.id = p.subject_id
         WHERE s.ref = 'C1' AND p.field = 'email'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    let backup_wrap: Vec<u8> =
        sqlx::query_scalar("SELECT wrapped FROM privacy_data_keys WHERE subject_id = $1")
            .bind(subject_id)
            .fetch_one(&ctx.pool)
            .await?;
    clock.advance(TimeDelta::hours(1));
    let erasure = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Erasure,
            note: "account closed",
            received_at: None,
        },
        "jun",
    )
    .await?;
    verify(&ctx, erasure.id).await?;
    // Four eyes: ivy asks, ivy cannot approve her own; rhea approves.
    let (waiting, approval) = service::complete_erasure(&ctx, erasure.id, "ivy").await?;
    assert_eq!(waiting.status, "in_progress");
    let found = service::find_by_email(&ctx, &key, EMAIL, "jun").await?;
    assert_eq!(found.len(), 1, "still findable until approved");
    assert!(
        err_text(service::decide_erasure(&ctx, erasure.id, "ivy", Decision::Approve, "").await)
            .contains("no self-approval"),
        "the requester cannot approve their own erasure"
    );
    // Through the generic approvals route too.
    assert!(
        vivid_core::decisions::decide_request(
            &ctx,
            approval.id,
            "ivy",
            Decision::Approve,
            "",
            None
        )
        .await
        .is_err()
    );
    let (done, _, erased) = service::decide_erasure(
        &ctx,
        erasure.id,
        "rhea",
        Decision::Approve,
        "verified, no hold",
    )
    .await?;
    assert_eq!(done.status, "completed");
    let Some(erased) = erased else {
        panic!("the approval erases");
    };
    assert_eq!(erased.sealed_fields, 5);
    assert!(
        service::find_by_email(&ctx, &key, EMAIL, "jun")
            .await?
            .is_empty(),
        "the blind-index entry is gone"
    );
    assert_eq!(erased.unlinked_records, 3);
    // Unreadable through every path.
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], "support: ticket 78", "jun").await)
            .contains("erased")
    );
    let wrapped: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT wrapped FROM privacy_data_keys WHERE subject_id = $1")
            .bind(subject_id)
            .fetch_one(&ctx.pool)
            .await?;
    assert!(wrapped.is_none(), "the data key is destroyed");
    let again = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "",
            received_at: None,
        },
        "jun",
    )
    .await?;
    verify(&ctx, again.id).await?;
    let empty = service::complete_access(&ctx, &key, again.id, "ivy").await?;
    assert!(empty.personal_data.is_empty());
    assert!(empty.erased_at.is_some());
    // The sealed bytes left behind cannot be opened by any data key in the database.
    let keys: Vec<(i64, i32, i32, Vec<u8>)> = sqlx::query_as(
        "SELECT subject_id, key_version, master_version, wrapped FROM privacy_data_keys WHERE wrapped IS NOT NULL",
    )
    .fetch_all(&ctx.pool)
    .await?;
    assert_eq!(keys.len(), 1);
    let binding = FieldBinding {
        row_id,
        subject_id,
        field: "email",
        key_version,
    };
    for (sid, kv, mv, w) in &keys {
        let dek = key.unwrap_key(
            w,
            &WrapBinding {
                subject_id: *sid,
                key_version: *kv,
                master_version: *mv,
            },
        )?;
        assert!(dek.open(&sealed, &binding).is_err());
    }
    // A backup's copy of the wrapped key dies with the master key version
    // that wrapped it: after a rotation the old key is retired and destroyed.
    let new = MasterKey::generate()?;
    service::rotate_master(&ctx, &key, &new, "theo").await?;
    let old_binding = WrapBinding {
        subject_id,
        key_version,
        master_version: 1,
    };
    assert!(new.unwrap_key(&backup_wrap, &old_binding).is_err());
    assert!(
        new.unwrap_key(
            &backup_wrap,
            &WrapBinding {
                master_version: 2,
                ..old_binding
            }
        )
        .is_err()
    );
    // Audits, notifications and events ran over all of it...
    audit::run(&ctx, "rhea").await?;
    engine.run_pass().await?;
    // ...and the e-mail address is stored nowhere: not in any table, event, notification or log row.
    let hits = stored_anywhere(&ctx, EMAIL).await?;
    assert!(hits.is_empty(), "plaintext PII found in {hits:?}");
    assert!(stored_anywhere(&ctx, "Rua das Flores").await?.is_empty());
    assert!(stored_anywhere(&ctx, "912 345 678").await?.is_empty());
    // The test is able to find what is there.
    assert!(!stored_anywhere(&ctx, "account closed").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_period_report_covers_audits_findings_incidents_requests_and_retention() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    // Marketing data from three years ago is past its two-year retention.
    clock.set(t0() - TimeDelta::days(3 * 365));
    service::collect(
        &ctx,
        &key,
        Some("OLD1"),
        &[
            ("newsletter_opt_in".into(), "true".into()),
            ("email".into(), "old@example.org".into()),
        ],
        "olu",
    )
    .await?;
    clock.set(t0() - TimeDelta::days(2));
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let r = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Access,
            note: "",
            received_at: None,
        },
        "jun",
    )
    .await?;
    clock.set(t0() - TimeDelta::days(1));
    verify(&ctx, r.id).await?;
    service::complete_access(&ctx, &key, r.id, "ivy").await?;
    let _ = read(&ctx, &key, "C1", &["email"], "support: ticket 9", "remy").await;
    for i in 0..25 {
        clock.set(t0() - TimeDelta::hours(3) + TimeDelta::minutes(i));
        read(
            &ctx,
            &key,
            "C1",
            &["email"],
            "marketing: bulk lookup for campaign",
            "jun",
        )
        .await?;
    }
    clock.set(t0());
    let a = audit::run(&ctx, "ivy").await?;
    assert_eq!(a.retention.iter().map(|x| x.records).sum::<i64>(), 1);
    let rep = report::build(
        &ctx,
        t0() - TimeDelta::days(30),
        t0() + TimeDelta::seconds(1),
    )
    .await?;
    assert_eq!(rep.audits.total, 1);
    assert_eq!(rep.findings.by_kind.get("access_anomaly"), Some(&1));
    assert_eq!(rep.incidents.len(), 1);
    assert_eq!(
        (
            rep.requests.received,
            rep.requests.completed,
            rep.requests.completed_on_time
        ),
        (1, 1, 1)
    );
    assert_eq!(rep.kpis.requests_on_time, Some(1.0));
    assert_eq!(rep.retention.len(), 1);
    assert_eq!(rep.retention[0].category, "marketing");
    assert_eq!(rep.access.refused, 1);
    let md = report::markdown(&rep);
    for part in [
        "## Audits",
        "access_anomaly",
        "## Data-subject requests",
        "marketing: 1 record(s) purged",
        "## Keys",
    ] {
        assert!(md.contains(part), "{part} missing from\n{md}");
    }
    assert!(!md.contains(EMAIL));
    Ok(())
}

/// The worked cases of issue 18: a bare `--received` date is a local date
/// in New York; one calendar month, clamped to the month's end, moved past
/// weekends and public holidays; due at the end of that local day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_exact_in_the_org_time_zone() -> TestResult {
    let (_db, ctx, clock, key) = setup().await?;
    clock.set(
        DateTime::parse_from_rfc3339("2027-03-05T15:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    service::collect(&ctx, &key, Some("C000901"), &customer(EMAIL), "olu").await?;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    for (received, due, due_local) in [
        ("2026-11-26", day(2026, 12, 28), "2026-12-28T23:59:59-05:00"),
        ("2027-01-31", day(2027, 3, 1), "2027-03-01T23:59:59-05:00"),
        ("2026-12-24", day(2027, 1, 25), "2027-01-25T23:59:59-05:00"),
    ] {
        let at = when::parse_when(
            received,
            Bound::Start,
            Relative::Past,
            clock.now_utc(),
            &ctx.calendar,
        )?;
        let r = service::open_request(
            &ctx,
            &NewRequest {
                subject: "C000901",
                kind: RequestKind::Access,
                note: "",
                received_at: Some(at),
            },
            "jun",
        )
        .await?;
        assert_eq!(ctx.calendar.local_date(r.received_at).to_string(), received);
        assert_eq!(
            ctx.calendar.local_date(r.due_at),
            due,
            "received {received}"
        );
        assert_eq!(r.due_at, ctx.calendar.end_of_day(due));
        let view = serde_json::to_value(read::RequestView::new(&ctx, r.clone()))?;
        assert_eq!(view["due_local"], due_local);
        assert_eq!(view["state"], "received");
        assert_eq!(view["kind"], "access");
        assert!(view["received_at"].is_string() && view["due_at"].is_string());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_number_or_iban_in_a_non_pii_field_is_refused_and_nothing_is_stored() -> TestResult
{
    let (_db, ctx, _clock, key) = setup().await?;
    for note in [
        "call +44 7700 900999",
        "refund to GB82 WEST 1234 5698 7654 32",
    ] {
        let e = err_text(
            service::collect(
                &ctx,
                &key,
                Some("C9"),
                &[("marketing_note".to_string(), note.to_string())],
                "olu",
            )
            .await,
        );
        assert!(e.contains("classified non-PII"), "{e}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM privacy_analytics")
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(stored, 0);
    Ok(())
}

/// Found by e-mail, exported for portability, objected to: no more journey
/// touches. An unknown address still opens a request, without a subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_by_email_portability_and_objection_stop_the_journey() -> TestResult {
    let (_db, ctx, _clock, key) = setup().await?;
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let found = service::find_by_email(&ctx, &key, "  Ana.Lima.Test@EXAMPLE.org ", "jun").await?;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].subject, "C1");
    assert!(
        service::find_by_email(&ctx, &key, EMAIL, "remy")
            .await
            .is_err(),
        "only request handlers look people up"
    );
    let new = |kind| NewRequest {
        subject: "",
        kind,
        note: "",
        received_at: None,
    };
    let nobody = service::open_request_by_email(
        &ctx,
        &key,
        "nobody@example.net",
        &new(RequestKind::Access),
        "jun",
    )
    .await?;
    assert_eq!(
        (nobody.subject_id, nobody.subject_ref.as_str()),
        (None, "-")
    );
    verify(&ctx, nobody.id).await?;
    let none = service::complete_access(&ctx, &key, nobody.id, "ivy").await?;
    assert!(none.personal_data.is_empty() && none.note.is_some());
    let port =
        service::open_request_by_email(&ctx, &key, EMAIL, &new(RequestKind::Portability), "jun")
            .await?;
    assert_eq!(port.subject_ref, "C1");
    assert!(
        err_text(service::export_request(&ctx, &key, port.id, "ivy").await)
            .contains("verify the person's identity")
    );
    verify(&ctx, port.id).await?;
    let export = service::export_request(&ctx, &key, port.id, "ivy").await?;
    assert_eq!(
        export.personal_data.get("email").map(|f| f.value.as_str()),
        Some(EMAIL)
    );
    assert!(
        export.accesses.is_empty(),
        "portability: what the person provided"
    );
    let csv = export.to_csv();
    assert!(csv.starts_with("field,category,value,collected_at\n"));
    assert!(csv.contains(&format!("email,contact,{EMAIL},")));
    assert!(csv.contains("\"Rua das Flores 12, 4050-262 Porto\""));
    service::complete_portability(&ctx, &key, port.id, "ivy").await?;
    let touch = |key: &str| NewTouch {
        prospect: "C1".into(),
        channel: "email".into(),
        kind: "opened".into(),
        idempotency_key: key.into(),
        segment: None,
        content_id: None,
    };
    journey::service::touch(&ctx, &touch("t1"), "test").await?;
    let obj =
        service::open_request_by_email(&ctx, &key, EMAIL, &new(RequestKind::Objection), "jun")
            .await?;
    verify(&ctx, obj.id).await?;
    let done = service::complete_objection(&ctx, obj.id, "ivy").await?;
    assert_eq!(done.status, "completed");
    assert!(!service::may_market(&ctx, "C1").await?);
    let refused = err_text(journey::service::touch(&ctx, &touch("t2"), "test").await);
    assert!(refused.contains("objected"), "{refused}");
    let touches: i64 = sqlx::query_scalar("SELECT count(*) FROM touches")
        .fetch_one(&ctx.pool)
        .await?;
    assert_eq!(touches, 1, "no touch after the objection");
    Ok(())
}

/// Restriction (Art. 18): reads only for the restricted purposes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_person_is_read_only_for_legal_purposes() -> TestResult {
    let (_db, ctx, _clock, key) = setup().await?;
    service::collect(&ctx, &key, Some("C1"), &customer(EMAIL), "olu").await?;
    let r = service::open_request(
        &ctx,
        &NewRequest {
            subject: "C1",
            kind: RequestKind::Restriction,
            note: "accuracy contested",
            received_at: None,
        },
        "jun",
    )
    .await?;
    verify(&ctx, r.id).await?;
    service::complete_restriction(&ctx, r.id, "ivy").await?;
    assert!(
        err_text(read(&ctx, &key, "C1", &["email"], "support: ticket 5", "jun").await)
            .contains("restricted")
    );
    let ok = read(
        &ctx,
        &key,
        "C1",
        &["email"],
        "legal_obligation: tax audit",
        "rhea",
    )
    .await?;
    assert_eq!(ok.values.get("email").map(String::as_str), Some(EMAIL));
    Ok(())
}
