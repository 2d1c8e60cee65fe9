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
}

impl Detector {
    pub const ALL: [Detector; 4] = [
        Detector::Email,
        Detector::Phone,
        Detector::PaymentCard,
        Detector::IpAddress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::Phone => "phone",
            Detector::PaymentCard => "payment_card",
            Detector::IpAddress => "ip_address",
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
        }
    }

    /// Does `text` contain a value of this shape?
    pub fn finds(self, text: &str) -> bool {
        match self {
            Detector::Email => tokens(text).any(is_email),
            Detector::IpAddress => tokens(text).any(is_ip),
            Detector::PaymentCard => digit_runs(text).any(|run| is_card(&run)),
            Detector::Phone => is_phone(text.trim()) || tokens(text).any(is_phone),
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

/// International ("+351 912 345 678") or North American ("(555) 123-4567",
/// "555-123-4567") numbers. Plain digit strings are not phones (order
/// numbers), nor are dates.
fn is_phone(t: &str) -> bool {
    let allowed = |c: char| c.is_ascii_digit() || " -().+".contains(c);
    if t.is_empty() || !t.chars().all(allowed) {
        return false;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = t.strip_prefix('+') {
        return !rest.contains('+') && (8..=15).contains(&digits.len());
    }
    let groups: Vec<usize> = t
        .split(|c: char| " -.()".contains(c))
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect();
    digits.len() == 10 && groups == [3, 3, 4]
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
}
