//! `vivid serve` through the binary: alerts from Alertmanager and generic
//! senders become incidents, /metrics is valid Prometheus text, and a
//! signed Discord request replayed after a restart is refused.

use std::process::{Child, Stdio};

use serde_json::{Value, json};
use vivid_bot::testing::{FakeDiscord, HttpClient, Signer, command, now_unix, post_raw};

use crate::util::*;

const TOKEN: &str = "e2e-alert-token";
const OMAR: &str = "100000000000000004";

struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start(
    db: &TestDb,
    signer: &Signer,
    fake: &FakeDiscord,
    env: &[(&str, &str)],
) -> Result<Serve, Box<dyn std::error::Error>> {
    let mut cmd = vivid(&db.url);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("VIVID_ALERT_TOKEN", TOKEN)
        .env("DISCORD_PUBLIC_KEY", signer.public_key_hex())
        .env("DISCORD_TOKEN", "e2e-token")
        .env("VIVID__DISCORD__API_BASE", fake.base_url())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, url) = spawn_listening(cmd)?;
    Ok(Serve { child, url })
}

async fn post_alert(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn alertmanager(status: &str) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"CheckoutErrors\"}", "status": status,
        "receiver": "vivid", "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "truncatedAlerts": 0,
        "alerts": [{
            "status": status,
            "labels": {"alertname": "CheckoutErrors", "severity": "warning", "team": "technology"},
            "annotations": {"summary": "Checkout 5xx above 5%"},
            "startsAt": "2026-12-02T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": "c0ffee"
        }]
    })
}

/// Every line of the text format is a comment or `name{labels} value`.
fn parse_prometheus(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let kind = rest.split_whitespace().next().unwrap_or_default();
            if kind != "HELP" && kind != "TYPE" {
                return Err(format!("unknown comment {line:?}"));
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("no value in {line:?}"))?;
        let value: f64 = value
            .parse()
            .map_err(|_| format!("bad value in {line:?}"))?;
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(format!("bad metric name in {line:?}"));
        }
        if name_end < series.len() && !series.ends_with('}') {
            return Err(format!("unclosed labels in {line:?}"));
        }
        samples.push((series.to_string(), value));
    }
    Ok(samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_alert_opens_one_incident_and_its_resolution_resolves_it() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let serve = start(&db, &signer, &fake, &[])?;
    let client = HttpClient::new();
    let am = format!("{}/alerts/alertmanager", serve.url);

    let (status, _) = post_alert(&client, &am, Some("wrong"), &alertmanager("firing")).await?;
    assert_eq!(status, 401, "a wrong token");
    let (status, _) = post_alert(&client, &am, None, &alertmanager("firing")).await?;
    assert_eq!(status, 401, "no token");
    let (status, body) = post_alert(&client, &am, Some(TOKEN), &json!({"alerts": "x"})).await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("alerts"),
        "{body}"
    );
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(incidents, 0, "refused requests change nothing");

    let (status, body) = post_alert(&client, &am, Some(TOKEN), &alertmanager("firing")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "opened", "{body}");
    let id = body["alerts"][0]["incident_id"]
        .as_i64()
        .ok_or("no incident")?;
    let (status, body) = post_alert(&client, &am, Some(TOKEN), &alertmanager("firing")).await?;
    assert_eq!(status, 200);
    assert_eq!(body["alerts"][0]["outcome"], "repeated", "{body}");
    let (count, severity, source): (i64, String, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM incidents), severity, source FROM incidents WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(
        (count, severity.as_str(), source.as_str()),
        (1, "P3", "alert")
    );

    let metrics = client
        .get(format!("{}/metrics", serve.url))
        .send()
        .await?
        .text()
        .await?;
    let samples = parse_prometheus(&metrics)?;
    assert!(
        samples.contains(&("vivid_incidents_open{severity=\"P3\"}".into(), 1.0)),
        "{metrics}"
    );
    assert!(
        samples
            .iter()
            .any(|(s, _)| s.starts_with("vivid_timers_pending"))
    );
    assert!(
        samples
            .iter()
            .any(|(s, _)| s == "vivid_workflow_open{workflow=\"crisis\"}")
    );

    let (status, body) = post_alert(&client, &am, Some(TOKEN), &alertmanager("resolved")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "incident_resolved", "{body}");
    let status_now: String = sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(status_now, "resolved");

    // Firing again soon after: the same incident comes back.
    let (_, body) = post_alert(&client, &am, Some(TOKEN), &alertmanager("firing")).await?;
    assert_eq!(body["alerts"][0]["outcome"], "reopened", "{body}");
    assert_eq!(body["alerts"][0]["incident_id"], id);

    let health = client.get(format!("{}/healthz", serve.url)).send().await?;
    assert_eq!(health.status().as_u16(), 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_alerts_from_one_source_becomes_one_incident() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let serve = start(
        &db,
        &signer,
        &fake,
        &[("VIVID__CRISIS__ALERTS__STORM_ALERTS", "3")],
    )?;
    let client = HttpClient::new();
    let alerts: Vec<Value> = (1..=6)
        .map(|n| {
            json!({
                "dedup_key": format!("host-{n}-down"), "summary": format!("host {n} down"),
                "status": "firing", "severity": "P2", "source": "pingdom"
            })
        })
        .collect();
    let (status, body) = post_alert(
        &client,
        &format!("{}/alerts", serve.url),
        Some(TOKEN),
        &Value::Array(alerts),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<&str> = body["alerts"]
        .as_array()
        .ok_or("no alerts")?
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "opened",
            "opened",
            "opened",
            "storm_opened",
            "grouped",
            "grouped"
        ]
    );
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&db.pool)
        .await?;
    assert_eq!(incidents, 4, "three pages, then one storm incident");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_replayed_after_a_restart_is_refused() -> TestResult {
    let db = fresh_db().await?;
    let fake = FakeDiscord::start()?;
    let signer = Signer::generate();
    let client = HttpClient::new();
    let body = command(OMAR, "weather", None, json!([]))
        .to_string()
        .into_bytes();
    let ts = now_unix().to_string();
    let sig = signer.sign(&ts, &body);

    let first = start(&db, &signer, &fake, &[])?;
    let url = format!("{}/discord/interactions", first.url);
    let (status, reply) = post_raw(&client, &url, Some(&sig), Some(&ts), body.clone()).await?;
    assert_eq!(status, 200, "{reply}");
    let (status, _) = post_raw(&client, &url, Some(&sig), Some(&ts), body.clone()).await?;
    assert_eq!(status, 401, "replayed to the same process");
    drop(first);

    let second = start(&db, &signer, &fake, &[])?;
    let url = format!("{}/discord/interactions", second.url);
    let (status, reply) = post_raw(&client, &url, Some(&sig), Some(&ts), body).await?;
    assert_eq!(status, 401, "replayed after a restart: {reply}");
    Ok(())
}
