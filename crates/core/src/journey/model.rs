//! Lead scoring, pure: points per touch, exponential decay, stages.

use chrono::{DateTime, Utc};

use super::config::JourneyConfig;

/// Touch kinds the scoring rules know.
pub const KINDS: [&str; 6] = [
    "delivered",
    "opened",
    "clicked",
    "reply",
    "form_submitted",
    "unsubscribed",
];

/// Points for a touch; a click after an earlier click scores as "multiple clicks".
pub fn points(cfg: &JourneyConfig, kind: &str, earlier_clicks: i32) -> Result<i32, String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "touch kind {kind:?} is not in the scoring rules ({})",
            KINDS.join(", ")
        ));
    }
    let key = if kind == "clicked" && earlier_clicks > 0 {
        "multiple_clicks"
    } else {
        kind
    };
    cfg.points
        .get(key)
        .copied()
        .ok_or_else(|| format!("no points configured for {key:?}"))
}

/// A score carried from `then` to `now`: it halves every half-life.
/// Exponential decay is memoryless, so the stored score can be decayed and
/// added to without replaying every touch.
pub fn decay(score: f64, then: DateTime<Utc>, now: DateTime<Utc>, half_life_secs: f64) -> f64 {
    let age = (now - then).num_milliseconds().max(0) as f64 / 1000.0;
    if half_life_secs <= 0.0 {
        return score;
    }
    score * 0.5f64.powf(age / half_life_secs)
}

/// The stage of a score: the highest threshold it reaches.
pub fn stage(cfg: &JourneyConfig, score: f64) -> String {
    let mut best: Option<(&String, i32)> = None;
    for (name, min) in &cfg.stages {
        if score >= f64::from(*min) && best.is_none_or(|(_, m)| *min > m) {
            best = Some((name, *min));
        }
    }
    best.map(|(n, _)| n.clone()).unwrap_or_else(|| "new".into())
}

/// Stages in threshold order.
pub fn stage_order(cfg: &JourneyConfig) -> Vec<String> {
    let mut v: Vec<(&String, &i32)> = cfg.stages.iter().collect();
    v.sort_by_key(|(_, m)| **m);
    v.into_iter().map(|(n, _)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::default_config;

    #[test]
    fn vividwalls_scoring_rules() {
        let config = default_config();
        let Ok(cfg) = super::super::config::settings(&config).cloned() else {
            panic!("no [journey] section")
        };
        assert_eq!(points(&cfg, "delivered", 0), Ok(5));
        assert_eq!(points(&cfg, "clicked", 0), Ok(25));
        assert_eq!(points(&cfg, "clicked", 1), Ok(50));
        assert_eq!(points(&cfg, "unsubscribed", 0), Ok(-100));
        assert!(points(&cfg, "liked", 0).is_err());
        for (score, want) in [
            (0.0, "new"),
            (9.9, "new"),
            (10.0, "aware"),
            (49.0, "engaged"),
            (99.0, "warm"),
            (100.0, "hot"),
            (150.0, "qualified"),
            (-50.0, "new"),
        ] {
            assert_eq!(stage(&cfg, score), want, "{score}");
        }
        assert_eq!(
            stage_order(&cfg),
            ["new", "aware", "engaged", "warm", "hot", "qualified"]
        );
    }

    #[test]
    fn old_engagement_counts_less() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let month = 30.0 * 86_400.0;
        let later = t0 + chrono::TimeDelta::days(30);
        assert!((decay(100.0, t0, later, month) - 50.0).abs() < 1e-9);
        assert!((decay(100.0, t0, t0, month) - 100.0).abs() < 1e-9);
        // Decaying in two steps equals one step.
        let mid = t0 + chrono::TimeDelta::days(10);
        let two = decay(decay(80.0, t0, mid, month), mid, later, month);
        assert!((two - decay(80.0, t0, later, month)).abs() < 1e-9);
    }
}

/// Where a lead stands with Sales: the seed's prospect → scored lead →
/// hand-off to Sales → contact → conversion. A customer who buys again
/// stays a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Prospect,
    HandedOff,
    Contacted,
    Customer,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 4] = [
        LeadStatus::Prospect,
        LeadStatus::HandedOff,
        LeadStatus::Contacted,
        LeadStatus::Customer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Prospect => "prospect",
            LeadStatus::HandedOff => "handed_off",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// For sentences: "handed off".
    pub fn words(self) -> &'static str {
        match self {
            LeadStatus::HandedOff => "handed off",
            other => other.as_str(),
        }
    }
}

/// What happens to a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadCommand {
    /// Marketing hands it to Sales (by hand, or when its score crosses).
    HandOff,
    /// Sales has contacted it.
    Contact,
    /// It bought.
    Convert,
}

impl LeadCommand {
    pub const ALL: [LeadCommand; 3] = [
        LeadCommand::HandOff,
        LeadCommand::Contact,
        LeadCommand::Convert,
    ];
}

/// Why a move was refused, and whether it is a conflict (someone got
/// there first) rather than a move that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadRefusal {
    pub why: String,
    pub conflict: bool,
}

