//! Classification, pure: every collected field is PII or not by the rules
//! in config. An unclassified field is refused, never guessed. Value
//! detectors guard the other way: a value that looks like an e-mail
//! address, a phone number, a payment card or an IP address is refused in a
//! field classified non-PII, so mislabelled PII never lands in the clear.

use std::collections::BTreeSet;

use serde::Serialize;

use super::config::PrivacyConfig;
use super::deadline::Retention;
use crate::org::RoleRef;

/// What a field is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub field: String,
    pub category: String,
    pub pii: bool,
    /// The rule pattern that matched.
    pub rule: String,
}

/// Why a record was refused: every problem at once, so it can be fixed in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub Vec<String>);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// A category as the classifier and the access checks see it.
#[derive(Debug, Clone)]
pub struct Category {
    pub name: String,
    pub pii: bool,
    pub readers: Vec<RoleRef>,
    pub retention: Retention,
}

/// The rules from config, ready to apply.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<(String, String)>,
    categories: Vec<Category>,
    detectors: Vec<Detector>,
}

/// Value shapes that are personal data whatever the field is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    Email,
    Phone,
    PaymentCard,
    IpAddress,
    Iban,
}

impl Detector {
    pub const ALL: [Detector; 5] = [
        Detector::Email,
        Detector::Phone,
        Detector::PaymentCard,
        Detector::IpAddress,
        Detector::Iban,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::Phone => "phone",
            Detector::PaymentCard => "payment_card",
            Detector::IpAddress => "ip_address",
            Detector::Iban => "iban",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    fn label(self) -> &'static str {
        match self {
            Detector::Email => "an e-mail address",
            Detector::Phone => "a phone number",
            Detector::PaymentCard => "a payment card number",
            Detector::IpAddress => "an IP address",
            Detector::Iban => "a bank account number (IBAN)",
        }
    }

    /// Does `text` contain a value of this shape?
    pub fn finds(self, text: &str) -> bool {
        match self {
            Detector::Email => tokens(text).any(is_email),
            Detector::IpAddress => tokens(text).any(is_ip),
            Detector::PaymentCard => digit_runs(text).any(|run| is_card(&run)),
            Detector::Phone => phone_candidates(text).any(|c| is_phone(&c)),
            Detector::Iban => has_iban(text),
        }
    }
}

fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || ",;<>\"'()[]{}".contains(c))
        .map(|t| t.trim_end_matches(['.', ':', '!', '?']))
        .filter(|t| !t.is_empty())
}

