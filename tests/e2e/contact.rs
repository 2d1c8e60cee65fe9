//! `vivid contact` through the binary: details go in sealed and come out
//! masked, bad input is refused with a reason, and no log line carries them.

use vivid_core::privacy::crypto::MasterKey;

use crate::util::*;

const EMAIL: &str = "kai.tanaka@example.org";

fn contact(db: &TestDb, key: Option<&str>, args: &[&str], log: &mut String) -> Ran {
    let mut cmd = vivid(&db.url);
    cmd.arg("contact").args(args).env("RUST_LOG", "debug");
    match key {
        Some(k) => cmd.env("VIVID_MASTER_KEY", k),
        None => cmd.env_remove("VIVID_MASTER_KEY"),
    };
    let ran = run(cmd);
    log.push_str(&ran.stderr);
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_added_masked_refused_and_removed() -> TestResult {
    let db = fresh_db().await?;
    let key = MasterKey::generate()?.to_base64();
    let key = Some(key.as_str());
    let mut log = String::new();

    let ran = contact(
        &db,
        key,
        &[
            "add", "kai", "--method", "email", "--to", EMAIL, "--as", "kai", "--json",
        ],
        &mut log,
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let added: serde_json::Value = serde_json::from_str(&ran.stdout)?;
    assert_eq!(added["hint"], "k•••@example.org");
    assert_eq!(added["method"], "email");
    let id = added["id"].as_i64().ok_or("no id")?;

    let ran = contact(&db, key, &["list", "kai"], &mut log);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stdout.contains("k•••@example.org"), "{}", ran.stdout);
    assert!(!ran.stdout.contains(EMAIL));

    // Refusals say why and change nothing.
    let ran = contact(
        &db,
        key,
        &[
            "add", "kai", "--method", "sms", "--to", "555-1234", "--as", "kai",
        ],
        &mut log,
    );
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("international"), "{}", ran.stderr);
    let ran = contact(
        &db,
        key,
        &[
            "add", "kai", "--method", "pager", "--to", "x", "--as", "kai",
        ],
        &mut log,
    );
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("pager"), "{}", ran.stderr);
    let ran = contact(
        &db,
        None,
        &[
            "add", "kai", "--method", "email", "--to", EMAIL, "--as", "kai",
        ],
        &mut log,
    );
    assert_ne!(ran.code, Some(0));
    assert!(
        ran.stderr.contains("VIVID_MASTER_KEY is not set"),
        "{}",
        ran.stderr
    );
    let ran = contact(
        &db,
        key,
        &[
            "add", "kai", "--method", "email", "--to", EMAIL, "--as", "dana",
        ],
        &mut log,
    );
    assert_ne!(ran.code, Some(0));
    assert!(ran.stderr.contains("may not change kai"), "{}", ran.stderr);
    let listed = json(&db, &["contact", "list", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    let ran = contact(
        &db,
        key,
        &["remove", &id.to_string(), "--as", "kai"],
        &mut log,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let listed = json(&db, &["contact", "list", "kai", "--json"]);
    assert_eq!(listed, serde_json::json!([]));
    assert!(!log.contains(EMAIL), "a log line carries the address");
    Ok(())
}