/// The lead's pure state machine.
pub fn decide_lead(
    key: &str,
    from: LeadStatus,
    command: LeadCommand,
) -> Result<LeadStatus, LeadRefusal> {
    use LeadCommand::*;
    use LeadStatus::*;
    match (from, command) {
        (Prospect, HandOff) => Ok(HandedOff),
        (_, HandOff) => Err(LeadRefusal {
            why: format!("{key} is already {}", from.words()),
            conflict: true,
        }),
        (HandedOff, Contact) => Ok(Contacted),
        (_, Contact) => Err(LeadRefusal {
            why: format!(
                "{key} is {}: Sales contacts leads handed to it",
                from.words()
            ),
            conflict: false,
        }),
        (_, Convert) => Ok(Customer),
    }
}

#[cfg(test)]
mod lead_tests {
    use super::*;

    /// Every status and command pair has a known answer.
    #[test]
    fn every_status_and_command_pair_has_a_known_answer() {
        use LeadStatus::*;
        // Columns: hand off, contact, convert. None: refused.
        let table: [(LeadStatus, [Option<LeadStatus>; 3]); 4] = [
            (Prospect, [Some(HandedOff), None, Some(Customer)]),
            (HandedOff, [None, Some(Contacted), Some(Customer)]),
            (Contacted, [None, None, Some(Customer)]),
            (Customer, [None, None, Some(Customer)]),
        ];
        assert_eq!(table.map(|(s, _)| s), LeadStatus::ALL, "one row per status");
        for (from, row) in table {
            for (command, want) in LeadCommand::ALL.into_iter().zip(row) {
                match (decide_lead("cust-1", from, command), want) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{from:?} --{command:?}-->"),
                    (Err(r), None) => assert!(r.why.starts_with("cust-1 is "), "{}", r.why),
                    (got, want) => panic!("{from:?} --{command:?}--> {got:?}, expected {want:?}"),
                }
            }
        }
    }

    #[test]
    fn refusals_read_like_sentences() {
        let r = decide_lead("cust-9", LeadStatus::HandedOff, LeadCommand::HandOff).err();
        assert_eq!(
            r.map(|r| (r.why, r.conflict)),
            Some(("cust-9 is already handed off".into(), true))
        );
        let r = decide_lead("cust-9", LeadStatus::Prospect, LeadCommand::Contact).err();
        assert_eq!(
            r.map(|r| r.why),
            Some("cust-9 is prospect: Sales contacts leads handed to it".into())
        );
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::parse(s.as_str()), Some(s));
        }
    }
}

/// Where a support ticket stands: open (its SLA clock running) until it is
/// resolved, once. Running past the SLA marks an open ticket breached; it
/// stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Resolved,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 2] = [TicketStatus::Open, TicketStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What happens to a support ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketCommand {
    /// Support resolved it.
    Resolve,
    /// The support SLA ran out (the engine's timer).
    Breach,
}

impl TicketCommand {
    pub const ALL: [TicketCommand; 2] = [TicketCommand::Resolve, TicketCommand::Breach];
}

/// The ticket's pure state machine. A refusal is a conflict: the ticket was
/// resolved before (by `resolved_by`, when known).
pub fn decide_ticket(
    id: i64,
    from: TicketStatus,
    command: TicketCommand,
    resolved_by: Option<&str>,
) -> Result<TicketStatus, String> {
    use TicketCommand::*;
    use TicketStatus::*;
    let by = resolved_by.map(|h| format!(" by @{h}")).unwrap_or_default();
    match (from, command) {
        (Open, Resolve) => Ok(Resolved),
        (Open, Breach) => Ok(Open),
        (Resolved, Resolve) => Err(format!("ticket #{id} was already resolved{by}")),
        (Resolved, Breach) => Err(format!(
            "ticket #{id} was resolved{by} before its SLA ran out"
        )),
    }
}

#[cfg(test)]
mod ticket_tests {
    use super::*;

    /// Every status and command pair has a known answer: open → resolved,
    /// once; a breach keeps an open ticket open and never touches a
    /// resolved one.
    #[test]
    fn every_ticket_status_and_command_pair_has_a_known_answer() {
        use TicketStatus::*;
        // Columns: resolve, breach. None: refused.
        let table: [(TicketStatus, [Option<TicketStatus>; 2]); 2] = [
            (Open, [Some(Resolved), Some(Open)]),
            (Resolved, [None, None]),
        ];
        assert_eq!(
            table.map(|(s, _)| s),
            TicketStatus::ALL,
            "one row per status"
        );
        for (from, row) in table {
            for (command, want) in TicketCommand::ALL.into_iter().zip(row) {
                match (decide_ticket(7, from, command, Some("jun")), want) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{from:?} --{command:?}-->"),
                    (Err(why), None) => assert!(why.starts_with("ticket #7 was "), "{why}"),
                    (got, want) => panic!("{from:?} --{command:?}--> {got:?}, expected {want:?}"),
                }
            }
        }
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TicketStatus::parse("closed"), None);
    }

    #[test]
    fn a_second_resolution_names_who_resolved_it() {
        assert_eq!(
            decide_ticket(
                3,
                TicketStatus::Resolved,
                TicketCommand::Resolve,
                Some("jun")
            ),
            Err("ticket #3 was already resolved by @jun".into())
        );
        assert_eq!(
            decide_ticket(3, TicketStatus::Resolved, TicketCommand::Resolve, None),
            Err("ticket #3 was already resolved".into())
        );
    }
}
