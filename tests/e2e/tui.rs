//! The control room in a real terminal: `vivid tui` runs inside tmux; the
//! test types keys and reads the screen.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vivid_core::engine::events::{self, NewEvent};

use crate::util::*;

static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// A private tmux server running one command in a window of a fixed size.
struct Tmux {
    socket: String,
}

/// Quote for the shell tmux runs the command with.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    fn start(db: &TestDb, width: u16, height: u16, args: &str) -> Result<Self, String> {
        let socket = format!(
            "vivid-e2e-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let home = scratch_dir("home");
        // The environment goes on the command line: the tmux server's own
        // environment is not what the pane's shell sees.
        let command = format!(
            "env -u VIVID_CONFIG -u VIVID_CONFIG_DIR DATABASE_URL={} RUST_LOG=warn VIVID_HOME={} {} {args}; echo \"vivid exited $?\"; sleep 60",
            sh(&db.url),
            sh(&home.to_string_lossy()),
            sh(env!("CARGO_BIN_EXE_vivid")),
        );
        let tmux = Self { socket };
        let (w, h) = (width.to_string(), height.to_string());
        let cwd = scratch_dir("cwd");
        let cwd = cwd.to_string_lossy();
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "vivid",
            "-x",
            &w,
            "-y",
            &h,
            "-c",
            &cwd,
            &command,
        ])?;
        Ok(tmux)
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn keys(&self, keys: &[&str]) -> Result<(), String> {
        let mut args = vec!["send-keys", "-t", "vivid"];
        args.extend_from_slice(keys);
        self.run(&args).map(|_| ())
    }

    fn screen(&self) -> Result<String, String> {
        self.run(&["capture-pane", "-p", "-t", "vivid"])
    }

    /// Poll the screen until it shows `text` (a generous upper bound, not
    /// a timing assertion).
    fn wait_for(&self, text: &str, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen()?;
            if screen.contains(text) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the screen did not show {text:?} within {within:?}:\n{screen}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]).ok();
    }
}

