//! A private PostgreSQL cluster that `vivid` runs itself, for a first run
//! with zero configuration and for tests on a machine without a server.
//!
//! It lives in `$VIVID_HOME/pg` (default `~/.local/share/vivid`; as root
//! `/var/lib/vivid`, because `initdb` refuses to run as root and the
//! `postgres` user cannot enter root's home), listens on 127.0.0.1 only, and
//! trusts local connections. A file lock makes concurrent starts safe.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::error::{Error, Result};

const SUPERUSER: &str = "vivid";

#[derive(Debug, Clone)]
pub struct Cluster {
    pub home: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClusterStatus {
    /// No cluster has been created yet.
    Absent,
    Stopped {
        data_dir: String,
    },
    Running {
        data_dir: String,
        url: String,
    },
}

/// The PostgreSQL server programs we need.
#[derive(Debug, Clone)]
struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

/// The effective user is root (initdb refuses to run as root).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `$VIVID_HOME`, or the user's data directory.
pub fn vivid_home() -> PathBuf {
    if let Some(home) = std::env::var_os("VIVID_HOME") {
        return PathBuf::from(home);
    }
    if running_as_root() {
        return PathBuf::from("/var/lib/vivid");
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("vivid");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/vivid"),
        None => PathBuf::from(".vivid"),
    }
}

impl Cluster {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    pub fn from_env() -> Result<Self> {
        Ok(Self::new(vivid_home()))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("pg")
    }

    fn port_file(&self) -> PathBuf {
        self.home.join("pg.port")
    }

    fn log_file(&self) -> PathBuf {
        self.home.join("pg.log")
    }

    fn port(&self) -> Option<u16> {
        std::fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The maintenance URL of the cluster (database `postgres`).
    pub fn url(&self) -> Option<String> {
        self.port()
            .map(|port| format!("postgres://{SUPERUSER}@127.0.0.1:{port}/postgres"))
    }

    /// Hold the cluster lock while starting or stopping.
    fn lock(&self) -> Result<File> {
        std::fs::create_dir_all(&self.home)
            .map_err(|e| Error::Cluster(format!("cannot create {}: {e}", self.home.display())))?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.home.join("pg.lock"))?;
        file.lock()?;
        Ok(file)
    }

    pub async fn status(&self) -> Result<ClusterStatus> {
        let data = self.data_dir();
        if !data.join("PG_VERSION").exists() {
            return Ok(ClusterStatus::Absent);
        }
        let bins = find_binaries()?;
        let running = self.pg_ctl_status(&bins).await?;
        let data_dir = data.display().to_string();
        Ok(match (running, self.url()) {
            (true, Some(url)) => ClusterStatus::Running { data_dir, url },
            _ => ClusterStatus::Stopped { data_dir },
        })
    }

    async fn pg_ctl_status(&self, bins: &Binaries) -> Result<bool> {
        let out = self
            .run_pg(
                &bins.pg_ctl,
                &["status", "-D", &self.data_dir().display().to_string()],
            )
            .await?;
        Ok(out.status.success())
    }

