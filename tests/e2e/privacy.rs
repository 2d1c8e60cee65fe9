//! Compliance and data privacy end to end through the binary: a customer's
//! PII is collected, read with and without the role, an audit finds an
//! access anomaly that opens a privacy incident, an erasure makes the
//! person unreadable, the period report shows it all, and the e-mail
//! address is stored nowhere in the database or the logs.

use std::path::Path;

use crate::util::*;

const EMAIL: &str = "e2e.customer@example.org";

/// Audits judge the last hour; a handful of reads with no history is a burst.
const CONFIG: &str = r#"
[privacy.anomaly]
window = "1h"
baseline_windows = 2
ratio = 3.0
min_reads = 6
refused_reads = 5
"#;

struct Env<'a> {
    db: &'a TestDb,
    config: &'a Path,
    key: String,
    log: Vec<String>,
}

impl Env<'_> {
    /// `vivid --config C privacy ARGS` with the master key; stderr is kept for the log scan.
    fn run_with(&mut self, key: Option<&str>, args: &[&str]) -> Ran {
        let mut cmd = vivid(&self.db.url);
        cmd.arg("--config")
            .arg(self.config)
            .arg("privacy")
            .args(args);
        cmd.env("RUST_LOG", "debug");
        match key {
            Some(k) => cmd.env("VIVID_MASTER_KEY", k),
            None => cmd.env_remove("VIVID_MASTER_KEY"),
        };
        let ran = run(cmd);
        self.log.push(ran.stderr.clone());
        ran
    }

    fn ok(&mut self, args: &[&str]) -> serde_json::Value {
        let key = self.key.clone();
        let ran = self.run_with(Some(&key), args);
        assert_eq!(
            ran.code,
            Some(0),
            "vivid privacy {args:?}: {}{}",
            ran.stdout,
            ran.stderr
        );
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| {
            panic!(
                "vivid privacy {args:?} printed invalid JSON ({e}): {}",
                ran.stdout
            )
        })
    }

    fn refused(&mut self, args: &[&str], why: &str) {
        let key = self.key.clone();
        let ran = self.run_with(Some(&key), args);
        assert_eq!(
            ran.code,
            Some(2),
            "vivid privacy {args:?}: {}{}",
            ran.stdout,
            ran.stderr
        );
        assert!(
            ran.stderr.contains(why),
            "vivid privacy {args:?}: {}",
            ran.stderr
        );
    }
}

