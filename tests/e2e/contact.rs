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

/// A local push server that answers 200 and counts the requests it got.
fn push_server() -> std::io::Result<(String, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/kai-pages", listener.local_addr()?);
    let got = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then the body its Content-Length announces.
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    Ok((url, got))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_rotation_rewraps_contact_methods() -> TestResult {
    use std::sync::atomic::Ordering;
    let db = fresh_db().await?;
    let old = MasterKey::generate()?.to_base64();
    let new = MasterKey::generate()?.to_base64();
    let (url, got) = push_server()?;
    let mut log = String::new();
    let ran = contact(
        &db,
        Some(&old),
        &[
            "add", "kai", "--method", "push", "--to", &url, "--as", "kai",
        ],
        &mut log,
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let ran = contact(&db, Some(&old), &["test", "kai", "--as", "kai"], &mut log);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(got.load(Ordering::SeqCst), 1);

    let mut cmd = vivid(&db.url);
    cmd.args(["privacy", "rotate-key", "--as", "theo", "--json"])
        .env("VIVID_MASTER_KEY", &old)
        .env("VIVID_NEW_MASTER_KEY", &new);
    let ran = run(cmd);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let rotation: serde_json::Value = serde_json::from_str(&ran.stdout)?;
    assert_eq!(rotation["contacts_rewrapped"], 1, "{rotation}");

    // The new key opens the contact; the old one no longer does.
    let ran = contact(&db, Some(&new), &["test", "kai", "--as", "kai"], &mut log);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(got.load(Ordering::SeqCst), 2);
    let ran = contact(&db, Some(&old), &["test", "kai", "--as", "kai"], &mut log);
    assert_ne!(ran.code, Some(0), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("failed") && ran.stdout.contains("cannot open contact method"),
        "{}{}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        got.load(Ordering::SeqCst),
        2,
        "nothing was sent with the old key"
    );
    assert!(
        !log.contains("kai-pages"),
        "a log line carries the push URL"
    );
    Ok(())
}
