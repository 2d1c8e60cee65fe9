//! The record of processing activities (GDPR Art. 30), from the
//! `[privacy.categories]` config: per category, why the data is processed,
//! on what legal basis, who receives it, how long it is kept, transfers and
//! where it comes from. Pure; validated with the config.

use serde::Serialize;

use super::config::PrivacyConfig;

/// One category's entry in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub category: String,
    pub pii: bool,
    pub description: String,
    pub purposes: Vec<String>,
    pub legal_basis: String,
    pub recipients: Vec<String>,
    pub retention: String,
    pub transfers: String,
    pub source: String,
}

/// The whole record, in category order.
#[derive(Debug, Clone, Serialize)]
pub struct Ropa {
    pub controller: String,
    pub contact_point: String,
    pub records: Vec<Record>,
}

pub fn records(config: &PrivacyConfig) -> Vec<Record> {
    config
        .categories
        .iter()
        .map(|(name, c)| Record {
            category: name.clone(),
            pii: c.pii,
            description: c.description.clone(),
            purposes: c.purposes.clone(),
            legal_basis: c.legal_basis.clone(),
            recipients: c.recipients.clone(),
            retention: c.retention.to_string(),
            transfers: c.transfers.clone(),
            source: c.source.clone(),
        })
        .collect()
}

/// What an entry lacks for Art. 30(1): (key, reason).
pub fn gaps(config: &PrivacyConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, c) in &config.categories {
        let key = |k: &str| format!("privacy.categories.{name}.{k}");
        if c.purposes.is_empty() {
            out.push((
                key("purposes"),
                "the record of processing needs the purposes (Art. 30(1)(b))".into(),
            ));
        }
        if c.legal_basis.trim().is_empty() {
            out.push((
                key("legal_basis"),
                "the record of processing needs the legal basis (Art. 6(1))".into(),
            ));
        }
        if c.recipients.is_empty() {
            out.push((
                key("recipients"),
                "the record of processing needs the recipients, or [\"none\"] (Art. 30(1)(d))"
                    .into(),
            ));
        }
        if c.transfers.trim().is_empty() {
            out.push((
                key("transfers"),
                "say where data is transferred outside the EEA, or \"none\" (Art. 30(1)(e))".into(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED_DEFAULT};

    #[test]
    fn the_shipped_record_is_complete_and_a_gap_is_named() {
        let config =
            Config::from_toml_str("default", EMBEDDED_DEFAULT).unwrap_or_else(|e| panic!("{e}"));
        let p = match super::super::config::settings(&config) {
            Ok(p) => p.clone(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(gaps(&p), Vec::<(String, String)>::new());
        let r = records(&p);
        assert_eq!(r.len(), p.categories.len());
        let payment = r.iter().find(|r| r.category == "payment");
        assert!(payment.is_some_and(|r| r.retention == "7y" && r.legal_basis == "contract"));
        let mut broken = p.clone();
        if let Some(c) = broken.categories.get_mut("contact") {
            c.purposes.clear();
            c.legal_basis.clear();
        }
        let g = gaps(&broken);
        assert_eq!(g.len(), 2, "{g:?}");
        assert!(g[0].0 == "privacy.categories.contact.purposes");
    }
}
