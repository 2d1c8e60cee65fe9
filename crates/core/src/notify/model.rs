//! Pure pieces of paging: contact methods, urgencies, checking and masking a
//! contact detail, planning a person's pages from a notification rule, and
//! the HMAC signature of a webhook body. No I/O.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::calendar::Calendar;

/// How a person is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A direct message through the Discord delivery target.
    Discord,
    /// E-mail over SMTP.
    Email,
    /// A text message through a Twilio-compatible API.
    Sms,
    /// A push notification through ntfy.
    Push,
    /// A signed JSON POST.
    Webhook,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Discord,
        Method::Email,
        Method::Sms,
        Method::Push,
        Method::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Discord => "discord",
            Method::Email => "email",
            Method::Sms => "sms",
            Method::Push => "push",
            Method::Webhook => "webhook",
        }
    }

    /// Does this method carry a detail (address, number, URL)?
    pub fn has_detail(self) -> bool {
        self != Method::Discord
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown contact method {s:?} (use discord, email, sms, push or webhook)")
            })
    }
}

/// How urgently a page wants a person: high wakes them, low waits for
/// support hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    High,
    Low,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "high" => Some(Urgency::High),
            "low" => Some(Urgency::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Check a contact detail typed by a person and return it normalised; the
/// error says what is wrong without echoing the detail.
pub fn check_detail(method: Method, detail: &str) -> Result<String, String> {
    let d = detail.trim();
    if d.chars().any(char::is_control) {
        return Err(format!(
            "the {method} contact holds control characters; type it plainly"
        ));
    }
    match method {
        Method::Discord => {
            if d.is_empty() {
                Ok(String::new())
            } else {
                Err("a discord contact takes no --to: it is the person's Discord account from the org directory".into())
            }
        }
        Method::Email => {
            let (local, domain) = d
                .split_once('@')
                .ok_or("an e-mail address needs an @ (name@example.com)")?;
            if local.is_empty()
                || domain.is_empty()
                || domain.contains('@')
                || !domain.contains('.')
                || domain.starts_with('.')
                || domain.ends_with('.')
                || d.contains(char::is_whitespace)
                || d.len() > 254
            {
                return Err("that is not an e-mail address (name@example.com)".into());
            }
            Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
        }
        Method::Sms => {
            let digits: String = d
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
                .collect();
            let rest = digits
                .strip_prefix('+')
                .ok_or("a phone number must be in international form, starting with + and the country code (+15551234567)")?;
            if !(8..=15).contains(&rest.len()) || !rest.chars().all(|c| c.is_ascii_digit()) {
                return Err("a phone number is + followed by 8 to 15 digits (+15551234567)".into());
            }
            Ok(format!("+{rest}"))
        }
        Method::Push => {
            if is_http_url(d) {
                let topic = d.rsplit('/').next().unwrap_or_default();
                if !is_topic(topic) {
                    return Err(
                        "a push URL ends with the ntfy topic (https://ntfy.sh/my-topic)".into(),
                    );
                }
                Ok(d.to_string())
            } else if is_topic(d) {
                Ok(d.to_string())
            } else {
                Err("a push contact is an ntfy topic (letters, digits, - and _, at most 64) or its full URL".into())
            }
        }
        Method::Webhook => {
            if is_http_url(d) && d.len() <= 2048 {
                Ok(d.to_string())
            } else {
                Err("a webhook is an http:// or https:// URL".into())
            }
        }
    }
}

fn is_topic(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or_default();
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

/// A masked form of a detail, safe to print and store in clear.
pub fn mask(method: Method, detail: &str) -> String {
    let dot = '\u{2022}';
    match method {
        Method::Discord => "direct message".into(),
        Method::Email => match detail.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}{dot}{dot}{dot}@{domain}")
            }
            None => format!("{dot}{dot}{dot}"),
        },
        Method::Sms => {
            let n = detail.chars().count();
            let tail: String = detail.chars().skip(n.saturating_sub(2)).collect();
            format!("+{}{tail}", dot.to_string().repeat(n.saturating_sub(3)))
        }
        Method::Push | Method::Webhook => {
            let host = detail
                .strip_prefix("https://")
                .or_else(|| detail.strip_prefix("http://"))
                .and_then(|r| r.split('/').next())
                .filter(|h| !h.is_empty());
            match host {
                Some(h) => format!("{h}/{dot}{dot}{dot}"),
                None => format!("topic {dot}{dot}{dot}"),
            }
        }
    }
}

