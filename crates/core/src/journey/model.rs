//! Lead scoring, pure: points per touch, exponential decay, stages.

use chrono::{DateTime, Utc};
use serde::Serialize;

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
/// hand-off to Sales → contact → conversion, as a CRM names the lifecycle:
/// prospect (nurture) → MQL (handed off) → SQL (accepted by Sales) →
/// opportunity (contacted) → customer; Sales may disqualify a lead (with a
/// reason), and a disqualified lead is recycled to nurture (by hand, or
/// after `recycle_after`). A customer who buys again stays a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Prospect,
    HandedOff,
    Accepted,
    Contacted,
    Customer,
    Disqualified,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 6] = [
        LeadStatus::Prospect,
        LeadStatus::HandedOff,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
        LeadStatus::Customer,
        LeadStatus::Disqualified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Prospect => "prospect",
            LeadStatus::HandedOff => "handed_off",
            LeadStatus::Accepted => "accepted",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Customer => "customer",
            LeadStatus::Disqualified => "disqualified",
        }
    }

    /// The lifecycle stage as a CRM calls it.
    pub fn lifecycle(self) -> &'static str {
        match self {
            LeadStatus::Prospect => "nurture",
            LeadStatus::HandedOff => "mql",
            LeadStatus::Accepted => "sql",
            LeadStatus::Contacted => "opportunity",
            LeadStatus::Customer => "customer",
            LeadStatus::Disqualified => "disqualified",
        }
    }

    /// By its name or its lifecycle name ("mql", "sql", "opportunity").
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s || x.lifecycle() == s)
    }

    /// For sentences: "handed off".
    pub fn words(self) -> &'static str {
        match self {
            LeadStatus::HandedOff => "handed off",
            other => other.as_str(),
        }
    }

    /// With Sales and not closed: counts against its owner's capacity.
    pub fn is_open_with_sales(self) -> bool {
        matches!(
            self,
            LeadStatus::HandedOff | LeadStatus::Accepted | LeadStatus::Contacted
        )
    }
}

/// What happens to a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadCommand {
    /// Marketing hands it to Sales (by hand, or when it qualifies).
    HandOff,
    /// Sales accepts it (MQL → SQL).
    Accept,
    /// Sales has contacted it (an accepted lead becomes an opportunity; a
    /// lead contacted straight away is accepted by the contact).
    Contact,
    /// It bought.
    Convert,
    /// Sales turns it down, with a reason.
    Disqualify,
    /// Back to nurture (Marketing's e-mails), by hand or after the
    /// configured time.
    Recycle,
}

impl LeadCommand {
    pub const ALL: [LeadCommand; 6] = [
        LeadCommand::HandOff,
        LeadCommand::Accept,
        LeadCommand::Contact,
        LeadCommand::Convert,
        LeadCommand::Disqualify,
        LeadCommand::Recycle,
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
    let conflict = |why: String| {
        Err(LeadRefusal {
            why,
            conflict: true,
        })
    };
    let refuse = |why: String| {
        Err(LeadRefusal {
            why,
            conflict: false,
        })
    };
    match (from, command) {
        (Prospect, HandOff) => Ok(HandedOff),
        (Disqualified, HandOff) => refuse(format!(
            "{key} is disqualified: recycle it to nurture before handing it over again"
        )),
        (_, HandOff) => conflict(format!("{key} is already {}", from.words())),
        (HandedOff, Accept) => Ok(Accepted),
        (Accepted | Contacted, Accept) => conflict(format!("{key} is already {}", from.words())),
        (_, Accept) => refuse(format!(
            "{key} is {}: Sales accepts leads handed to it",
            from.words()
        )),
        (HandedOff | Accepted, Contact) => Ok(Contacted),
        (_, Contact) => refuse(format!(
            "{key} is {}: Sales contacts leads handed to it",
            from.words()
        )),
        (_, Convert) => Ok(Customer),
        (HandedOff | Accepted | Contacted, Disqualify) => Ok(Disqualified),
        (Disqualified, Disqualify) => conflict(format!("{key} is already disqualified")),
        (_, Disqualify) => refuse(format!(
            "{key} is {}: only a lead with Sales can be disqualified",
            from.words()
        )),
        (HandedOff | Accepted | Contacted | Disqualified, Recycle) => Ok(Prospect),
        (Prospect, Recycle) => conflict(format!("{key} is already in nurture")),
        (Customer, Recycle) => refuse(format!(
            "{key} is a customer: the upsell campaigns reach customers"
        )),
    }
}

#[cfg(test)]
mod lead_tests {
    use super::*;

