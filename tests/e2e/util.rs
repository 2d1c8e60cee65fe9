//! Shared helpers: run the real binary against a fresh database.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub use vivid_core::testing::{TestDb, empty_db, fresh_db};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A scratch directory for one test (config files, VIVID_HOME).
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vivid-e2e-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok();
    dir
}

/// `vivid` pointed at a database, run from a directory without config files
/// (so the embedded defaults apply) and with quiet logs.
pub fn vivid(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vivid"));
    cmd.env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env("VIVID_HOME", scratch_dir("home"))
        .env_remove("VIVID_CONFIG")
        .env_remove("VIVID_CONFIG_DIR")
        .current_dir(scratch_dir("cwd"))
        .stdin(Stdio::null());
    cmd
}

pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: Command) -> Ran {
    let out: Output = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run vivid: {e}"),
    };
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `vivid ARGS` against `db` and parse stdout as JSON; panics with the
/// output on failure.
pub fn json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut cmd = vivid(&db.url);
    cmd.args(args);
    let ran = run(cmd);
    assert_eq!(
        ran.code,
        Some(0),
        "vivid {args:?} failed: {}{}",
        ran.stdout,
        ran.stderr
    );
    match serde_json::from_str(&ran.stdout) {
        Ok(v) => v,
        Err(e) => panic!("vivid {args:?} printed invalid JSON ({e}): {}", ran.stdout),
    }
}

/// Spawn a `vivid` server whose first printed line names the address it
/// bound (`--listen 127.0.0.1:0`, `--http 127.0.0.1:0`); the child and that
/// `http://` address, or an error after a minute of silence.
pub fn spawn_listening(
    mut cmd: Command,
) -> Result<(std::process::Child, String), Box<dyn std::error::Error>> {
    use std::io::{BufRead, BufReader};
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn()?;
    let Some(stdout) = child.stdout.take() else {
        child.kill().ok();
        return Err("no stdout".into());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let found = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .ok()
        .and_then(|line| {
            line.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_string)
        });
    match found {
        Some(url) => Ok((child, url)),
        None => {
            child.kill().ok();
            child.wait().ok();
            Err("the server did not say where it listens".into())
        }
    }
}