/// One step of a notification rule: these methods, this long after the
/// person is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub after: TimeDelta,
    pub methods: Vec<Method>,
}

/// A notification rule for one urgency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub steps: Vec<Step>,
    /// Pages wait for support hours (and the ladder does not climb outside them).
    pub support_hours_only: bool,
}

/// One page to queue: a method (and the contact that carries it; None for
/// the person's default notification), due at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPage {
    pub method: Option<Method>,
    pub contact_id: Option<i64>,
    pub due: DateTime<Utc>,
    /// 1-based step of the rule (0 for the default notification).
    pub step: usize,
}

/// The pages for one person paged at `now` under `rule`, given their contact
/// methods `(contact id, method)`. A person with no contact the rule can use
/// gets their default notification (Discord or the log) at once, so nobody
/// is paged into a void. `open_at` gives the first moment inside support
/// hours at or after a moment (used only when the rule asks for them).
pub fn plan(
    rule: &Rule,
    contacts: &[(i64, Method)],
    now: DateTime<Utc>,
    open_at: impl Fn(DateTime<Utc>) -> DateTime<Utc>,
) -> Vec<PlannedPage> {
    let mut out = Vec::new();
    for (i, step) in rule.steps.iter().enumerate() {
        let mut due = now.checked_add_signed(step.after).unwrap_or(now);
        if rule.support_hours_only {
            due = open_at(due);
        }
        for m in &step.methods {
            for (id, _) in contacts.iter().filter(|(_, cm)| cm == m) {
                out.push(PlannedPage {
                    method: Some(*m),
                    contact_id: Some(*id),
                    due,
                    step: i + 1,
                });
            }
        }
    }
    if out.is_empty() {
        let due = if rule.support_hours_only {
            open_at(now)
        } else {
            now
        };
        out.push(PlannedPage {
            method: None,
            contact_id: None,
            due,
            step: 0,
        });
    }
    out
}

/// The first moment at or after `at` inside the calendar's hours.
pub fn open_at(calendar: &Calendar, at: DateTime<Utc>) -> DateTime<Utc> {
    if calendar.is_open(at) {
        return at;
    }
    let tick = TimeDelta::microseconds(1);
    calendar.add_business_duration(at, tick) - tick
}