    /// Every status and command pair has a known answer.
    #[test]
    fn every_status_and_command_pair_has_a_known_answer() {
        use LeadStatus::*;
        // Columns: hand off, accept, contact, convert, disqualify, recycle. None: refused.
        let table: [(LeadStatus, [Option<LeadStatus>; 6]); 6] = [
            (
                Prospect,
                [Some(HandedOff), None, None, Some(Customer), None, None],
            ),
            (
                HandedOff,
                [
                    None,
                    Some(Accepted),
                    Some(Contacted),
                    Some(Customer),
                    Some(Disqualified),
                    Some(Prospect),
                ],
            ),
            (
                Accepted,
                [
                    None,
                    None,
                    Some(Contacted),
                    Some(Customer),
                    Some(Disqualified),
                    Some(Prospect),
                ],
            ),
            (
                Contacted,
                [
                    None,
                    None,
                    None,
                    Some(Customer),
                    Some(Disqualified),
                    Some(Prospect),
                ],
            ),
            (Customer, [None, None, None, Some(Customer), None, None]),
            (
                Disqualified,
                [None, None, None, Some(Customer), None, Some(Prospect)],
            ),
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
            assert_eq!(LeadStatus::parse(s.lifecycle()), Some(s));
        }
        assert_eq!(LeadStatus::parse("SQL"), Some(LeadStatus::Accepted));
        assert_eq!(LeadStatus::parse("won"), None);
    }
}

/// Points of one touch kind in a lead's engagement score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindPoints {
    pub kind: String,
    pub touches: i64,
    /// As scored when the touches happened.
    pub points: i64,
    /// What they are worth now, after decay.
    pub decayed: f64,
}

/// A touch as the breakdown needs it: (kind, points, when).
pub type ScoredTouch<'a> = (&'a str, i32, DateTime<Utc>);