fn is_email(t: &str) -> bool {
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn is_ip(t: &str) -> bool {
    // Four dotted octets or an IPv6 address with at least two colons.
    (t.split('.').count() == 4 || t.matches(':').count() >= 2)
        && t.parse::<std::net::IpAddr>().is_ok()
}

/// Runs of digits joined by single spaces or dashes ("4111 1111-1111 1111").
fn digit_runs(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut runs = Vec::new();
    let mut cur = String::new();
    let mut last_sep = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
            last_sep = false;
        } else if (c == ' ' || c == '-') && !cur.is_empty() && !last_sep {
            last_sep = true;
        } else {
            if !cur.is_empty() {
                runs.push(std::mem::take(&mut cur));
            }
            last_sep = false;
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs.into_iter()
}

/// 13 to 19 digits passing the Luhn check.
fn is_card(digits: &str) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

fn phone_char(c: char) -> bool {
    c.is_ascii_digit() || " -().+/".contains(c)
}

/// Every stretch of a text that could be a phone number: the runs of
/// digits, spaces and phone punctuation, and every window of whole groups
/// inside them ("between 10 and (212) 555-0147" holds "(212) 555-0147").
fn phone_candidates(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    for run in text.split(|c: char| !phone_char(c)) {
        let groups: Vec<&str> = run.split_whitespace().collect();
        // A phone number has at most a handful of groups.
        for start in 0..groups.len() {
            for end in start + 1..=groups.len().min(start + 6) {
                let cand = groups[start..end].join(" ");
                let cand = cand.trim_matches(|c: char| " -./".contains(c));
                if cand.chars().any(|c| c.is_ascii_digit()) {
                    out.push(cand.to_string());
                }
            }
        }
    }
    out.into_iter()
}

/// A phone number in E.164 or a common national format: international
/// ("+44 7700 900999", "+351 912 345 678", "+12125550147"), North American
/// ("(212) 555-0147", "212-555-0147", "212.555.0147") or a national number
/// with its trunk prefix ("07700 900999", "020 7946 0958"). Plain digit
/// strings are not phones (order numbers), nor are dates or amounts.
fn is_phone(t: &str) -> bool {
    if t.is_empty() || !t.chars().all(phone_char) {
        return false;
    }
    // Balanced parentheses only, and only around the area code.
    if t.matches('(').count() != t.matches(')').count() || t.matches('(').count() > 1 {
        return false;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let groups: Vec<&str> = t
        .split(|c: char| " -.()/".contains(c))
        .filter(|g| !g.is_empty())
        .collect();
    if let Some(rest) = t.strip_prefix('+') {
        // E.164: a country code and at most 15 digits in all.
        return !rest.contains('+')
            && (8..=15).contains(&digits.len())
            && rest.starts_with(|c: char| c.is_ascii_digit() && c != '0');
    }
    if t.contains('+') {
        return false;
    }
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    // North American: 3-3-4 (optionally with a leading 1).
    if lens == [3, 3, 4] || (lens == [1, 3, 3, 4] && groups[0] == "1") {
        return true;
    }
    // National with a trunk 0: 10 or 11 digits in two to four groups
    // ("07700 900999", "020 7946 0958", "0912 345 678").
    digits.starts_with('0')
        && !digits.starts_with("00")
        && (10..=11).contains(&digits.len())
        && (2..=4).contains(&groups.len())
        && groups
            .first()
            .is_some_and(|g| g.starts_with('0') && (2..=5).contains(&g.len()))
        && !t.contains('.')
}

/// An IBAN anywhere in the text: two letters, two check digits and 11 to
/// 30 letters or digits, written together or in groups of four, whose
/// ISO 7064 mod-97 check is 1.
fn has_iban(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for start in 0..words.len() {
        let first = words[start].as_bytes();
        if first.len() < 4
            || !first[0].is_ascii_alphabetic()
            || !first[1].is_ascii_alphabetic()
            || !first[2].is_ascii_digit()
            || !first[3].is_ascii_digit()
        {
            continue;
        }
        let mut joined = String::new();
        for w in &words[start..] {
            joined.push_str(w);
            if joined.len() > 34 {
                break;
            }
            if joined.len() >= 15 && iban_checks(&joined) {
                return true;
            }
        }
    }
    false
}

fn iban_checks(iban: &str) -> bool {
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// `*` matches any run of characters; everything else literally.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return false,
    };
    let Some(mut remaining) = name.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return true;
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// A field name: lower-case letters, digits and underscores, at most 64.
pub fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The configured purpose a purpose text names: `NAME` or `NAME: detail`,
/// the name compared without case with spaces and dashes as underscores
/// ("Legal obligation" is `legal_obligation`). None when it names none.
pub fn purpose_of(purposes: &[String], text: &str) -> Option<String> {
    let head = text.split(':').next().unwrap_or_default();
    let name: String = head
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    purposes.iter().find(|p| **p == name).cloned()
}

/// A purpose name in config: lower-case letters, digits and underscores.
pub fn valid_purpose_name(name: &str) -> bool {
    valid_field_name(name)
}

impl Classifier {
    /// From a validated config (invalid roles and detectors were refused at load).
    pub fn new(config: &PrivacyConfig) -> Self {
        let rules = config
            .rules
            .iter()
            .flat_map(|r| {
                r.fields
                    .iter()
                    .map(move |f| (f.to_ascii_lowercase(), r.category.clone()))
            })
            .collect();
        let categories = config
            .categories
            .iter()
            .map(|(name, c)| Category {
                name: name.clone(),
                pii: c.pii,
                readers: c.readers.iter().filter_map(|r| r.parse().ok()).collect(),
                retention: c.retention,
            })
            .collect();
        let detectors = config
            .detect
            .iter()
            .filter_map(|d| Detector::parse(d))
            .collect();
        Self {
            rules,
            categories,
            detectors,
        }
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The first rule that matches the field name, if any.
    pub fn classify(&self, field: &str) -> Option<Classified> {
        let (rule, category) = self.rules.iter().find(|(p, _)| glob_match(p, field))?;
        let cat = self.category(category)?;
        Some(Classified {
            field: field.to_string(),
            category: cat.name.clone(),
            pii: cat.pii,
            rule: rule.clone(),
        })
    }

    /// The detectors that fire on a value.
    pub fn detect(&self, value: &str) -> Vec<Detector> {
        self.detectors
            .iter()
            .copied()
            .filter(|d| d.finds(value))
            .collect()
    }

    /// Classify a whole record; refuse it if any field is unknown, badly
    /// named, repeated, or a non-PII field holds a PII-looking value.
    pub fn classify_record(&self, fields: &[(String, String)]) -> Result<Vec<Classified>, Refusal> {
        let mut problems = Vec::new();
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        if fields.is_empty() {
            problems.push("the record has no fields".to_string());
        }
        for (name, value) in fields {
            if !valid_field_name(name) {
                problems.push(format!(
                    "field name {name:?} is not allowed (lower-case letters, digits and _; at most 64)"
                ));
                continue;
            }
            if !seen.insert(name.as_str()) {
                problems.push(format!("field `{name}` appears twice"));
                continue;
            }
            let Some(c) = self.classify(name) else {
                problems.push(format!(
                    "field `{name}` is not classified: add it to a [[privacy.rules]] entry (fields are never guessed)"
                ));
                continue;
            };
            if !c.pii {
                for d in self.detect(value) {
                    problems.push(format!(
                        "field `{name}` is classified non-PII ({}) but its value looks like {}: refusing to store it in the clear",
                        c.category,
                        d.label()
                    ));
                }
            }
            out.push(c);
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Refusal(problems))
        }
    }

    /// Free text that must not carry personal data (purposes, breach
    /// records): the detectors it trips.
    pub fn scan_text(&self, text: &str) -> Vec<&'static str> {
        Detector::ALL
            .into_iter()
            .filter(|d| d.finds(text))
            .map(Detector::label)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};

    fn classifier() -> Classifier {
        let config =
            Config::from_toml_str("default", EMBEDDED_DEFAULT).unwrap_or_else(|e| panic!("{e}"));
        match super::super::config::settings(&config) {
            Ok(c) => Classifier::new(c),
            Err(e) => panic!("{e}"),
        }
    }

    fn rec(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("email", "email"));
        assert!(!glob_match("email", "emails"));
        assert!(glob_match("*_email", "billing_email"));
        assert!(!glob_match("*_email", "email"));
        assert!(glob_match("card_*", "card_number"));
        assert!(glob_match("*address*", "shipping_address_line1"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn the_shipped_rules_classify_the_usual_fields() {
        let c = classifier();
        for (field, category, pii) in [
            ("email", "contact", true),
            ("billing_email", "contact", true),
            ("phone", "contact", true),
            ("full_name", "contact", true),
            ("postal_address", "address", true),
            ("shipping_address", "address", true),
            ("card_number", "payment", true),
            ("iban", "payment", true),
            ("ip_address", "network", true),
            ("order_total_cents", "transactions", false),
            ("newsletter_opt_in", "marketing", false),
            ("country", "profile", false),
        ] {
            let got = c.classify(field);
            assert_eq!(
                got.as_ref().map(|g| (g.category.as_str(), g.pii)),
                Some((category, pii)),
                "{field}"
            );
        }
        assert_eq!(c.classify("shoe_size"), None);
    }

    #[test]
    fn unclassified_and_mislabelled_fields_are_refused_all_at_once() {
        let c = classifier();
        let ok = c.classify_record(&rec(&[("email", "ana@example.com"), ("country", "PT")]));
        assert!(ok.is_ok_and(|v| v.len() == 2));
        let bad = c.classify_record(&rec(&[
            ("email", "ana@example.com"),
            ("shoe_size", "38"),
            ("country", "reach me at ana@example.com"),
            ("Email", "x"),
        ]));
        let msg = bad.err().map(|r| r.to_string()).unwrap_or_default();
        assert!(msg.contains("`shoe_size` is not classified"), "{msg}");
        assert!(msg.contains("`country` is classified non-PII"), "{msg}");
        assert!(msg.contains("e-mail address"), "{msg}");
        assert!(msg.contains("\"Email\" is not allowed"), "{msg}");
        let twice = c.classify_record(&rec(&[("email", "a@b.co"), ("email", "c@d.co")]));
        assert!(twice.is_err_and(|r| r.to_string().contains("appears twice")));
        assert!(c.classify_record(&[]).is_err());
    }

    #[test]
    fn detectors_find_pii_shapes_and_leave_ordinary_values_alone() {
        let finds = |d: Detector, s: &str| d.finds(s);
        assert!(finds(
            Detector::Email,
            "write to ana.lima+shop@mail.example.pt."
        ));
        assert!(!finds(Detector::Email, "ana at example dot com"));
        assert!(!finds(Detector::Email, "@handle"));
        assert!(finds(
            Detector::PaymentCard,
            "card 4111 1111 1111 1111 expires"
        ));
        assert!(finds(Detector::PaymentCard, "4111-1111-1111-1111"));
        assert!(!finds(Detector::PaymentCard, "4111 1111 1111 1112"), "Luhn");
        assert!(!finds(Detector::PaymentCard, "order 10000234"));
        assert!(finds(Detector::Phone, "+351 912 345 678"));
        assert!(finds(Detector::Phone, "(555) 123-4567"));
        assert!(finds(Detector::Phone, "call 555-123-4567"));
        assert!(!finds(Detector::Phone, "2026-11-30"));
        assert!(!finds(Detector::Phone, "10000234"));
        assert!(!finds(Detector::Phone, "12900"));
        assert!(finds(Detector::IpAddress, "from 203.0.113.7"));
        assert!(finds(Detector::IpAddress, "2001:db8::1"));
        assert!(!finds(Detector::IpAddress, "version 1.2"));
        assert!(!finds(Detector::IpAddress, "12:30"));
    }

    #[test]
    fn phones_in_e164_and_national_formats_are_found_in_free_text() {
        let phone = |s: &str| Detector::Phone.finds(s);
        for s in [
            "call +44 7700 900999",
            "+44 7700 900999",
            "+447700900999",
            "+1 212 555 0147",
            "(212) 555-0147",
            "ring me on (212) 555-0147 after six",
            "07700 900999",
            "mobile 07700 900999.",
            "020 7946 0958",
            "212.555.0147",
            "1 212 555 0147",
            "between 10 and (212) 555-0147",
        ] {
            assert!(phone(s), "{s}");
        }
        for s in [
            "2026-11-30",
            "order 10000234",
            "12900",
            "qty 3, 12 items, 4 boxes",
            "07700900999",
            "SKU 0001 2345",
            "EUR 1.250,00",
            "+0 123",
            "version 10.2.3",
        ] {
            assert!(!phone(s), "{s}");
        }
    }

    #[test]
    fn purposes_come_from_the_configured_list() {
        let list: Vec<String> = ["support", "legal_obligation", "dsar"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(purpose_of(&list, "support"), Some("support".into()));
        assert_eq!(
            purpose_of(&list, "Support: ticket 4411, order status"),
            Some("support".into())
        );
        assert_eq!(
            purpose_of(&list, "legal obligation: tax audit"),
            Some("legal_obligation".into())
        );
        assert_eq!(purpose_of(&list, "DSAR"), Some("dsar".into()));
        assert_eq!(purpose_of(&list, "aaaaaaaa"), None);
        assert_eq!(purpose_of(&list, ""), None);
        assert_eq!(purpose_of(&list, "supporting a friend"), None);
    }

    #[test]
    fn ibans_are_found_written_together_or_in_groups() {
        let iban = |s: &str| Detector::Iban.finds(s);
        assert!(iban("refund to DE89 3704 0044 0532 0130 00 please"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(iban("iban: gb82 west 1234 5698 7654 32"));
        assert!(!iban("GB82WEST12345698765433"), "check digits");
        assert!(!iban("DE89 is a code"));
        assert!(!iban("order AB12 3456"));
        let c = classifier();
        let r = c.classify_record(&rec(&[("marketing_note", "call +44 7700 900999")]));
        assert!(
            r.is_err_and(|e| e.to_string().contains("a phone number")),
            "a phone in a non-PII field is refused"
        );
        let r = c.classify_record(&rec(&[(
            "marketing_note",
            "pay DE89 3704 0044 0532 0130 00",
        )]));
        assert!(r.is_err_and(|e| e.to_string().contains("IBAN")));
        assert!(
            c.classify_record(&rec(&[("marketing_note", "spring sale 2026")]))
                .is_ok()
        );
    }
}