const START: Duration = Duration::from_secs(20);
const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_in_a_real_terminal() -> TestResult {
    let db = fresh_db().await?;
    json(&db, &["seed", "demo", "--json"]);
    // A social post in review that the Marketing director decides; the
    // control room acts as her. Approval decisions go through the workflow
    // that owns the request, so approving moves the post to Approved.
    let post = json(
        &db,
        &[
            "content",
            "new",
            "Spring sale post",
            "--kind",
            "social_post",
            "--channel",
            "social",
            "--as",
            "lena",
            "--json",
        ],
    );
    let post_id = post["id"].as_i64().ok_or("no content id")?.to_string();
    let draft = scratch_dir("draft").join("post.md");
    std::fs::write(&draft, "Spring sale: 20% off every print this weekend.\n")?;
    let draft = draft.to_string_lossy().into_owned();
    json(
        &db,
        &[
            "content", "edit", &post_id, "--file", &draft, "--as", "lena", "--json",
        ],
    );
    let submitted = json(
        &db,
        &["content", "submit", &post_id, "--as", "lena", "--json"],
    );
    assert_eq!(submitted["item"]["state"], "review", "{submitted}");

    // A P1 opened by someone else before the control room starts.
    let opened = json(
        &db,
        &[
            "crisis",
            "open",
            "Checkout down in tmux",
            "--severity",
            "P1",
            "--as",
            "kai",
            "--json",
        ],
    );
    let p1 = opened["id"].as_i64().ok_or("no incident id")?;

    let tmux = Tmux::start(&db, 100, 40, "tui --as maya")?;
    let screen = tmux.wait_for("KPIs", START)?;
    assert!(screen.contains("1 Overview"), "{screen}");
    assert!(screen.contains("daily_revenue"), "{screen}");
    assert!(screen.contains("Crisis"), "the crisis tile: {screen}");

    // Crisis, the first tab after the overview: acknowledge the P1 with
    // `a`, no confirmation, as the operator.
    tmux.keys(&["2"])?;
    tmux.wait_for("most urgent first", SOON)?;
    tmux.keys(&["/", "checkout down in tmux", "Enter"])?;
    let screen = tmux.wait_for("filter: checkout down in tmux", SOON)?;
    assert!(screen.contains("Checkout down in tmux"), "{screen}");
    assert!(screen.contains("P1"), "{screen}");
    tmux.keys(&["a"])?;
    tmux.wait_for(&format!("acknowledged #{p1}"), SOON)?;
    let shown = json(&db, &["crisis", "show", &p1.to_string(), "--json"]);
    assert_eq!(shown["incident"]["status"], "acknowledged", "{shown}");
    assert_eq!(
        shown["incident"]["acknowledged_by"], "maya",
        "acknowledged by the operator: {shown}"
    );
    // A second acknowledgement changes nothing and says who was first.
    tmux.keys(&["a"])?;
    tmux.wait_for("already acknowledged by @maya", SOON)?;

    // An incident opened from another process shows up live.
    tmux.keys(&["Escape", "/", "scanner", "Enter"])?;
    tmux.wait_for("filter: scanner", SOON)?;
    let other = json(
        &db,
        &[
            "crisis",
            "open",
            "Warehouse scanner offline",
            "--severity",
            "P2",
            "--as",
            "kai",
            "--json",
        ],
    );
    let screen = tmux.wait_for("Warehouse scanner offline", SOON)?;
    assert!(
        screen.contains(&format!("#{}", other["id"].as_i64().ok_or("no id")?)),
        "{screen}"
    );
    tmux.keys(&["Escape"])?;

    // Approvals: approve as the operator, with a confirmation.
    tmux.keys(&["3"])?;
    tmux.wait_for("Spring sale post", SOON)?;
    // The demo data has requests of its own: filter down to ours.
    tmux.keys(&["/", "spring sale", "Enter"])?;
    tmux.wait_for("filter: spring sale", SOON)?;
    tmux.keys(&["a"])?;
    tmux.wait_for("cannot be undone", SOON)?;
    tmux.keys(&["y"])?;
    tmux.wait_for("is approved", SOON)?;
    let shown = json(&db, &["content", "show", &post_id, "--json"]);
    assert_eq!(shown["item"]["state"], "approved", "{shown}");
    tmux.wait_for("No pending approval matches", SOON)?;

    // Events: a change committed elsewhere shows up live.
    tmux.keys(&["6"])?;
    tmux.wait_for("Event log", SOON)?;
    {
        let mut tx = db.pool.begin().await?;
        events::append(
            &mut tx,
            &NewEvent::new("crisis", "incident", "e2e-1", "tmux_probe", "omar"),
            chrono::Utc::now(),
        )
        .await?;
        tx.commit().await?;
    }
    tmux.wait_for("tmux_probe", SOON)?;

    // Filter, help, resize.
    tmux.keys(&["/", "probe", "Enter"])?;
    let screen = tmux.wait_for("filter: probe", SOON)?;
    assert!(!screen.contains("approval_requested"), "{screen}");
    tmux.keys(&["?"])?;
    tmux.wait_for("Everywhere", SOON)?;
    tmux.keys(&["Escape"])?;
    tmux.run(&["resize-window", "-t", "vivid", "-x", "80", "-y", "24"])?;
    let screen = tmux.wait_for("q quit", SOON)?;
    assert!(!screen.contains("Everywhere"), "help closed: {screen}");
    assert!(
        screen.lines().all(|l| l.chars().count() <= 80),
        "redrawn at 80 columns: {screen}"
    );

    // Quit: the terminal is given back and the exit is clean.
    tmux.keys(&["q"])?;
    let screen = tmux.wait_for("vivid exited", SOON)?;
    assert!(screen.contains("vivid exited 0"), "{screen}");
    assert!(
        !screen.contains("KPIs"),
        "left the alternate screen: {screen}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_it_prints_the_plain_status() -> TestResult {
    let db = fresh_db().await?;
    let mut cmd = vivid(&db.url);
    cmd.args(["tui"]).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    // Read everything it prints (until it exits) on a thread of its own.
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut seen) = seen.lock() {
                    seen.extend_from_slice(&buf[..n]);
                }
            }
        })
    };
    let printed = || {
        seen.lock()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .unwrap_or_default()
    };
    // Once it has printed a report, stop it as a service manager would.
    let deadline = Instant::now() + START;
    while !printed().contains("EVENTS") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let status = child.wait()?;
    reader.join().ok();
    let out = printed();
    assert!(out.contains("control room"), "{out}");
    assert!(out.contains("APPROVALS"), "{out}");
    assert!(!out.contains('\x1b'), "no escape codes on a pipe: {out:?}");
    assert_eq!(status.code(), Some(0));
    Ok(())
}