    /// Create the cluster if needed, start it if stopped; return its URL.
    pub async fn ensure_running(&self) -> Result<String> {
        let bins = find_binaries()?;
        let home = self.home.clone();
        let _lock = tokio::task::spawn_blocking({
            let c = self.clone();
            move || c.lock()
        })
        .await
        .map_err(|e| Error::Cluster(format!("lock task failed: {e}")))??;
        if !self.data_dir().join("PG_VERSION").exists() {
            self.init(&bins).await?;
        }
        if !self.pg_ctl_status(&bins).await? {
            let data = self.data_dir().display().to_string();
            let log = self.log_file().display().to_string();
            self.prepare_log()?;
            let out = self
                .run_pg(
                    &bins.pg_ctl,
                    &["start", "-D", &data, "-l", &log, "-w", "-t", "60"],
                )
                .await?;
            if !out.status.success() {
                let tail = std::fs::read_to_string(self.log_file())
                    .map(|s| {
                        s.lines()
                            .rev()
                            .take(5)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .unwrap_or_default();
                return Err(Error::Cluster(format!(
                    "the private PostgreSQL cluster in {} did not start: {} {}",
                    home.display(),
                    String::from_utf8_lossy(&out.stderr).trim(),
                    tail
                )));
            }
            tracing::info!(data_dir = %data, "started the private PostgreSQL cluster");
        }
        self.url().ok_or_else(|| {
            Error::Cluster(format!(
                "{} is missing: remove {} and retry",
                self.port_file().display(),
                self.data_dir().display()
            ))
        })
    }

    pub async fn stop(&self) -> Result<bool> {
        let data = self.data_dir();
        if !data.join("PG_VERSION").exists() {
            return Ok(false);
        }
        let bins = find_binaries()?;
        let _lock = self.lock()?;
        if !self.pg_ctl_status(&bins).await? {
            return Ok(false);
        }
        let out = self
            .run_pg(
                &bins.pg_ctl,
                &[
                    "stop",
                    "-D",
                    &data.display().to_string(),
                    "-m",
                    "fast",
                    "-w",
                ],
            )
            .await?;
        if !out.status.success() {
            return Err(Error::Cluster(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(true)
    }

    async fn init(&self, bins: &Binaries) -> Result<()> {
        let data = self.data_dir();
        std::fs::create_dir_all(&data)
            .map_err(|e| Error::Cluster(format!("cannot create {}: {e}", data.display())))?;
        if running_as_root() {
            let (uid, gid) = postgres_user_ids()?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))?;
        }
        let port = free_port()?;
        let data_s = data.display().to_string();
        let out = self
            .run_pg(
                &bins.initdb,
                &[
                    "-D",
                    &data_s,
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
            )
            .await?;
        if !out.status.success() {
            return Err(Error::Cluster(format!(
                "initdb failed in {data_s}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let conf = format!(
            "\n# written by vivid\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 300\nshared_buffers = 128MB\n"
        );
        // The config file belongs to the postgres user; append through it.
        let conf_path = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)?;
        std::fs::write(self.port_file(), format!("{port}\n"))?;
        tracing::info!(data_dir = %data_s, port, "created a private PostgreSQL cluster");
        Ok(())
    }

    fn prepare_log(&self) -> Result<()> {
        let log = self.log_file();
        if !log.exists() {
            File::create(&log)?;
        }
        if running_as_root() {
            let (uid, gid) = postgres_user_ids()?;
            std::os::unix::fs::chown(&log, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Run a PostgreSQL program, as the `postgres` user when we are root.
    async fn run_pg(&self, program: &Path, args: &[&str]) -> Result<std::process::Output> {
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(&self.home);
        cmd.output()
            .await
            .map_err(|e| Error::Cluster(format!("cannot run {}: {e}", program.display())))
    }
}

/// Look for initdb and pg_ctl on PATH, then in /usr/lib/postgresql/*/bin.
fn find_binaries() -> Result<Binaries> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    dirs.extend(versioned.into_iter().map(|(_, p)| p));
    for dir in dirs {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        if initdb.is_file() && pg_ctl.is_file() {
            return Ok(Binaries { initdb, pg_ctl });
        }
    }
    Err(Error::Cluster(
        "no PostgreSQL server found: set DATABASE_URL, or install the PostgreSQL server binaries (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@15`)".into(),
    ))
}

/// uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user_ids() -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let mut f = line.split(':');
            if f.next()? != "postgres" {
                return None;
            }
            let _pw = f.next()?;
            let uid = f.next()?.parse().ok()?;
            let gid = f.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .ok_or_else(|| {
            Error::Cluster("running as root, initdb needs the `postgres` system user, which does not exist (install the PostgreSQL server package)".into())
        })
}

/// A free TCP port on 127.0.0.1, preferring 5433 upwards.
fn free_port() -> Result<u16> {
    for port in 5433..5533 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