/// The engagement score by touch kind, decay applied to each touch (the
/// decayed parts add up to the decayed score), largest share first.
pub fn breakdown(
    touches: &[ScoredTouch<'_>],
    now: DateTime<Utc>,
    half_life_secs: f64,
) -> Vec<KindPoints> {
    let mut out: Vec<KindPoints> = Vec::new();
    for (kind, points, at) in touches {
        let decayed = decay(f64::from(*points), *at, now, half_life_secs);
        match out.iter_mut().find(|k| k.kind == *kind) {
            Some(k) => {
                k.touches += 1;
                k.points += i64::from(*points);
                k.decayed += decayed;
            }
            None => out.push(KindPoints {
                kind: (*kind).to_string(),
                touches: 1,
                points: i64::from(*points),
                decayed,
            }),
        }
    }
    out.sort_by(|a, b| {
        b.decayed
            .abs()
            .total_cmp(&a.decayed.abs())
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

/// One part of a fit score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitPart {
    /// A profile attribute, or "order_history".
    pub attribute: String,
    pub points: f64,
}

/// The fit score and its parts: configured points per profile attribute
/// the prospect has, plus order history (points per `order_per_cents`,
/// capped at `order_max`). Attributes the config does not score add 0.
pub fn fit(cfg: &JourneyConfig, attributes: &[String], order_cents: i64) -> (f64, Vec<FitPart>) {
    let mut parts = Vec::new();
    for a in attributes {
        if let Some(p) = cfg.fit.attributes.get(a) {
            parts.push(FitPart {
                attribute: a.clone(),
                points: *p,
            });
        }
    }
    let f = &cfg.fit;
    if f.order_per_cents > 0 && order_cents > 0 && f.order_points != 0.0 {
        let steps = (order_cents / f.order_per_cents) as f64;
        let mut pts = steps * f.order_points;
        if f.order_max > 0.0 {
            pts = pts.min(f.order_max);
        }
        if pts != 0.0 {
            parts.push(FitPart {
                attribute: "order_history".into(),
                points: pts,
            });
        }
    }
    (parts.iter().map(|p| p.points).sum(), parts)
}

/// The hand-off rule on both scores: engagement at `handoff_score` with at
/// least `handoff_min_fit`, or engagement plus fit at `handoff_combined`
/// (when set). Returns the rule that matched, in words.
pub fn qualifies(cfg: &JourneyConfig, engagement: f64, fit: f64) -> Option<String> {
    if engagement >= f64::from(cfg.handoff_score) && fit >= cfg.handoff_min_fit {
        return Some(format!(
            "engagement {engagement:.0} ≥ {} and fit {fit:.0} ≥ {:.0}",
            cfg.handoff_score, cfg.handoff_min_fit
        ));
    }
    if cfg.handoff_combined > 0.0 && engagement > 0.0 && engagement + fit >= cfg.handoff_combined {
        return Some(format!(
            "engagement {engagement:.0} + fit {fit:.0} ≥ {:.0}",
            cfg.handoff_combined
        ));
    }
    None
}

/// Who owns a new lead: the first rule matching its segment/region whose
/// owner has capacity, else the next owner after `last` (round-robin) with
/// capacity; `None` when everyone is full (it waits in Sales' queue).
/// `load` is each candidate's open leads.
pub fn route(
    rules: &[super::config::RoutingRule],
    owners: &[String],
    capacity: i64,
    load: &dyn Fn(&str) -> i64,
    last: Option<&str>,
    segment: &str,
    region: Option<&str>,
) -> Option<(String, String)> {
    for r in rules {
        let seg_ok = r.segment.as_deref().is_none_or(|s| s == segment);
        let reg_ok = r.region.as_deref().is_none_or(|g| Some(g) == region);
        if seg_ok
            && reg_ok
            && (r.segment.is_some() || r.region.is_some())
            && load(&r.owner) < capacity
        {
            let what = [
                r.segment.as_ref().map(|s| format!("segment {s}")),
                r.region.as_ref().map(|g| format!("region {g}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            return Some((r.owner.clone(), format!("rule: {what}")));
        }
    }
    if owners.is_empty() {
        return None;
    }
    let start = last
        .and_then(|l| owners.iter().position(|o| o == l))
        .map_or(0, |i| i + 1);
    (0..owners.len())
        .map(|i| &owners[(start + i) % owners.len()])
        .find(|o| load(o) < capacity)
        .map(|o| (o.clone(), "round-robin".to_string()))
}

#[cfg(test)]
mod lead_score_tests {
    use super::*;
    use crate::journey::config::RoutingRule;
    use crate::testing::default_config;

    fn cfg() -> JourneyConfig {
        let config = default_config();
        match super::super::config::settings(&config) {
            Ok(c) => c.clone(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_breakdown_adds_up_to_the_decayed_score() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let month = 30.0 * 86_400.0;
        let later = t0 + chrono::TimeDelta::days(30);
        let touches = [
            ("clicked", 25, t0),
            ("clicked", 50, later),
            ("opened", 10, t0),
        ];
        let b = breakdown(&touches, later, month);
        assert_eq!(b[0].kind, "clicked");
        assert_eq!((b[0].touches, b[0].points), (2, 75));
        assert!((b[0].decayed - 62.5).abs() < 1e-9);
        assert!((b[1].decayed - 5.0).abs() < 1e-9);
        // The stored score, decayed and added to, is the same number.
        let stored = decay(decay(25.0 + 10.0, t0, t0, month), t0, later, month) + 50.0;
        let sum: f64 = b.iter().map(|k| k.decayed).sum();
        assert!((sum - stored).abs() < 1e-9);
    }

    #[test]
    fn fit_counts_attributes_and_order_history_and_the_rule_uses_both() {
        let c = cfg();
        let (f, parts) = fit(&c, &["trade_buyer".into(), "cat_lover".into()], 0);
        assert_eq!(f, 40.0);
        assert_eq!(parts.len(), 1);
        let (f, parts) = fit(&c, &["interior_designer".into()], 250_000);
        // 30 + 2 × $1,000 × 10 points.
        assert_eq!(f, 50.0);
        assert_eq!(parts[1].attribute, "order_history");
        assert_eq!(fit(&c, &[], 10_000_000).0, 40.0, "capped");
        assert!(qualifies(&c, 100.0, 0.0).is_some());
        assert!(qualifies(&c, 99.0, 0.0).is_none());
        // A strong fit needs less engagement: 90 + 60 ≥ 150.
        assert!(qualifies(&c, 90.0, 60.0).is_some_and(|w| w.contains("+ fit")));
        assert!(
            qualifies(&c, 0.0, 200.0).is_none(),
            "fit alone is not engagement"
        );
    }

    #[test]
    fn routing_takes_turns_among_owners_with_capacity_after_the_rules() {
        let owners = vec!["nico".to_string(), "sam".to_string()];
        let none = |_: &str| 0;
        let r = |last| route(&[], &owners, 2, &none, last, "general", None).map(|(o, _)| o);
        assert_eq!(r(None).as_deref(), Some("nico"));
        assert_eq!(r(Some("nico")).as_deref(), Some("sam"));
        assert_eq!(r(Some("sam")).as_deref(), Some("nico"));
        assert_eq!(r(Some("gone")).as_deref(), Some("nico"));
        let nico_full = |o: &str| if o == "nico" { 2 } else { 0 };
        let got = route(&[], &owners, 2, &nico_full, Some("sam"), "general", None);
        assert_eq!(got.map(|(o, _)| o).as_deref(), Some("sam"));
        let all_full = |_: &str| 2;
        assert!(route(&[], &owners, 2, &all_full, None, "general", None).is_none());
        let rules = vec![RoutingRule {
            segment: Some("hospitality".into()),
            region: None,
            owner: "sam".into(),
        }];
        let got = route(&rules, &owners, 2, &none, Some("sam"), "hospitality", None);
        assert_eq!(
            got,
            Some(("sam".into(), "rule: segment hospitality".into()))
        );
        let got = route(&rules, &owners, 2, &none, Some("sam"), "general", None);
        assert_eq!(got.map(|(_, why)| why).as_deref(), Some("round-robin"));
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