/// Rows of any table whose stored text or bytes contain `needle`.
async fn stored_anywhere(db: &TestDb, needle: &str) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut hits = Vec::new();
    for (schema, table) in tables {
        let q = format!("\"{schema}\".\"{table}\"");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {q} t WHERE position($1 in t::text) > 0"
        )))
        .bind(needle)
        .fetch_one(&db.pool)
        .await?;
        if n > 0 {
            hits.push(table.clone());
        }
        let bytea: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
        )
        .bind(&schema)
        .bind(&table)
        .fetch_all(&db.pool)
        .await?;
        for col in bytea {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {q} WHERE position(convert_to($1, 'UTF8') in \"{col}\") > 0"
            )))
            .bind(needle)
            .fetch_one(&db.pool)
            .await?;
            if n > 0 {
                hits.push(format!("{table}.{col}"));
            }
        }
    }
    Ok(hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_is_collected_read_audited_erased_and_reported() -> TestResult {
    let db = fresh_db().await?;
    let dir = scratch_dir("privacy");
    let config = dir.join("privacy.toml");
    std::fs::write(&config, CONFIG)?;
    let record = dir.join("customer.json");
    std::fs::write(
        &record,
        serde_json::json!({
            "full_name": "Eve Example", "email": EMAIL, "phone": "+351 913 555 010",
            "shipping_address": "Rua do Teste 1, Lisboa", "country": "PT",
            "order_total_cents": 15900, "newsletter_opt_in": true
        })
        .to_string(),
    )?;
    let mut env = Env {
        db: &db,
        config: &config,
        key: String::new(),
        log: Vec::new(),
    };
    let key = env.ok(&["keygen", "--json"]);
    env.key = key["key"].as_str().ok_or("no key")?.to_string();

    // Missing and malformed keys stop the command before it starts.
    let missing = env.run_with(
        None,
        &[
            "collect",
            "--subject",
            "C100",
            "--file",
            record.to_str().unwrap_or_default(),
            "--as",
            "olu",
        ],
    );
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr.contains("VIVID_MASTER_KEY is not set"),
        "{}",
        missing.stderr
    );
    let malformed = env.run_with(Some("c2hvcnQ="), &["subjects"]);
    assert_eq!(
        malformed.code,
        Some(0),
        "commands without personal data need no key"
    );
    let malformed = env.run_with(
        Some("c2hvcnQ="),
        &[
            "read",
            "C100",
            "--purpose",
            "support: ticket 1",
            "--as",
            "jun",
        ],
    );
    assert!(
        malformed.stderr.contains("must be 32 bytes"),
        "{}",
        malformed.stderr
    );

    // Collected: classified, PII sealed, the rest to analytics; unclassified refused.
    env.refused(
        &[
            "collect",
            "--subject",
            "C100",
            "--field",
            "shoe_size=38",
            "--as",
            "olu",
        ],
        "not classified",
    );
    let collected = env.ok(&[
        "collect",
        "--subject",
        "C100",
        "--file",
        record.to_str().unwrap_or_default(),
        "--as",
        "olu",
        "--json",
    ]);
    assert_eq!(collected["created"], true);
    let classes = env.ok(&["classify", "email", "country", "--json"]);
    assert_eq!(classes[0]["class"], "pii");
    assert_eq!(classes[1]["class"], "non_pii");

    // Read with the role and a purpose; refused without either; refusals logged.
    let read = env.ok(&[
        "read",
        "C100",
        "--field",
        "email",
        "--purpose",
        "support: ticket 5521",
        "--as",
        "jun",
        "--json",
    ]);
    assert_eq!(read["values"]["email"], EMAIL);
    env.refused(
        &[
            "read",
            "C100",
            "--purpose",
            "marketing: looking for a testimonial",
            "--as",
            "remy",
        ],
        "may not read",
    );
    env.refused(
        &["read", "C100", "--field", "email", "--as", "jun"],
        "needs a purpose",
    );
    env.refused(
        &[
            "read",
            "C404",
            "--field",
            "email",
            "--purpose",
            "support: ticket 5521",
            "--as",
            "jun",
        ],
        "no data subject \"C404\"",
    );
    let wrong = env.ok(&["keygen", "--json"]);
    let wrong_key = wrong["key"].as_str().unwrap_or_default().to_string();
    let ran = env.run_with(
        Some(&wrong_key),
        &[
            "read",
            "C100",
            "--field",
            "email",
            "--purpose",
            "support: ticket 5521",
            "--as",
            "jun",
        ],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("not this database's master key"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stdout.contains('@'), "a wrong key returns nothing");
    let refused = env.ok(&["log", "--refused", "--json"]);
    assert_eq!(refused.as_array().map(Vec::len), Some(3));

    // A burst of reads: the audit finds the anomaly and opens a privacy incident.
    for i in 0..8 {
        let purpose = format!("marketing: bulk lookup {i} for a mailing list");
        env.ok(&[
            "read",
            "C100",
            "--field",
            "email",
            "--purpose",
            &purpose,
            "--as",
            "jun",
            "--json",
        ]);
    }
    let audit = env.ok(&["audit", "run", "--as", "rhea", "--json"]);
    assert_eq!(audit["audit"]["outcome"], "findings");
    let findings = audit["findings"].as_array().cloned().unwrap_or_default();
    let anomaly = findings
        .iter()
        .find(|f| f["kind"] == "access_anomaly")
        .ok_or("no anomaly")?;
    assert_eq!(anomaly["person"], "jun");
    let incident = anomaly["incident_id"].as_i64().ok_or("no incident")?;
    let shown = json(&db, &["crisis", "show", &incident.to_string(), "--json"]);
    assert_eq!(shown["incident"]["source"], "privacy_breach");

    // Found by e-mail (blind index); a bare --received date is a New York date.
    let found = env.ok(&[
        "subjects", "find", "--email", EMAIL, "--as", "jun", "--json",
    ]);
    assert_eq!(found[0]["subject"], "C100");
    let dated = env.ok(&[
        "dsar",
        "open",
        "--email",
        &EMAIL.to_uppercase(),
        "--kind",
        "portability",
        "--received",
        "2026-11-26",
        "--as",
        "jun",
        "--json",
    ]);
    let dated_id = dated["id"].as_i64().ok_or("no request")?.to_string();
    let shown = env.ok(&["dsar", "show", &dated_id, "--json"]);
    assert_eq!(shown["subject_ref"], "C100");
    assert_eq!(shown["kind"], "portability");
    assert_eq!(shown["state"], "received");
    assert_eq!(shown["received_at"], "2026-11-26T05:00:00Z");
    assert_eq!(shown["due_local"], "2026-12-28T23:59:59-05:00");
    assert!(
        shown["due_at"]
            .as_str()
            .is_some_and(|d| d.starts_with("2026-12-29T04:59:59"))
    );
    env.ok(&["dsar", "verify", &dated_id, "--as", "ivy", "--json"]);
    let out = dir.join("portable.csv");
    let out_s = out.to_str().unwrap_or_default().to_string();
    env.ok(&[
        "dsar", "export", &dated_id, "--out", &out_s, "--format", "csv", "--as", "ivy", "--json",
    ]);
    let csv = std::fs::read_to_string(&out)?;
    assert!(csv.contains(&format!("email,contact,{EMAIL},")), "{csv}");
    std::fs::remove_file(&out)?;
    env.refused(
        &[
            "dsar",
            "refuse",
            &dated_id,
            "--reason",
            "withdrawn by the person",
            "--as",
            "jun",
        ],
        "cannot refuse",
    );
    env.ok(&[
        "dsar",
        "refuse",
        &dated_id,
        "--reason",
        "withdrawn by the person",
        "--as",
        "ivy",
        "--json",
    ]);
    // Purposes come from the configured list; a phone number in a non-PII field is refused.
    env.refused(
        &[
            "read",
            "C100",
            "--field",
            "email",
            "--purpose",
            "aaaaaaaa",
            "--as",
            "jun",
        ],
        "is not a purpose personal data may be read for",
    );
    env.refused(
        &[
            "collect",
            "--subject",
            "C101",
            "--field",
            "marketing_note=call +44 7700 900999",
            "--as",
            "olu",
        ],
        "a phone number",
    );
    let ropa = env.ok(&["ropa", "--json"]);
    assert!(ropa.as_array().is_some_and(|r| {
        r.iter()
            .any(|c| c["category"] == "payment" && c["legal_basis"] == "contract")
    }));

    // Erasure by crypto-shredding: the person is unreadable afterwards.
    let key = env.key.clone();
    let unknown = env.run_with(
        Some(&key),
        &["dsar", "open", "C404", "--kind", "erasure", "--as", "jun"],
    );
    assert!(
        unknown.stderr.contains("no data subject \"C404\""),
        "{}",
        unknown.stderr
    );
    let req = env.ok(&[
        "dsar",
        "open",
        "C100",
        "--kind",
        "erasure",
        "--note",
        "account closed",
        "--as",
        "jun",
        "--json",
    ]);
    let req_id = req["id"].as_i64().ok_or("no request")?.to_string();
    assert_eq!(req["state"], "received");
    env.refused(
        &["dsar", "complete", &req_id, "--as", "jun"],
        "cannot execute",
    );
    env.refused(
        &["dsar", "complete", &req_id, "--as", "ivy"],
        "verify the person's identity first",
    );
    let verified = env.ok(&["dsar", "verify", &req_id, "--as", "ivy", "--json"]);
    assert_eq!(verified["state"], "verified");
    // Four eyes: ivy asks, ivy cannot approve her own, rhea approves.
    let asked = env.ok(&["dsar", "complete", &req_id, "--as", "ivy", "--json"]);
    assert_eq!(asked["request"]["status"], "in_progress");
    let own = env.run_with(Some(&key), &["dsar", "approve", &req_id, "--as", "ivy"]);
    assert_eq!(own.code, Some(2), "{}{}", own.stdout, own.stderr);
    let erased = env.ok(&["dsar", "approve", &req_id, "--as", "rhea", "--json"]);
    assert_eq!(erased["erased"]["sealed_fields"], 4);
    let gone = env.ok(&[
        "subjects", "find", "--email", EMAIL, "--as", "jun", "--json",
    ]);
    assert_eq!(
        gone,
        serde_json::json!([]),
        "the blind-index entry is removed"
    );
    env.refused(
        &[
            "read",
            "C100",
            "--field",
            "email",
            "--purpose",
            "support: ticket 5522",
            "--as",
            "jun",
        ],
        "erased",
    );
    let access = env.ok(&[
        "dsar", "open", "C100", "--kind", "access", "--as", "jun", "--json",
    ]);
    let access_id = access["id"].as_i64().ok_or("no request")?.to_string();
    env.ok(&["dsar", "verify", &access_id, "--as", "ivy", "--json"]);
    let export = env.ok(&["dsar", "complete", &access_id, "--as", "ivy", "--json"]);
    assert_eq!(export["personal_data"], serde_json::json!({}));
    assert!(export["erased_at"].is_string());
    let destroyed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT k.wrapped FROM privacy_data_keys k JOIN privacy_subjects s ON s.id = k.subject_id WHERE s.ref = 'C100'",
    )
    .fetch_one(&db.pool)
    .await?;
    assert!(destroyed.is_none(), "the data key is gone");

    // The engine delivers what was queued, logging at debug level.
    let mut engine = vivid(&db.url);
    engine
        .env("RUST_LOG", "debug")
        .arg("--config")
        .arg(&config)
        .args(["engine", "--exit-when-idle"]);
    let ran = run(engine);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    env.log.push(ran.stderr);

    // The period report shows all of it.
    let report = env.ok(&["report", "--since", "1d", "--json"]);
    assert_eq!(report["audits"]["total"], 1);
    assert_eq!(report["findings"]["by_kind"]["access_anomaly"], 1);
    assert_eq!(report["incidents"][0]["id"], incident);
    assert_eq!(report["requests"]["completed"], 2);
    assert_eq!(report["requests"]["completed_on_time"], 2);
    assert_eq!(report["requests"]["refused"], 1);
    assert_eq!(report["keys"]["erasures"], 1);
    assert_eq!(report["access"]["refused"], 5);
    let md = env.run_with(Some(&key), &["report", "--since", "1d"]);
    assert!(
        md.stdout.contains("## Data-subject requests"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("access_anomaly"));

    // No plaintext PII in the database or in any log.
    let hits = stored_anywhere(&db, EMAIL).await?;
    assert!(hits.is_empty(), "the e-mail address is stored in {hits:?}");
    assert!(stored_anywhere(&db, "Rua do Teste").await?.is_empty());
    assert!(
        !stored_anywhere(&db, "account closed").await?.is_empty(),
        "the scan finds what is there"
    );
    let logs = env.log.join("\n");
    assert!(logs.contains("DEBUG"), "debug logs were captured");
    assert!(!logs.contains(EMAIL), "the e-mail address is in the logs");
    assert!(!logs.contains("Rua do Teste"));
    Ok(())
}
