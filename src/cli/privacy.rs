//! `vivid privacy ...`: collection, classification, reads with a purpose,
//! audits and findings, data-subject requests, breaches, the report, and
//! the master key. Commands that touch personal data need VIVID_MASTER_KEY
//! and check it against the database before doing anything.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Subcommand};
use vivid_core::Ctx;
use vivid_core::config::Config;
use vivid_core::crisis::Severity;
use vivid_core::duration::format_delta;
use vivid_core::engine::approvals::Decision;
use vivid_core::privacy::classify::Classifier;
use vivid_core::privacy::crypto::{MASTER_KEY_VAR, MasterKey, NEW_MASTER_KEY_VAR};
use vivid_core::privacy::model::RequestKind;
use vivid_core::privacy::service::{self, BreachInfoUpdate, NewBreach, NewRequest, ReadRequest};
use vivid_core::privacy::store::{AccessFilter, Breach, Request};
use vivid_core::privacy::{audit, read, report};
use vivid_core::when::{Bound, Relative};

use super::{ActorArg, JsonFlag};
use crate::app::{self, Schema};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Collect a record about a customer: every field is classified; PII is encrypted.
    Collect(CollectArgs),
    /// How fields are classified (no database needed).
    Classify(ClassifyArgs),
    /// Data subjects: references, status, fields held (never values);
    /// `subjects find --email ADDRESS` finds one by e-mail (blind index).
    Subjects(SubjectsArgs),
    /// Read a customer's personal data: needs the role and a purpose; logged.
    Read(ReadArgs),
    /// The access log: every read of personal data, granted or refused.
    Log(LogArgs),
    /// Audits: run one now, list them, show one with its documentation.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Audit findings (open ones; --all for every one); resolve one.
    Findings(FindingsArgs),
    /// Data-subject requests: access, rectification, erasure.
    #[command(subcommand)]
    Dsar(DsarCommand),
    /// Personal-data breaches: the 72-hour notification clock, remediation, close-out.
    #[command(subcommand)]
    Breach(BreachCommand),
    /// The record of processing activities (GDPR Art. 30), from config.
    Ropa(JsonFlag),
    /// The compliance report for a period, as Markdown or JSON.
    Report(ReportArgs),
    /// Re-wrap every data key under the key in VIVID_NEW_MASTER_KEY (data untouched).
    RotateKey(ActJson),
    /// Print a new random master key (base64 of 32 bytes).
    Keygen(JsonFlag),
}

#[derive(Debug, Args)]
pub struct ActJson {
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The customer's reference (created when new; generated when omitted).
    #[arg(long)]
    subject: Option<String>,
    /// A field as NAME=VALUE (repeat). Prefer --file: values on the command
    /// line end up in shell history.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// A JSON object of fields, from a file or `-` for stdin.
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Field names to classify.
    fields: Vec<String>,
    /// Also run the value detectors on this value.
    #[arg(long)]
    value: Option<String>,
    /// List the categories with who may read them and their retention.
    #[arg(long)]
    categories: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The data subject's reference (from `vivid privacy subjects`).
    subject: String,
    /// Only these fields (repeat); default: every PII field held.
    #[arg(long = "field")]
    fields: Vec<String>,
    /// Why you need it, from the configured purposes: NAME or "NAME: detail"
    /// (e.g. "support: ticket 4411"); required, recorded in the access log.
    #[arg(long, default_value = "")]
    purpose: String,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only reads of this data subject (its reference).
    #[arg(long)]
    subject: Option<String>,
    /// Only reads by this person (a handle from `vivid org list`).
    #[arg(long)]
    person: Option<String>,
    /// Only refused reads.
    #[arg(long)]
    refused: bool,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Run an audit now (the engine also runs one on the schedule).
    Run(ActJson),
    /// Recent audits.
    List(JsonFlag),
    /// One audit: its documentation record, findings and retention actions.
    Show(IdJson),
}