/// The webhook signature header's value: `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts a key of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Does `header` carry the signature of `body` under `secret`? Constant time.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hexsig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hexsig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn high() -> Rule {
        Rule {
            steps: vec![
                Step {
                    after: TimeDelta::zero(),
                    methods: vec![Method::Discord, Method::Push],
                },
                Step {
                    after: TimeDelta::minutes(5),
                    methods: vec![Method::Sms],
                },
                Step {
                    after: TimeDelta::minutes(10),
                    methods: vec![Method::Email],
                },
            ],
            support_hours_only: false,
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn high_urgency_pages_push_now_sms_after_5_email_after_10() {
        let contacts = [(1, Method::Email), (2, Method::Sms), (3, Method::Push)];
        let pages = plan(&high(), &contacts, at(3, 0), |t| t);
        let got: Vec<_> = pages
            .iter()
            .map(|p| (p.method, p.contact_id, p.due, p.step))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(Method::Push), Some(3), at(3, 0), 1),
                (Some(Method::Sms), Some(2), at(3, 5), 2),
                (Some(Method::Email), Some(1), at(3, 10), 3),
            ]
        );
    }

    #[test]
    fn two_contacts_of_one_method_are_both_paged() {
        let contacts = [(1, Method::Email), (2, Method::Email)];
        let pages = plan(&high(), &contacts, at(3, 0), |t| t);
        assert_eq!(pages.len(), 2);
        assert!(pages.iter().all(|p| p.due == at(3, 10)));
    }

    #[test]
    fn nobody_is_paged_into_a_void() {
        // No contact methods at all: the default notification, at once.
        let pages = plan(&high(), &[], at(3, 0), |t| t);
        assert_eq!(
            pages,
            vec![PlannedPage {
                method: None,
                contact_id: None,
                due: at(3, 0),
                step: 0
            }]
        );
        // Contacts the rule does not use: the same.
        let low = Rule {
            steps: vec![Step {
                after: TimeDelta::zero(),
                methods: vec![Method::Discord],
            }],
            support_hours_only: false,
        };
        let pages = plan(&low, &[(9, Method::Sms)], at(3, 0), |t| t);
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].method, None);
    }

    #[test]
    fn low_urgency_waits_for_support_hours() {
        let low = Rule {
            steps: vec![Step {
                after: TimeDelta::zero(),
                methods: vec![Method::Discord],
            }],
            support_hours_only: true,
        };
        let opening = at(9, 0);
        let open = |t: DateTime<Utc>| if t < opening { opening } else { t };
        let pages = plan(&low, &[(4, Method::Discord)], at(3, 0), open);
        assert_eq!(pages[0].due, opening);
        let pages = plan(&low, &[(4, Method::Discord)], at(10, 0), open);
        assert_eq!(pages[0].due, at(10, 0));
    }

    #[test]
    fn open_at_on_the_business_calendar() {
        let hours = crate::config::BusinessHours {
            start: "09:00".into(),
            end: "17:00".into(),
            days: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                .map(String::from)
                .to_vec(),
        };
        let cal = Calendar::new("UTC", &hours);
        // Wednesday 03:00 → 09:00 the same day; 10:00 stays; Friday 18:00 → Monday 09:00.
        assert_eq!(open_at(&cal, at(3, 0)), at(9, 0));
        assert_eq!(open_at(&cal, at(10, 0)), at(10, 0));
        let friday = Utc
            .with_ymd_and_hms(2026, 3, 6, 18, 0, 0)
            .single()
            .expect("valid");
        let monday = Utc
            .with_ymd_and_hms(2026, 3, 9, 9, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(open_at(&cal, friday), monday);
    }

    #[test]
    fn hmac_signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = sign(b"secret", b"{\"a\":1}");
        assert!(verify(b"secret", b"{\"a\":1}", &s));
        assert!(!verify(b"secret", b"{\"a\":2}", &s));
        assert!(!verify(b"other", b"{\"a\":1}", &s));
        assert!(!verify(b"secret", b"{\"a\":1}", "sha256=zz"));
        assert!(!verify(b"secret", b"{\"a\":1}", &s.replace("sha256=", "")));
    }

    #[test]
    fn details_are_checked_and_masked() {
        assert_eq!(
            check_detail(Method::Email, " Maya@Example.COM ").as_deref(),
            Ok("Maya@example.com")
        );
        assert!(check_detail(Method::Email, "maya").is_err());
        assert!(check_detail(Method::Email, "a@b").is_err());
        assert_eq!(
            check_detail(Method::Sms, "+1 (555) 123-4567").as_deref(),
            Ok("+15551234567")
        );
        assert!(check_detail(Method::Sms, "5551234567").is_err());
        assert!(check_detail(Method::Sms, "+1555abc4567").is_err());
        assert!(check_detail(Method::Push, "maya-oncall").is_ok());
        assert!(check_detail(Method::Push, "https://ntfy.example.com/maya").is_ok());
        assert!(check_detail(Method::Push, "two words").is_err());
        assert!(check_detail(Method::Webhook, "ftp://x").is_err());
        assert!(check_detail(Method::Discord, "").is_ok());
        assert!(check_detail(Method::Discord, "123").is_err());
        assert!(check_detail(Method::Email, "a\u{7}@b.c").is_err());
        assert_eq!(mask(Method::Email, "maya@example.com"), "m•••@example.com");
        assert_eq!(mask(Method::Sms, "+15551234567"), "+•••••••••67");
        assert_eq!(
            mask(Method::Webhook, "https://hooks.example.com/secret/path"),
            "hooks.example.com/•••"
        );
        assert_eq!(mask(Method::Push, "maya-oncall"), "topic •••");
        assert!(!mask(Method::Email, "maya@example.com").contains("maya"));
    }
}