#[derive(Debug, Args)]
pub struct IdJson {
    /// The number (from the matching `list` command).
    id: i64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct FindingsArgs {
    #[command(subcommand)]
    action: Option<FindingsAction>,
    /// Include resolved findings.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum FindingsAction {
    /// Resolve a finding with what was done about it.
    Resolve {
        /// The finding number (from `vivid privacy findings`).
        id: i64,
        /// What was done about it, in a sentence (recorded in the event log).
        #[arg(long)]
        note: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

#[derive(Debug, Args)]
pub struct SubjectsArgs {
    #[command(subcommand)]
    action: Option<SubjectsAction>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum SubjectsAction {
    /// Find the subject an e-mail address belongs to (the address is
    /// matched through its blind index; it is never stored).
    Find {
        /// The e-mail address to look up.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum DsarCommand {
    /// Open a request for a subject (reference or --email); the one-month
    /// clock starts at receipt. An unknown address still opens it.
    Open {
        /// The data subject's reference (from `vivid privacy subjects`).
        #[arg(required_unless_present = "email", conflicts_with = "email")]
        subject: Option<String>,
        /// The person's e-mail address, found through the blind index.
        #[arg(long)]
        email: Option<String>,
        /// access, rectification, erasure, restriction, portability or objection
        #[arg(long)]
        kind: String,
        /// A note on the request, in a sentence.
        #[arg(long, default_value = "")]
        note: String,
        /// When it was received, if earlier (YYYY-MM-DD, a local date;
        /// "YYYY-MM-DD HH:MM" local time; RFC 3339; or "2d" for two days ago).
        #[arg(long)]
        received: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Requests (open ones; --all for every one).
    List {
        /// Include closed requests.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// One request.
    Show(IdJson),
    /// Record the identity check: verified, or --started when proof was asked for.
    Verify {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// How the identity is checked (never the evidence itself).
        #[arg(long, default_value = "identity checked against the account")]
        method: String,
        /// Proof of identity was asked for; not yet verified.
        #[arg(long)]
        started: bool,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Write the export of an access or portability request to a file
    /// (owner-only permissions).
    Export {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// The file to write (created with owner-only permissions).
        #[arg(long)]
        out: PathBuf,
        /// json, or csv (portability)
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Approve an erasure as the second person (four eyes).
    Approve {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// A comment on the approval, in a sentence (recorded in the event log).
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Refuse an erasure's approval, with the reason; it goes back to verified.
    Reject {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// Why it is refused, in a sentence (recorded in the event log).
        #[arg(long)]
        comment: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Extend by up to two months; run it when the person has been told why.
    Extend {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// How many months to extend by (1 or 2).
        #[arg(long, default_value_t = 1)]
        months: u32,
        /// Why more time is needed, in a sentence (as told to the person).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Carry it out: access and portability print the export;
    /// rectification takes the corrected fields; erasure asks a second
    /// person to approve (then the data key is destroyed); restriction and
    /// objection flag the person.
    Complete {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// Corrected field NAME=VALUE (rectification).
        #[arg(long = "field", value_name = "NAME=VALUE")]
        fields: Vec<String>,
        /// Corrected fields as a JSON object (rectification), or `-` for stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Refuse it (manifestly unfounded or excessive), with the reason.
    Refuse {
        /// The request number (from `vivid privacy dsar list`).
        id: i64,
        /// Why it is refused, in a sentence (recorded in the event log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Args, Default)]
pub struct InfoArgs {
    /// The nature of the breach (what happened, which data).
    #[arg(long)]
    nature: Option<String>,
    /// The categories of people and of records concerned (e.g. "customers;
    /// contact details and order history").
    #[arg(long)]
    categories: Option<String>,
    /// Approximate number of people concerned.
    #[arg(long)]
    people: Option<i64>,
    /// Approximate number of records concerned.
    #[arg(long)]
    records: Option<i64>,
    /// Contact point for more information (default: the data-protection contact).
    #[arg(long)]
    contact: Option<String>,
    /// Likely consequences for the people concerned.
    #[arg(long)]
    consequences: Option<String>,
    /// Measures taken or proposed.
    #[arg(long)]
    measures: Option<String>,
}

impl InfoArgs {
    fn update(&self) -> BreachInfoUpdate {
        BreachInfoUpdate {
            nature: self.nature.clone(),
            categories: self.categories.clone(),
            people_approx: self.people,
            records_approx: self.records,
            contact_point: self.contact.clone(),
            consequences: self.consequences.clone(),
            measures: self.measures.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BreachCommand {
    /// Record a breach: opens a privacy incident (or joins the finding's) and starts the 72-hour clock.
    Open {
        /// What happened, in a few words.
        title: String,
        /// The audit finding that revealed it.
        #[arg(long)]
        finding: Option<i64>,
        /// An existing incident to attach it to.
        #[arg(long)]
        incident: Option<i64>,
        /// P1, P2, P3 or P4 for the privacy incident (default: P1).
        #[arg(long, default_value = "P1")]
        severity: String,
        /// When the organisation became aware, if earlier (YYYY-MM-DD, a local
        /// date; "YYYY-MM-DD HH:MM" local time; RFC 3339; or "5h" ago).
        #[arg(long)]
        aware: Option<String>,
        #[command(flatten)]
        info: InfoArgs,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Breaches (open ones; --all for every one).
    List {
        /// Include closed breaches.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// One breach: its record, clock, phases and tasks.
    Show(IdJson),
    /// Add information; after notification, each update is a further phase.
    Update {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        #[command(flatten)]
        info: InfoArgs,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Record that the authority was notified (late: --late-reason).
    Notify {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        /// Why the notification was later than 72 hours, in a sentence.
        #[arg(long)]
        late_reason: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Record why no notification is required (unlikely to result in a risk).
    Exempt {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        /// Why no risk to people is likely, in a sentence (recorded in the event log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add a remediation task.
    Task {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        /// What is to be done, in a sentence.
        description: String,
        /// Who does it (a handle from `vivid org list`).
        #[arg(long)]
        owner: String,
        /// Due date (YYYY-MM-DD, a local date: due at its end; "YYYY-MM-DD
        /// HH:MM" local time; RFC 3339) or a duration from now ("2d").
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Mark a remediation task done.
    Done {
        /// The task number (from `vivid privacy breach show`).
        task: i64,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Ask the Compliance & Risk director to approve the close-out.
    Close(IdAct),
    /// Approve a close-out (Compliance & Risk director; not the requester).
    Approve {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        /// A comment on the approval, in a sentence (recorded in the event log).
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Send a close-out back, with the reason.
    Reject {
        /// The breach number (from `vivid privacy breach list`).
        id: i64,
        /// Why it is sent back, in a sentence (recorded in the event log).
        #[arg(long)]
        comment: String,
        #[command(flatten)]
        actor: ActorArg,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct IdAct {
    /// The breach number (from `vivid privacy breach list`).
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The period: the last DURATION (default 30d), or since a date
    /// (YYYY-MM-DD, a local date) or time.
    #[arg(long, default_value = "30d")]
    since: String,
    /// Start of the period (YYYY-MM-DD, a local date; "YYYY-MM-DD HH:MM"
    /// local time; RFC 3339; or a duration ago); overrides --since.
    #[arg(long)]
    from: Option<String>,
    /// End of the period (default now); a bare date is a local date, counted
    /// to its end.
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

/// The master key from the environment, or a clear error before anything starts.
fn master_key() -> Result<MasterKey> {
    Ok(MasterKey::from_env(MASTER_KEY_VAR)?)
}

/// Connect, then prove the key is this database's before acting.
async fn connect_with_key(config: Config) -> Result<(Ctx, MasterKey)> {
    let key = master_key()?;
    let ctx = app::connect(config, Schema::RequireCurrent, 4).await?;
    service::check_key(&ctx, &key).await?;
    Ok((ctx, key))
}

async fn connect(config: Config) -> Result<Ctx> {
    app::connect(config, Schema::RequireCurrent, 4).await
}

fn invalid(msg: String) -> anyhow::Error {
    vivid_core::Error::invalid(msg).into()
}

/// NAME=VALUE pairs and/or a JSON object of string-able values.
fn read_fields(pairs: &[String], file: Option<&PathBuf>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            invalid(format!(
                "--field {:?} is not NAME=VALUE",
                p.split('=').next().unwrap_or_default()
            ))
        })?;
        out.push((k.trim().to_string(), v.to_string()));
    }
    if let Some(path) = file {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("the fields are not a JSON object: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("the fields must be a JSON object of NAME: VALUE".into()))?;
        for (k, v) in obj {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => v.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "field `{k}` must be a string, number or boolean"
                    )));
                }
            };
            out.push((k.clone(), v));
        }
    }
    Ok(out)
}

/// `--received`, `--aware`, `--from`: a bare date is the start of that
/// local day; "2d" is two days ago.
fn parse_past(ctx: &Ctx, s: &str, what: &str) -> Result<DateTime<Utc>> {
    super::parse_when(ctx, what, s, Bound::Start, Relative::Past)
}

/// `--to`: a bare date counts to the end of that local day; "2d" is two days ago.
fn parse_until(ctx: &Ctx, s: &str, what: &str) -> Result<DateTime<Utc>> {
    super::parse_when(ctx, what, s, Bound::End, Relative::Past)
}

/// `--due`: a bare date is due at the end of that local day; "2d" is two days from now.
fn parse_future(ctx: &Ctx, s: &str) -> Result<DateTime<Utc>> {
    super::parse_when(ctx, "--due", s, Bound::End, Relative::Future)
}

/// Write a file only its owner can read (it holds personal data).
fn write_private(path: &std::path::Path, body: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(body)
        .map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

fn left(now: DateTime<Utc>, due: DateTime<Utc>) -> String {
    if due >= now {
        format!("{} left", format_delta(due - now))
    } else {
        format!("OVERDUE {}", format_delta(now - due))
    }
}

fn print_request(ctx: &Ctx, r: &Request, json: bool) -> Result<()> {
    if json {
        return output::json(&read::RequestView::new(ctx, r.clone()));
    }
    let now = ctx.now();
    let clock = if r.is_open() {
        left(now, r.due_at)
    } else {
        r.completed_at
            .map(|c| {
                if c <= r.due_at {
                    "on time".to_string()
                } else {
                    "late".to_string()
                }
            })
            .unwrap_or_default()
    };
    println!(
        "request #{} {} for {}: {} (received {}, due {}{}; {clock})",
        r.id,
        r.kind,
        r.subject_ref,
        r.status,
        ctx.calendar.local_date(r.received_at),
        ctx.calendar.format_local(r.due_at),
        if r.extended_months > 0 {
            format!(", extended {} month(s)", r.extended_months)
        } else {
            String::new()
        },
    );
    if let Some(o) = &r.outcome {
        println!("  outcome: {o}");
    }
    Ok(())
}

fn print_breach(ctx: &Ctx, b: &Breach, json: bool) -> Result<()> {
    if json {
        return output::json(b);
    }
    let clock = match (b.status.as_str(), b.notified_at) {
        ("assessing", _) => format!(
            "notify by {} ({})",
            ctx.calendar.format_local(b.notify_by),
            left(ctx.now(), b.notify_by)
        ),
        (_, Some(n)) => format!(
            "notified {} ({})",
            ctx.calendar.format_local(n),
            if n <= b.notify_by { "on time" } else { "late" }
        ),
        _ => "no notification required".into(),
    };
    println!(
        "breach #{} [{}] {} — incident #{}; {clock}",
        b.id, b.status, b.title, b.incident_id
    );
    Ok(())
}

pub async fn run(config: Config, cmd: PrivacyCommand) -> Result<()> {
    match cmd {
        PrivacyCommand::Keygen(flag) => {
            let key = MasterKey::generate()?;
            if flag.json {
                return output::json(&serde_json::json!({ "key": key.to_base64() }));
            }
            println!("{}", key.to_base64());
            eprintln!(
                "Keep it secret: export {MASTER_KEY_VAR}=<this key>. It is shown once and stored nowhere."
            );
            Ok(())
        }
        PrivacyCommand::Classify(args) => classify(&config, args),
        PrivacyCommand::Collect(args) => {
            let fields = read_fields(&args.fields, args.file.as_ref())?;
            let (ctx, key) = connect_with_key(config).await?;
            let actor = args.actor.resolve(&ctx)?;
            let done =
                service::collect(&ctx, &key, args.subject.as_deref(), &fields, &actor).await?;
            if args.json.json {
                return output::json(&done);
            }
            println!(
                "{} {}: {} field(s) encrypted, {} to analytics",
                if done.created {
                    "collected new subject"
                } else {
                    "collected for"
                },
                done.subject,
                done.fields.iter().filter(|f| f.pii).count(),
                done.fields.iter().filter(|f| !f.pii).count()
            );
            Ok(())
        }
        PrivacyCommand::Subjects(SubjectsArgs {
            action: Some(SubjectsAction::Find { email, actor, json }),
            ..
        }) => {
            let (ctx, key) = connect_with_key(config).await?;
            let actor = actor.resolve(&ctx)?;
            let found = service::find_by_email(&ctx, &key, &email, &actor).await?;
            if json.json {
                return output::json(&found);
            }
            if found.is_empty() {
                println!("no subject holds that address");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|f| {
                    vec![
                        f.subject.clone(),
                        f.status.clone(),
                        ctx.calendar.local_date(f.created_at).to_string(),
                        if f.objected { "objected" } else { "" }.to_string(),
                        if f.restricted { "restricted" } else { "" }.to_string(),
                    ]
                })
                .collect();
            output::table(&["SUBJECT", "STATUS", "SINCE", "", ""], &rows);
            Ok(())
        }
        PrivacyCommand::Ropa(flag) => {
            let p = vivid_core::privacy::config::settings(&config)?;
            let records = vivid_core::privacy::ropa::records(p);
            if flag.json {
                return output::json(&records);
            }
            for r in &records {
                println!(
                    "{} ({}){}",
                    r.category,
                    if r.pii {
                        "personal data"
                    } else {
                        "not personal"
                    },
                    if r.description.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.description)
                    }
                );
                println!("  purposes     {}", r.purposes.join(", "));
                println!("  legal basis  {}", r.legal_basis);
                println!("  recipients   {}", r.recipients.join("; "));
                println!("  retention    {}", r.retention);
                println!("  transfers    {}", r.transfers);
                println!("  source       {}", r.source);
            }
            Ok(())
        }
        PrivacyCommand::Subjects(flag) => {
            let ctx = connect(config).await?;
            let list = read::subjects(&ctx, 0).await?;
            if flag.json.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|s| {
                    vec![
                        s.r#ref.clone(),
                        s.status.clone(),
                        s.pii_fields.join(","),
                        s.analytics_records.to_string(),
                        s.open_requests.to_string(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "SUBJECT",
                    "STATUS",
                    "PII FIELDS",
                    "RECORDS",
                    "OPEN REQUESTS",
                ],
                &rows,
            );
            Ok(())
        }
        PrivacyCommand::Read(args) => {
            let (ctx, key) = connect_with_key(config).await?;
            let actor = args.actor.resolve(&ctx)?;
            let fields = (!args.fields.is_empty()).then_some(args.fields.as_slice());
            let read = service::read(
                &ctx,
                &key,
                &ReadRequest {
                    subject: &args.subject,
                    fields,
                    purpose: &args.purpose,
                    actor: &actor,
                },
            )
            .await?;
            if args.json.json {
                return output::json(&read);
            }
            for (k, v) in &read.values {
                println!("{k}: {v}");
            }
            eprintln!("(read logged as access #{})", read.access_id);
            Ok(())
        }
        PrivacyCommand::Log(args) => {
            let ctx = connect(config).await?;
            let log = read::access_log(
                &ctx,
                &AccessFilter {
                    subject_ref: args.subject,
                    actor: args.person,
                    refused_only: args.refused,
                    limit: args.limit,
                },
            )
            .await?;
            if args.json.json {
                return output::json(&log);
            }
            let rows: Vec<Vec<String>> = log
                .iter()
                .map(|e| {
                    vec![
                        format!("#{}", e.id),
                        ctx.calendar.format_local(e.at),
                        format!("@{}", e.actor),
                        e.subject_ref.clone(),
                        e.fields.join(","),
                        e.outcome.clone(),
                        e.purpose.clone(),
                        e.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "#", "WHEN", "WHO", "SUBJECT", "FIELDS", "OUTCOME", "PURPOSE", "REASON",
                ],
                &rows,
            );
            Ok(())
        }
        PrivacyCommand::Audit(cmd) => audit_cmd(config, cmd).await,
        PrivacyCommand::Findings(args) => findings_cmd(config, args).await,
        PrivacyCommand::Dsar(cmd) => dsar(config, cmd).await,
        PrivacyCommand::Breach(cmd) => breach(config, cmd).await,
        PrivacyCommand::Report(args) => {
            let ctx = connect(config).await?;
            let to = match &args.to {
                Some(t) => parse_until(&ctx, t, "--to")?,
                None => ctx.now() + TimeDelta::seconds(1),
            };
            let from = match &args.from {
                Some(f) => parse_past(&ctx, f, "--from")?,
                None => parse_past(&ctx, &args.since, "--since")?,
            };
            let r = report::build(&ctx, from, to).await?;
            if args.json.json {
                return output::json(&r);
            }
            print!("{}", report::markdown(&r));
            Ok(())
        }
        PrivacyCommand::RotateKey(args) => {
            let current = master_key()?;
            let new = MasterKey::from_env(NEW_MASTER_KEY_VAR)?;
            let ctx = connect(config).await?;
            let actor = args.actor.resolve(&ctx)?;
            let r = service::rotate_master(&ctx, &current, &new, &actor).await?;
            if args.json.json {
                return output::json(&r);
            }
            println!(
                "master key version {} -> {}: {} data key(s) and {} contact method key(s) re-wrapped, data untouched. Now set {MASTER_KEY_VAR} to the new key and destroy the old one.",
                r.from_version, r.to_version, r.rewrapped, r.contacts_rewrapped
            );
            Ok(())
        }
    }
}

fn classify(config: &Config, args: ClassifyArgs) -> Result<()> {
    let settings = vivid_core::privacy::config::settings(config)?;
    let c = Classifier::new(settings);
    if args.categories {
        let cats: Vec<serde_json::Value> = settings
            .categories
            .iter()
            .map(|(name, cat)| {
                serde_json::json!({ "category": name, "pii": cat.pii, "readers": cat.readers, "retention": cat.retention.to_string(), "description": cat.description })
            })
            .collect();
        if args.json.json {
            return output::json(&cats);
        }
        let rows: Vec<Vec<String>> = settings
            .categories
            .iter()
            .map(|(name, cat)| {
                vec![
                    name.clone(),
                    if cat.pii { "PII" } else { "non-PII" }.into(),
                    cat.retention.to_string(),
                    cat.readers.join(", "),
                ]
            })
            .collect();
        output::table(&["CATEGORY", "CLASS", "RETENTION", "READERS"], &rows);
        return Ok(());
    }
    if args.fields.is_empty() {
        return Err(invalid(
            "name the fields to classify (or --categories)".into(),
        ));
    }
    let detected: Vec<&str> = args
        .value
        .as_deref()
        .map(|v| c.detect(v).into_iter().map(|d| d.as_str()).collect())
        .unwrap_or_default();
    let results: Vec<serde_json::Value> = args
        .fields
        .iter()
        .map(|f| match c.classify(f) {
            Some(x) => serde_json::json!({ "field": f, "class": if x.pii { "pii" } else { "non_pii" }, "category": x.category, "rule": x.rule, "value_looks_like": detected }),
            None => serde_json::json!({ "field": f, "class": "unclassified", "category": null, "rule": null, "value_looks_like": detected }),
        })
        .collect();
    if args.json.json {
        output::json(&results)?;
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                vec![
                    r["field"].as_str().unwrap_or_default().to_string(),
                    r["class"].as_str().unwrap_or_default().to_string(),
                    r["category"].as_str().unwrap_or("-").to_string(),
                    r["rule"].as_str().unwrap_or("-").to_string(),
                ]
            })
            .collect();
        output::table(&["FIELD", "CLASS", "CATEGORY", "RULE"], &rows);
        if !detected.is_empty() {
            println!("the value looks like: {}", detected.join(", "));
        }
    }
    if results.iter().any(|r| r["class"] == "unclassified") {
        return Err(invalid(
            "unclassified fields would be refused: add them to a [[privacy.rules]] entry".into(),
        ));
    }
    Ok(())
}

async fn audit_cmd(config: Config, cmd: AuditCommand) -> Result<()> {
    let ctx = connect(config).await?;
    match cmd {
        AuditCommand::Run(args) => {
            let actor = args.actor.resolve(&ctx)?;
            let r = audit::run(&ctx, &actor).await?;
            if args.json.json {
                return output::json(&r);
            }
            print!("{}", r.audit.documentation);
            Ok(())
        }
        AuditCommand::List(flag) => {
            let list = audit::audits(&ctx, 50).await?;
            if flag.json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|a| {
                    vec![
                        format!("#{}", a.id),
                        ctx.calendar.format_local(a.ran_at),
                        a.trigger.clone(),
                        a.run_by.clone(),
                        a.outcome.clone(),
                    ]
                })
                .collect();
            output::table(&["#", "RAN", "TRIGGER", "BY", "OUTCOME"], &rows);
            Ok(())
        }
        AuditCommand::Show(args) => {
            let d = audit::detail(&ctx, args.id).await?;
            if args.json.json {
                return output::json(&d);
            }
            print!("{}", d.audit.documentation);
            Ok(())
        }
    }
}

async fn findings_cmd(config: Config, args: FindingsArgs) -> Result<()> {
    let ctx = connect(config).await?;
    if let Some(FindingsAction::Resolve { id, note, actor }) = args.action {
        let actor = actor.resolve(&ctx)?;
        let f = service::resolve_finding(&ctx, id, &note, &actor).await?;
        if args.json.json {
            return output::json(&f);
        }
        println!("finding #{} resolved: {}", f.id, note);
        return Ok(());
    }
    let list = read::findings(&ctx, !args.all).await?;
    if args.json.json {
        return output::json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|f| {
            vec![
                format!("#{}", f.id),
                f.severity.clone(),
                f.kind.clone(),
                f.status.clone(),
                f.incident_id
                    .map(|i| format!("#{i}"))
                    .unwrap_or_else(|| "-".into()),
                f.detail.clone(),
            ]
        })
        .collect();
    output::table(
        &["#", "SEVERITY", "KIND", "STATUS", "INCIDENT", "DETAIL"],
        &rows,
    );
    Ok(())
}

async fn dsar(config: Config, cmd: DsarCommand) -> Result<()> {
    match cmd {
        DsarCommand::Open {
            subject,
            email,
            kind,
            note,
            received,
            actor,
            json,
        } => {
            let kind = RequestKind::parse(&kind).ok_or_else(|| {
                invalid(format!(
                    "unknown request kind {kind:?}: {}",
                    RequestKind::names()
                ))
            })?;
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let received_at = match &received {
                Some(r) => Some(parse_past(&ctx, r, "--received")?),
                None => None,
            };
            let new = NewRequest {
                subject: subject.as_deref().unwrap_or_default(),
                kind,
                note: &note,
                received_at,
            };
            let r = match &email {
                Some(email) => {
                    let key = master_key()?;
                    service::check_key(&ctx, &key).await?;
                    service::open_request_by_email(&ctx, &key, email, &new, &actor).await?
                }
                None => service::open_request(&ctx, &new, &actor).await?,
            };
            print_request(&ctx, &r, json.json)
        }
        DsarCommand::Verify {
            id,
            method,
            started,
            actor,
            json,
        } => {
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let step = if started {
                service::Verification::Started
            } else {
                service::Verification::Verified
            };
            let r = service::verify_request(&ctx, id, step, &method, &actor).await?;
            print_request(&ctx, &r, json.json)
        }
        DsarCommand::Export {
            id,
            out,
            format,
            actor,
            json,
        } => {
            let csv = match format.as_str() {
                "json" => false,
                "csv" => true,
                other => return Err(invalid(format!("unknown format {other:?}: json or csv"))),
            };
            let (ctx, key) = connect_with_key(config).await?;
            let actor = actor.resolve(&ctx)?;
            let export = service::export_request(&ctx, &key, id, &actor).await?;
            let body = if csv {
                export.to_csv()
            } else {
                serde_json::to_string_pretty(&export)? + "\n"
            };
            write_private(&out, body.as_bytes())?;
            if json.json {
                return output::json(&serde_json::json!({
                    "request": id, "out": out, "format": format,
                    "personal_data_fields": export.personal_data.len(),
                    "other_records": export.other_data.len(),
                }));
            }
            println!(
                "request #{id}: export of {} ({} personal-data field(s), {} other record(s)) written to {}",
                export.subject,
                export.personal_data.len(),
                export.other_data.len(),
                out.display()
            );
            Ok(())
        }
        DsarCommand::Approve {
            id,
            comment,
            actor,
            json,
        } => {
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let (r, outcome, erased) =
                service::decide_erasure(&ctx, id, &actor, Decision::Approve, &comment).await?;
            if json.json {
                return output::json(
                    &serde_json::json!({ "request": r, "outcome": outcome, "erased": erased }),
                );
            }
            match erased {
                Some(done) => println!(
                    "erased {}: data key destroyed, {} sealed field(s) now unreadable, {} record(s) unlinked",
                    done.subject, done.sealed_fields, done.unlinked_records
                ),
                None => print_request(&ctx, &r, false)?,
            }
            Ok(())
        }
        DsarCommand::Reject {
            id,
            comment,
            actor,
            json,
        } => {
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let (r, outcome, _) =
                service::decide_erasure(&ctx, id, &actor, Decision::Reject, &comment).await?;
            if json.json {
                return output::json(&serde_json::json!({ "request": r, "outcome": outcome }));
            }
            print_request(&ctx, &r, false)
        }
        DsarCommand::List { all, json } => {
            let ctx = connect(config).await?;
            let list = read::requests(&ctx, !all).await?;
            if json.json {
                let views: Vec<read::RequestView> = list
                    .iter()
                    .map(|r| read::RequestView::new(&ctx, r.clone()))
                    .collect();
                return output::json(&views);
            }
            let now = ctx.now();
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        format!("#{}", r.id),
                        r.kind.clone(),
                        r.subject_ref.clone(),
                        r.status.clone(),
                        ctx.calendar.local_date(r.due_at).to_string(),
                        if r.is_open() {
                            left(now, r.due_at)
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            output::table(&["#", "KIND", "SUBJECT", "STATUS", "DUE", "CLOCK"], &rows);
            Ok(())
        }
        DsarCommand::Show(args) => {
            let ctx = connect(config).await?;
            let r = read::request(&ctx, args.id).await?;
            print_request(&ctx, &r, args.json.json)
        }
        DsarCommand::Extend {
            id,
            months,
            reason,
            actor,
            json,
        } => {
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let r = service::extend_request(&ctx, id, months, &reason, &actor).await?;
            print_request(&ctx, &r, json.json)
        }
        DsarCommand::Refuse {
            id,
            reason,
            actor,
            json,
        } => {
            let ctx = connect(config).await?;
            let actor = actor.resolve(&ctx)?;
            let r = service::refuse_request(&ctx, id, &reason, &actor).await?;
            print_request(&ctx, &r, json.json)
        }
        DsarCommand::Complete {
            id,
            fields,
            file,
            actor,
            json,
        } => {
            let ctx = connect(config.clone()).await?;
            let actor = actor.resolve(&ctx)?;
            let request = read::request(&ctx, id).await?;
            match request.kind()? {
                RequestKind::Erasure => {
                    // Four eyes: a second person approves, then the key is destroyed.
                    let (r, approval) = service::complete_erasure(&ctx, id, &actor).await?;
                    if json.json {
                        return output::json(
                            &serde_json::json!({ "request": r, "approval": approval }),
                        );
                    }
                    println!(
                        "request #{id}: erasure of {} awaits approval #{} by {} (not {actor}); \
                         `vivid privacy dsar approve {id}` destroys the data key",
                        r.subject_ref,
                        approval.id,
                        approval.eligible_roles.join(" or ")
                    );
                    Ok(())
                }
                RequestKind::Access | RequestKind::Portability => {
                    let key = master_key()?;
                    service::check_key(&ctx, &key).await?;
                    let export = if request.kind()? == RequestKind::Access {
                        service::complete_access(&ctx, &key, id, &actor).await?
                    } else {
                        service::complete_portability(&ctx, &key, id, &actor).await?
                    };
                    // The export is the answer to the person: JSON either way.
                    let _ = json;
                    output::json(&export)
                }
                RequestKind::Restriction => {
                    let r = service::complete_restriction(&ctx, id, &actor).await?;
                    print_request(&ctx, &r, json.json)
                }
                RequestKind::Objection => {
                    let r = service::complete_objection(&ctx, id, &actor).await?;
                    print_request(&ctx, &r, json.json)
                }
                RequestKind::Rectification => {
                    let fields = read_fields(&fields, file.as_ref())?;
                    let key = master_key()?;
                    service::check_key(&ctx, &key).await?;
                    let r =
                        service::complete_rectification(&ctx, &key, id, &fields, &actor).await?;
                    print_request(&ctx, &r, json.json)
                }
            }
        }
    }
}

async fn breach(config: Config, cmd: BreachCommand) -> Result<()> {
    let ctx = connect(config).await?;
    match cmd {
        BreachCommand::Open {
            title,
            finding,
            incident,
            severity,
            aware,
            info,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let severity = severity
                .parse::<Severity>()
                .map_err(vivid_core::Error::invalid)?;
            let aware_at = match &aware {
                Some(a) => Some(parse_past(&ctx, a, "--aware")?),
                None => None,
            };
            let b = service::open_breach(
                &ctx,
                &NewBreach {
                    title,
                    finding,
                    incident,
                    severity,
                    aware_at,
                    info: info.update(),
                },
                &actor,
            )
            .await?;
            print_breach(&ctx, &b, json.json)
        }
        BreachCommand::List { all, json } => {
            let list = read::breaches(&ctx, !all).await?;
            if json.json {
                return output::json(&list);
            }
            for b in &list {
                print_breach(&ctx, b, false)?;
            }
            Ok(())
        }
        BreachCommand::Show(args) => {
            let d = read::breach_detail(&ctx, args.id).await?;
            if args.json.json {
                return output::json(&d);
            }
            print_breach(&ctx, &d.breach, false)?;
            let b = &d.breach;
            let show = |label: &str, v: Option<String>| {
                println!(
                    "  {label:<14} {}",
                    v.unwrap_or_else(|| "(not yet recorded)".into())
                );
            };
            show("nature", b.nature.clone());
            show("categories", b.categories.clone());
            show("people", b.people_approx.map(|n| format!("about {n}")));
            show("records", b.records_approx.map(|n| format!("about {n}")));
            show("contact point", b.contact_point.clone());
            show("consequences", b.consequences.clone());
            show("measures", b.measures.clone());
            println!(
                "  incident       #{} ({})",
                b.incident_id, d.incident_status
            );
            for p in &d.phases {
                println!(
                    "  phase {} at {} by @{}: {}",
                    p.phase,
                    ctx.calendar.format_local(p.recorded_at),
                    p.recorded_by,
                    p.info
                );
            }
            for t in &d.tasks {
                println!(
                    "  task #{} [{}] @{} due {}: {}",
                    t.id,
                    t.status,
                    t.owner,
                    ctx.calendar.format_local(t.due_at),
                    t.description
                );
            }
            Ok(())
        }
        BreachCommand::Update {
            id,
            info,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let b = service::update_breach(&ctx, id, &info.update(), &actor).await?;
            print_breach(&ctx, &b, json.json)
        }
        BreachCommand::Notify {
            id,
            late_reason,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let b = service::notify_authority(&ctx, id, late_reason.as_deref(), &actor).await?;
            print_breach(&ctx, &b, json.json)
        }
        BreachCommand::Exempt {
            id,
            reason,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let b = service::exempt_breach(&ctx, id, &reason, &actor).await?;
            print_breach(&ctx, &b, json.json)
        }
        BreachCommand::Task {
            id,
            description,
            owner,
            due,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let due = match &due {
                Some(d) => Some(parse_future(&ctx, d)?),
                None => None,
            };
            let t = service::add_task(&ctx, id, &description, &owner, due, &actor).await?;
            if json.json {
                return output::json(&t);
            }
            println!(
                "task #{} for @{} due {}: {}",
                t.id,
                t.owner,
                ctx.calendar.format_local(t.due_at),
                t.description
            );
            Ok(())
        }
        BreachCommand::Done { task, actor, json } => {
            let actor = actor.resolve(&ctx)?;
            let t = service::complete_task(&ctx, task, &actor).await?;
            if json.json {
                return output::json(&t);
            }
            println!("task #{} done", t.id);
            Ok(())
        }
        BreachCommand::Close(args) => {
            let actor = args.actor.resolve(&ctx)?;
            let (b, req) = service::request_close(&ctx, args.id, &actor).await?;
            if args.json.json {
                return output::json(&serde_json::json!({ "breach": b, "approval": req }));
            }
            println!(
                "breach #{} close-out requested: approval #{} by {} (decide by {})",
                b.id,
                req.id,
                req.eligible_roles.join(" or "),
                ctx.calendar.format_local(req.deadline)
            );
            Ok(())
        }
        BreachCommand::Approve {
            id,
            comment,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let (b, outcome) =
                service::decide_closeout(&ctx, id, &actor, Decision::Approve, &comment).await?;
            if json.json {
                return output::json(&serde_json::json!({ "breach": b, "outcome": outcome }));
            }
            print_breach(&ctx, &b, false)
        }
        BreachCommand::Reject {
            id,
            comment,
            actor,
            json,
        } => {
            let actor = actor.resolve(&ctx)?;
            let (b, outcome) =
                service::decide_closeout(&ctx, id, &actor, Decision::Reject, &comment).await?;
            if json.json {
                return output::json(&serde_json::json!({ "breach": b, "outcome": outcome }));
            }
            print_breach(&ctx, &b, false)
        }
    }
}
