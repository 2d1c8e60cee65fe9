//! Vendor management, as the seed draws it:
//!
//! ```text
//! Prospect → Invited (RFP) → Proposed → Negotiating (award asked) → Contracted → Active
//! Negotiating ─(award rejected)→ Proposed
//! Invited | Proposed | Negotiating ─(lost)→ Refused, ─(withdrew)→ Withdrawn
//! Refused | Withdrawn | Ended ─(a new RFP)→ Invited
//! Active | Renewed ─(poor period score)→ Improvement ─(plan met)→ Active
//! Improvement ─(plan failed, extended)→ Improvement, ─(plan failed, ended)→ Ended
//! Active | Renewed ─(renew)→ Renewed;  Contracted | Active | Renewed | Improvement ─(end)→ Ended
//! ```
//!
//! Two axes: the vendor's relationship (this [`State`]) and its part in each
//! RFP (a [`ProposalStatus`] per RFP). A vendor already under contract takes
//! part in a new RFP without leaving its relationship state.
//!
//! Beside the state machine, the pure arithmetic the issue fixes: RFP
//! weights and consensus ([`consensus`], [`weighted_total`]), delivery
//! statistics ([`delivery_stats`]: on-time with a minimum fill, OTIF, PPM;
//! "no data" is `None`, never 100%), scorecards ([`kpi_score`],
//! [`period_score`], [`overall_score`], [`standing`]) and contract dates
//! ([`Notice`], [`notice_date`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Prospect,
    Invited,
    Proposed,
    Negotiating,
    Contracted,
    Active,
    Improvement,
    Renewed,
    Ended,
    Refused,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Prospect,
        State::Invited,
        State::Proposed,
        State::Negotiating,
        State::Contracted,
        State::Active,
        State::Improvement,
        State::Renewed,
        State::Ended,
        State::Refused,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Prospect => "prospect",
            State::Invited => "invited",
            State::Proposed => "proposed",
            State::Negotiating => "negotiating",
            State::Contracted => "contracted",
            State::Active => "active",
            State::Improvement => "improvement",
            State::Renewed => "renewed",
            State::Ended => "ended",
            State::Refused => "refused",
            State::Withdrawn => "withdrawn",
        }
    }

    /// Under contract: deliveries, reviews and renewals apply.
    pub fn under_contract(self) -> bool {
        matches!(
            self,
            State::Contracted | State::Active | State::Improvement | State::Renewed
        )
    }

    /// Delivering service: scored by the monthly review.
    pub fn serving(self) -> bool {
        matches!(self, State::Active | State::Improvement | State::Renewed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown vendor state {s:?}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Invited to an RFP.
    Invite,
    /// Sent a proposal.
    Propose,
    /// The RFP owner asked for approval to award this vendor.
    Award,
    AwardApproved,
    AwardRejected,
    /// Another vendor won (or this one failed a deal breaker).
    Lose,
    Withdraw,
    /// The contract's term began.
    Start,
    /// A period score below the plan threshold.
    PoorScore,
    PlanMet,
    PlanExtended,
    PlanEnded,
    Renew,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

/// The state machine: where `command` takes a vendor in `state`.
pub fn decide(state: State, command: Command) -> Result<State, Refusal> {
    use Command::*;
    use State::*;
    let contracted = state.under_contract();
    match (state, command) {
        (Prospect | Refused | Withdrawn | Ended, Invite) => Ok(Invited),
        (_, Invite) if contracted => Ok(state),
        (_, Invite) => refuse(format!("the vendor is {state} in another RFP already")),
        (Invited, Propose) => Ok(Proposed),
        (Proposed, Propose) => Ok(Proposed),
        (_, Propose) if contracted => Ok(state),
        (_, Propose) => refuse(format!(
            "a {state} vendor cannot send a proposal: invite it to an RFP first"
        )),
        (Proposed, Award) => Ok(Negotiating),
        (_, Award) if contracted => Ok(state),
        (_, Award) => refuse(format!(
            "only a vendor with a proposal can be awarded (it is {state})"
        )),
        (Negotiating, AwardApproved) => Ok(Contracted),
        (Negotiating, AwardRejected) => Ok(Proposed),
        (_, AwardApproved | AwardRejected) if contracted => Ok(state),
        (_, AwardApproved | AwardRejected) => {
            refuse(format!("there is no award pending for a {state} vendor"))
        }
        (Invited | Proposed | Negotiating, Lose) => Ok(Refused),
        (_, Lose) if contracted => Ok(state),
        (_, Lose) => refuse(format!("a {state} vendor is not competing")),
        (Invited | Proposed | Negotiating, Withdraw) => Ok(Withdrawn),
        (_, Withdraw) => refuse(format!(
            "a {state} vendor has nothing to withdraw from{}",
            if contracted { ": end its contract" } else { "" }
        )),
        (Contracted, Start) => Ok(Active),
        (Active | Renewed | Improvement, Start) => Ok(state),
        (_, Start) => refuse(format!("a {state} vendor has no contract to start")),
        (Active | Renewed, PoorScore) => Ok(Improvement),
        (Improvement, PoorScore) => Ok(Improvement),
        (_, PoorScore) => refuse(format!("a {state} vendor is not scored")),
        (Improvement, PlanMet) => Ok(Active),
        (Improvement, PlanExtended) => Ok(Improvement),
        (Improvement, PlanEnded) => Ok(Ended),
        (_, PlanMet | PlanExtended | PlanEnded) => {
            refuse(format!("a {state} vendor has no improvement plan"))
        }
        (Active | Renewed, Renew) => Ok(Renewed),
        // The contract renews; the plan goes on.
        (Improvement, Renew) => Ok(Improvement),
        (Contracted, Renew) => refuse("the contract has not started yet"),
        (_, Renew) => refuse(format!("a {state} vendor has no contract to renew")),
        (Contracted | Active | Renewed | Improvement, End) => Ok(Ended),
        (Ended, End) => refuse("the vendor relationship has ended already"),
        (_, End) => refuse(format!(
            "a {state} vendor has no contract to end (withdraw it from the RFP instead)"
        )),
    }
}

/// A vendor's part in one RFP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Invited,
    Proposed,
    /// Failed a deal breaker.
    Out,
    /// Award asked, waiting for approval.
    Awarding,
    Awarded,
    Refused,
    Withdrawn,
}

impl ProposalStatus {
    pub const ALL: [ProposalStatus; 7] = [
        ProposalStatus::Invited,
        ProposalStatus::Proposed,
        ProposalStatus::Out,
        ProposalStatus::Awarding,
        ProposalStatus::Awarded,
        ProposalStatus::Refused,
        ProposalStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Invited => "invited",
            ProposalStatus::Proposed => "proposed",
            ProposalStatus::Out => "out",
            ProposalStatus::Awarding => "awarding",
            ProposalStatus::Awarded => "awarded",
            ProposalStatus::Refused => "refused",
            ProposalStatus::Withdrawn => "withdrawn",
        }
    }
}

/// An RFP's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfpState {
    Open,
    Awarding,
    Awarded,
}

impl RfpState {
    pub const ALL: [RfpState; 3] = [RfpState::Open, RfpState::Awarding, RfpState::Awarded];
    pub fn as_str(self) -> &'static str {
        match self {
            RfpState::Open => "open",
            RfpState::Awarding => "awarding",
            RfpState::Awarded => "awarded",
        }
    }
}

// ---- RFP scoring ----------------------------------------------------------------------

/// One RFP criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    /// Share of the weighted total (all weights total 100; a deal breaker
    /// named outside the criteria has weight 0).
    pub weight: u32,
    pub deal_breaker: bool,
}

/// Parse `NAME:WEIGHT`.
pub fn parse_weighted(text: &str) -> Result<(String, u32), Refusal> {
    let (name, w) = text
        .rsplit_once(':')
        .ok_or_else(|| Refusal(format!("{text:?} is not NAME:WEIGHT")))?;
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() {
        return refuse(format!("{text:?} names no criterion"));
    }
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| Refusal(format!("{text:?}: the weight must be a whole number 0-100")))?;
    Ok((name, w))
}

/// Parse `NAME=VALUE` (a score).
pub fn parse_scored(text: &str) -> Result<(String, f64), Refusal> {
    let (name, v) = text
        .split_once('=')
        .ok_or_else(|| Refusal(format!("{text:?} is not NAME=SCORE")))?;
    let name = name.trim().to_ascii_lowercase();
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| Refusal(format!("{text:?}: the score must be a number")))?;
    if name.is_empty() || !v.is_finite() {
        return refuse(format!("{text:?} is not NAME=SCORE"));
    }
    Ok((name, v))
}

/// The criteria of an RFP: weights must total exactly 100, names unique;
/// a deal breaker that is not a criterion becomes one of weight 0.
pub fn rfp_criteria(
    weighted: &[(String, u32)],
    deal_breakers: &[String],
) -> Result<Vec<Criterion>, Refusal> {
    if weighted.is_empty() {
        return refuse("an RFP needs criteria (--criterion NAME:WEIGHT, weights totalling 100)");
    }
    let mut out: Vec<Criterion> = Vec::new();
    for (name, weight) in weighted {
        if out.iter().any(|c| &c.name == name) {
            return refuse(format!("criterion {name:?} is named twice"));
        }
        if *weight > 100 {
            return refuse(format!("criterion {name:?} weighs {weight}: at most 100"));
        }
        out.push(Criterion {
            name: name.clone(),
            weight: *weight,
            deal_breaker: false,
        });
    }
    check_weights(out.iter().map(|c| (c.name.as_str(), c.weight)))?;
    for d in deal_breakers {
        let d = d.trim().to_ascii_lowercase();
        if d.is_empty() {
            return refuse("a deal breaker needs a name");
        }
        match out.iter_mut().find(|c| c.name == d) {
            Some(c) => c.deal_breaker = true,
            None => out.push(Criterion {
                name: d,
                weight: 0,
                deal_breaker: true,
            }),
        }
    }
    Ok(out)
}

/// Weights must total exactly 100.
pub fn check_weights<'a>(weights: impl IntoIterator<Item = (&'a str, u32)>) -> Result<(), Refusal> {
    let list: Vec<(&str, u32)> = weights.into_iter().collect();
    let total: u32 = list.iter().map(|(_, w)| *w).sum();
    if total != 100 {
        let parts: Vec<String> = list.iter().map(|(n, w)| format!("{n} {w}")).collect();
        return refuse(format!(
            "criteria weights must total 100; these total {total} ({})",
            parts.join(" + ")
        ));
    }
    Ok(())
}

/// Check one evaluator's score: 0 to 10.
pub fn check_rfp_score(name: &str, score: f64) -> Result<(), Refusal> {
    if !(0.0..=10.0).contains(&score) {
        return refuse(format!("{name}={score}: a score is 0 to 10"));
    }
    Ok(())
}

/// The consensus of one criterion: the mean of the scores given (a blank is
/// "not scored", never 0). None when nobody scored it.
pub fn consensus(scores: &[Option<f64>]) -> Option<f64> {
    let given: Vec<f64> = scores.iter().flatten().copied().collect();
    if given.is_empty() {
        return None;
    }
    Some(given.iter().sum::<f64>() / given.len() as f64)
}

/// One criterion of one proposal, as the ranking shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionResult {
    pub name: String,
    pub weight: u32,
    pub deal_breaker: bool,
    /// Scores given (evaluator → score); blanks are absent.
    pub scores: BTreeMap<String, f64>,
    /// The mean of given scores, or the owner's override.
    pub consensus: Option<f64>,
    pub overridden: bool,
}

/// A proposal's weighted total on 0-100 (Σ consensus/10 × weight), over
/// the weighted criteria. None while any weighted criterion is unscored.
pub fn weighted_total(results: &[CriterionResult]) -> Option<f64> {
    let mut total = 0.0;
    for r in results.iter().filter(|r| r.weight > 0) {
        total += r.consensus? * 10.0 * f64::from(r.weight) / 100.0;
    }
    Some(round1(total))
}

/// The deal breakers a proposal fails: consensus below `min`. An unscored
/// deal breaker is not failed (yet).
pub fn failed_deal_breakers(results: &[CriterionResult], min: f64) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.deal_breaker && r.consensus.is_some_and(|c| c < min))
        .map(|r| r.name.clone())
        .collect()
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

// ---- deliveries -------------------------------------------------------------------------

/// One receipt against a purchase order (a split order has several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub po: String,
    /// The original promise (the date the statistics use).
    pub promised: NaiveDate,
    pub delivered: NaiveDate,
    pub ordered: i64,
    pub received: i64,
    pub defective: i64,
    pub amount_cents: Option<i64>,
}

/// Delivery figures for a period; `None` where there is no data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct DeliveryStats {
    pub orders: i64,
    /// On time with credit: delivered by the promise and at least `min_fill`
    /// of the quantity received.
    pub on_time_rate: Option<f64>,
    pub in_full_rate: Option<f64>,
    pub otif_rate: Option<f64>,
    pub defect_rate: Option<f64>,
    pub ppm: Option<f64>,
    pub received: i64,
    pub defective: i64,
    pub spend_cents: i64,
}

/// Delivery statistics over receipts. Receipts of one PO are one order:
/// its delivered date is its last receipt's, its quantities their sum, its
/// promise the earliest recorded (the original).
pub fn delivery_stats(receipts: &[Receipt], min_fill: f64) -> DeliveryStats {
    struct Order {
        promised: NaiveDate,
        delivered: NaiveDate,
        ordered: i64,
        received: i64,
    }
    let mut orders: BTreeMap<&str, Order> = BTreeMap::new();
    let mut received_total: i64 = 0;
    let mut defective_total: i64 = 0;
    let mut spend: i64 = 0;
    for r in receipts {
        received_total = received_total.saturating_add(r.received.max(0));
        defective_total = defective_total.saturating_add(r.defective.max(0));
        spend = spend.saturating_add(r.amount_cents.unwrap_or(0).max(0));
        let o = orders.entry(r.po.as_str()).or_insert(Order {
            promised: r.promised,
            delivered: r.delivered,
            ordered: r.ordered,
            received: 0,
        });
        o.promised = o.promised.min(r.promised);
        o.delivered = o.delivered.max(r.delivered);
        o.ordered = o.ordered.max(r.ordered);
        o.received = o.received.saturating_add(r.received.max(0));
    }
    let n = orders.len() as i64;
    let rate = |k: i64| (n > 0).then(|| k as f64 / n as f64);
    let (mut on_time, mut in_full, mut otif) = (0, 0, 0);
    for o in orders.values() {
        let timely = o.delivered <= o.promised;
        let full = o.received >= o.ordered;
        let filled = o.ordered <= 0 || o.received as f64 >= min_fill * o.ordered as f64;
        on_time += i64::from(timely && filled);
        in_full += i64::from(full);
        otif += i64::from(timely && full);
    }
    let defect_rate = (received_total > 0).then(|| defective_total as f64 / received_total as f64);
    DeliveryStats {
        orders: n,
        on_time_rate: rate(on_time),
        in_full_rate: rate(in_full),
        otif_rate: rate(otif),
        defect_rate,
        ppm: defect_rate.map(|d| d * 1_000_000.0),
        received: received_total,
        defective: defective_total,
        spend_cents: spend,
    }
}

/// Is the order late as far as it has arrived (for the crisis link)?
pub fn late(r: &Receipt) -> bool {
    r.delivered > r.promised
}

// ---- scorecards ---------------------------------------------------------------------------

/// A KPI's score 0-100: clamp((value − floor) / (target − floor) × 100).
/// Works both ways (a floor above the target means lower is better).
pub fn kpi_score(value: f64, target: f64, floor: f64) -> f64 {
    if (target - floor).abs() < f64::EPSILON {
        return if value >= target { 100.0 } else { 0.0 };
    }
    ((value - floor) / (target - floor) * 100.0).clamp(0.0, 100.0)
}

/// A scored criterion of a period's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionScore {
    pub name: String,
    pub weight: u32,
    /// 0-100; None: no data for it (not zero).
    pub score: Option<f64>,
}

/// Period score = Σ score × weight / 100, one decimal, over the criteria
/// that have a score (their weights scaled to 100 when some have none).
/// None when no criterion has a score.
pub fn period_score(criteria: &[CriterionScore]) -> Option<f64> {
    let scored_weight: u32 = criteria
        .iter()
        .filter(|c| c.score.is_some())
        .map(|c| c.weight)
        .sum();
    if scored_weight == 0 {
        return None;
    }
    let sum: f64 = criteria
        .iter()
        .filter_map(|c| c.score.map(|s| s * f64::from(c.weight)))
        .sum();
    Some(round1(sum / f64::from(scored_weight)))
}

/// Months between two periods (`later` − `earlier`).
pub fn months_between(earlier: Period, later: Period) -> i64 {
    (i64::from(later.year) * 12 + i64::from(later.month))
        - (i64::from(earlier.year) * 12 + i64::from(earlier.month))
}

/// The weight of the period `k` back: max(0, min(1, (decay − k) / decay))
/// (ERPNext's default with decay = 12).
pub fn decay_weight(k: i64, decay: u32) -> f64 {
    if decay == 0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    ((f64::from(decay) - k as f64) / f64::from(decay)).clamp(0.0, 1.0)
}

/// The overall score at `at`: the scored periods up to `at`, recent ones
/// weighted more. None without a scored period.
pub fn overall_score(periods: &[(Period, f64)], at: Period, decay: u32) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (p, s) in periods {
        let k = months_between(*p, at);
        if k < 0 {
            continue;
        }
        let w = decay_weight(k, decay);
        num += w * s;
        den += w;
    }
    (den > 0.0).then(|| round1(num / den))
}

/// A standing from config: at least `min`, with its action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandingRule {
    pub name: String,
    pub min: f64,
    /// none, warn, refuse_po.
    #[serde(default = "no_action")]
    pub action: String,
}

fn no_action() -> String {
    "none".into()
}

/// The standing of a score: the rule with the highest minimum it reaches.
pub fn standing(score: f64, rules: &[StandingRule]) -> Option<&StandingRule> {
    rules
        .iter()
        .filter(|r| score >= r.min)
        .max_by(|a, b| a.min.total_cmp(&b.min))
}

/// A calendar month, "YYYY-MM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    pub fn of(date: NaiveDate) -> Self {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The first day of the next month (the period's end, exclusive).
    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = Refusal;
    fn from_str(s: &str) -> Result<Self, Refusal> {
        let bad = || Refusal(format!("{s:?} is not a period: write YYYY-MM"));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if y.len() != 4 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---- contracts ------------------------------------------------------------------------------

/// A notice period: whole months (on the calendar) or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Months(u32),
    Days(u32),
}

impl Notice {
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || {
            Refusal(format!(
                "{text:?} is not a notice period (e.g. \"1 month\", \"3 months\", \"30 days\", \"2 weeks\")"
            ))
        };
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = t.split_at(split);
        let n: u32 = n.parse().map_err(|_| bad())?;
        if n > 10_000 {
            return Err(bad());
        }
        match unit.trim() {
            "month" | "months" | "mo" => Ok(Notice::Months(n)),
            "day" | "days" | "d" => Ok(Notice::Days(n)),
            "week" | "weeks" | "w" => Ok(Notice::Days(n * 7)),
            _ => Err(bad()),
        }
    }

    /// For storage and display: "1 month", "30 days".
    pub fn text(self) -> String {
        match self {
            Notice::Months(1) => "1 month".into(),
            Notice::Months(n) => format!("{n} months"),
            Notice::Days(1) => "1 day".into(),
            Notice::Days(n) => format!("{n} days"),
        }
    }
}

/// Notice date = end − notice, on the calendar (a month back from the 31st
/// lands on the month's last day: 2025-12-31 − 1 month = 2025-11-30).
pub fn notice_date(end: NaiveDate, notice: Notice) -> Option<NaiveDate> {
    match notice {
        Notice::Months(n) => end.checked_sub_months(Months::new(n)),
        Notice::Days(n) => end.checked_sub_signed(TimeDelta::days(i64::from(n))),
    }
}

/// The next term of a renewed contract: same length, starting the day after.
pub fn next_term(start: NaiveDate, end: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let next_start = end.succ_opt()?;
    let days = (end - start).num_days();
    // Whole months when the term was whole months (a year stays a year).
    let months = (end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32 + 1;
    let by_months = start
        .checked_add_months(Months::new(u32::try_from(months).ok()?))
        .and_then(|d| d.pred_opt());
    if months > 0 && by_months == Some(end) {
        let next_end = next_start
            .checked_add_months(Months::new(u32::try_from(months).ok()?))?
            .pred_opt()?;
        return Some((next_start, next_end));
    }
    Some((
        next_start,
        next_start.checked_add_signed(TimeDelta::days(days))?,
    ))
}

/// Cents for people: "$1,234.50" (the budget's one formatter).
pub use crate::budget::model::format_cents as money;

/// Months of a term, counting a partial month as one (for the value).
pub fn term_months(start: NaiveDate, end: NaiveDate) -> i64 {
    let m = i64::from(end.year() - start.year()) * 12 + i64::from(end.month())
        - i64::from(start.month());
    (m + 1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;
    use State::*;

    /// The seed's diagram, edge for edge.
    const EDGES: &[(State, State)] = &[
        (Prospect, Invited),
        (Refused, Invited),
        (Withdrawn, Invited),
        (Ended, Invited),
        (Invited, Proposed),
        (Proposed, Negotiating),
        (Negotiating, Proposed),
        (Negotiating, Contracted),
        (Invited, Refused),
        (Proposed, Refused),
        (Negotiating, Refused),
        (Invited, Withdrawn),
        (Proposed, Withdrawn),
        (Negotiating, Withdrawn),
        (Contracted, Active),
        (Active, Improvement),
        (Renewed, Improvement),
        (Improvement, Active),
        (Improvement, Ended),
        (Active, Renewed),
        (Contracted, Ended),
        (Active, Ended),
        (Renewed, Ended),
    ];

    fn every_command() -> Vec<Command> {
        let all = vec![
            Invite,
            Propose,
            Award,
            AwardApproved,
            AwardRejected,
            Lose,
            Withdraw,
            Start,
            PoorScore,
            PlanMet,
            PlanExtended,
            PlanEnded,
            Renew,
            End,
        ];
        for c in &all {
            match c {
                Invite | Propose | Award | AwardApproved | AwardRejected | Lose | Withdraw
                | Start | PoorScore | PlanMet | PlanExtended | PlanEnded | Renew | End => {}
            }
        }
        all
    }

    #[test]
    fn nothing_leaves_the_seeds_diagram_and_all_of_it_is_reachable() {
        let mut reached = Vec::new();
        for from in State::ALL {
            for cmd in every_command() {
                match decide(from, cmd) {
                    Ok(to) if to == from => {}
                    Ok(to) => {
                        assert!(
                            EDGES.contains(&(from, to)),
                            "{from:?} --{cmd:?}--> {to:?} is not in the diagram"
                        );
                        reached.push((from, to));
                    }
                    Err(Refusal(why)) => {
                        assert!(!why.is_empty(), "{from:?} --{cmd:?}--> refused silently")
                    }
                }
            }
        }
        for edge in EDGES {
            assert!(reached.contains(edge), "no command takes {edge:?}");
        }
        // Only a new RFP brings an ended vendor back.
        for cmd in every_command() {
            let r = decide(Ended, cmd);
            assert!(cmd == Invite || r.is_err(), "Ended --{cmd:?}--> {r:?}");
        }
    }

    #[test]
    fn the_seed_path_is_allowed() {
        let path = [
            (Prospect, Invite, Invited),
            (Invited, Propose, Proposed),
            (Proposed, Award, Negotiating),
            (Negotiating, AwardApproved, Contracted),
            (Contracted, Start, Active),
            (Active, PoorScore, Improvement),
            (Improvement, PlanMet, Active),
            (Active, Renew, Renewed),
            (Renewed, PoorScore, Improvement),
            (Improvement, PlanEnded, Ended),
        ];
        for (from, cmd, to) in path {
            assert_eq!(decide(from, cmd), Ok(to), "{from:?} --{cmd:?}-->");
        }
    }

    #[test]
    fn refusals_read_well() {
        for (from, cmd) in [
            (Prospect, Propose),
            (Prospect, Award),
            (Prospect, End),
            (Active, Withdraw),
            (Contracted, Renew),
            (Active, PlanMet),
            (Ended, End),
            (Invited, Invite),
        ] {
            let r = decide(from, cmd);
            assert!(
                matches!(&r, Err(Refusal(m)) if m.len() > 10),
                "{from:?} --{cmd:?}--> {r:?}"
            );
        }
    }

    #[test]
    fn worked_case_weights_totalling_95_are_refused() {
        let w = vec![
            ("price".to_string(), 40),
            ("quality".into(), 30),
            ("lead_time".into(), 25),
        ];
        let e = rfp_criteria(&w, &[]).err().map(|r| r.0).unwrap_or_default();
        assert!(e.contains("total 100") && e.contains("95"), "{e}");
        let ok = vec![
            ("price".to_string(), 40),
            ("quality".into(), 30),
            ("lead_time".into(), 30),
        ];
        let c = rfp_criteria(&ok, &["insured".into(), "quality".into()]).unwrap_or_default();
        assert_eq!(c.len(), 4);
        assert!(
            c.iter()
                .any(|c| c.name == "insured" && c.weight == 0 && c.deal_breaker)
        );
        assert!(c.iter().any(|c| c.name == "quality" && c.deal_breaker));
        assert!(check_weights([("a", 50), ("b", 50)]).is_ok());
        assert!(parse_weighted("price:abc").is_err());
        assert_eq!(parse_weighted("Price:40"), Ok(("price".into(), 40)));
    }

    fn result(
        name: &str,
        weight: u32,
        scores: &[Option<f64>],
        deal_breaker: bool,
    ) -> CriterionResult {
        CriterionResult {
            name: name.into(),
            weight,
            deal_breaker,
            scores: BTreeMap::new(),
            consensus: consensus(scores),
            overridden: false,
        }
    }

    #[test]
    fn blank_is_not_zero_and_consensus_is_the_mean_of_given_scores() {
        assert_eq!(consensus(&[Some(8.0), None, Some(6.0)]), Some(7.0));
        assert_eq!(consensus(&[None, None]), None);
        assert_eq!(consensus(&[Some(0.0)]), Some(0.0));
        let rs = vec![
            result("price", 60, &[Some(8.0), None], false),
            result("quality", 40, &[Some(9.0), Some(7.0)], false),
        ];
        // 8 × 6 + 8 × 4 = 80.
        assert_eq!(weighted_total(&rs), Some(80.0));
        let incomplete = vec![
            result("price", 60, &[None, None], false),
            result("quality", 40, &[Some(9.0)], false),
        ];
        assert_eq!(weighted_total(&incomplete), None);
        let db = vec![result("insured", 0, &[Some(2.0), Some(4.0)], true)];
        assert_eq!(failed_deal_breakers(&db, 5.0), vec!["insured".to_string()]);
        let unscored = vec![result("insured", 0, &[None], true)];
        assert!(failed_deal_breakers(&unscored, 5.0).is_empty());
        assert!(check_rfp_score("price", 10.5).is_err());
        assert!(check_rfp_score("price", 0.0).is_ok());
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    fn receipt(
        po: &str,
        promised: NaiveDate,
        delivered: NaiveDate,
        ordered: i64,
        received: i64,
    ) -> Receipt {
        Receipt {
            po: po.into(),
            promised,
            delivered,
            ordered,
            received,
            defective: 0,
            amount_cents: None,
        }
    }

    #[test]
    fn worked_case_twenty_orders_nineteen_on_time_one_at_55_percent() {
        let mut rs = Vec::new();
        for i in 0..20 {
            let late = i == 19;
            let received = if i == 0 { 55 } else { 100 };
            rs.push(receipt(
                &format!("PO-{i}"),
                d(2026, 3, 10),
                if late { d(2026, 3, 12) } else { d(2026, 3, 9) },
                100,
                received,
            ));
        }
        let s = delivery_stats(&rs, 0.95);
        assert_eq!(s.orders, 20);
        assert_eq!(s.on_time_rate, Some(0.9), "the 55% one gets no credit");
        assert_eq!(s.otif_rate, Some(0.9));
        assert_eq!(s.in_full_rate, Some(0.95));
    }

    #[test]
    fn worked_case_no_deliveries_means_no_figures() {
        let s = delivery_stats(&[], 0.95);
        assert_eq!(s.orders, 0);
        assert_eq!(s.on_time_rate, None);
        assert_eq!(s.otif_rate, None);
        assert_eq!(s.in_full_rate, None);
        assert_eq!(s.ppm, None);
        let criteria = vec![
            CriterionScore {
                name: "quality".into(),
                weight: 40,
                score: None,
            },
            CriterionScore {
                name: "delivery".into(),
                weight: 60,
                score: None,
            },
        ];
        assert_eq!(period_score(&criteria), None);
    }

    #[test]
    fn worked_case_150_defective_of_150000_is_1000_ppm() {
        let mut r = receipt("PO-1", d(2026, 3, 10), d(2026, 3, 10), 150_000, 150_000);
        r.defective = 150;
        let s = delivery_stats(&[r], 0.95);
        assert_eq!(s.ppm.map(|p| p.round()), Some(1000.0));
        assert_eq!(s.defect_rate, Some(0.001));
    }

    #[test]
    fn split_deliveries_are_one_order_and_the_original_promise_counts() {
        let rs = vec![
            receipt("PO-7", d(2026, 3, 10), d(2026, 3, 9), 100, 60),
            // Rescheduled to the 20th: the statistics keep the 10th.
            receipt("PO-7", d(2026, 3, 20), d(2026, 3, 15), 100, 40),
        ];
        let s = delivery_stats(&rs, 0.95);
        assert_eq!(s.orders, 1);
        assert_eq!(s.in_full_rate, Some(1.0));
        assert_eq!(s.on_time_rate, Some(0.0));
        assert_eq!(s.otif_rate, Some(0.0));
        // Overages are ignored for in-full.
        let over = vec![receipt("PO-8", d(2026, 3, 10), d(2026, 3, 10), 100, 120)];
        assert_eq!(delivery_stats(&over, 0.95).otif_rate, Some(1.0));
    }

    #[test]
    fn worked_case_period_score_40_30_30_of_90_98_95_is_93_9() {
        let criteria = vec![
            CriterionScore {
                name: "quality".into(),
                weight: 40,
                score: Some(90.0),
            },
            CriterionScore {
                name: "delivery".into(),
                weight: 30,
                score: Some(98.0),
            },
            CriterionScore {
                name: "cost".into(),
                weight: 30,
                score: Some(95.0),
            },
        ];
        assert_eq!(period_score(&criteria), Some(93.9));
        // A criterion without data is left out, not counted as zero.
        let partial = vec![
            CriterionScore {
                name: "quality".into(),
                weight: 50,
                score: Some(80.0),
            },
            CriterionScore {
                name: "responsiveness".into(),
                weight: 50,
                score: None,
            },
        ];
        assert_eq!(period_score(&partial), Some(80.0));
    }

    #[test]
    fn kpi_scores_clamp_between_floor_and_target() {
        // On-time: target 95%, floor 70%.
        assert_eq!(kpi_score(0.95, 0.95, 0.70), 100.0);
        assert_eq!(kpi_score(0.99, 0.95, 0.70), 100.0);
        assert_eq!(kpi_score(0.60, 0.95, 0.70), 0.0);
        assert!((kpi_score(0.825, 0.95, 0.70) - 50.0).abs() < 1e-9);
        // Defects: target ≤ 10,000 PPM, floor 50,000 (lower is better).
        assert_eq!(kpi_score(1_000.0, 10_000.0, 50_000.0), 100.0);
        assert!((kpi_score(30_000.0, 10_000.0, 50_000.0) - 50.0).abs() < 1e-9);
        assert_eq!(kpi_score(60_000.0, 10_000.0, 50_000.0), 0.0);
    }

    #[test]
    fn the_overall_score_weights_recent_periods_more() {
        let at = Period {
            year: 2026,
            month: 12,
        };
        assert_eq!(decay_weight(0, 12), 1.0);
        assert_eq!(decay_weight(6, 12), 0.5);
        assert_eq!(decay_weight(12, 12), 0.0);
        assert_eq!(decay_weight(20, 12), 0.0);
        let periods = vec![
            (
                Period {
                    year: 2026,
                    month: 12,
                },
                90.0,
            ),
            (
                Period {
                    year: 2026,
                    month: 6,
                },
                60.0,
            ),
        ];
        // (1 × 90 + 0.5 × 60) / 1.5 = 80.
        assert_eq!(overall_score(&periods, at, 12), Some(80.0));
        assert_eq!(overall_score(&[], at, 12), None);
    }

    #[test]
    fn standings_pick_the_highest_minimum_reached() {
        let rules = vec![
            StandingRule {
                name: "very_poor".into(),
                min: 0.0,
                action: "refuse_po".into(),
            },
            StandingRule {
                name: "poor".into(),
                min: 30.0,
                action: "warn".into(),
            },
            StandingRule {
                name: "fair".into(),
                min: 50.0,
                action: "none".into(),
            },
            StandingRule {
                name: "good".into(),
                min: 85.0,
                action: "none".into(),
            },
        ];
        assert_eq!(
            standing(29.9, &rules).map(|r| r.name.as_str()),
            Some("very_poor")
        );
        assert_eq!(
            standing(49.0, &rules).map(|r| r.name.as_str()),
            Some("poor")
        );
        assert_eq!(
            standing(80.0, &rules).map(|r| r.name.as_str()),
            Some("fair")
        );
        assert_eq!(
            standing(85.0, &rules).map(|r| r.name.as_str()),
            Some("good")
        );
    }

    #[test]
    fn worked_case_notice_date_of_a_contract_ending_2025_12_31() {
        let notice = Notice::parse("1 month").unwrap_or(Notice::Days(0));
        assert_eq!(notice, Notice::Months(1));
        assert_eq!(notice_date(d(2025, 12, 31), notice), Some(d(2025, 11, 30)));
        assert_eq!(
            notice_date(d(2025, 12, 31), Notice::Days(30)),
            Some(d(2025, 12, 1))
        );
        assert_eq!(Notice::parse("2 weeks"), Ok(Notice::Days(14)));
        assert!(Notice::parse("soon").is_err());
        assert!(Notice::parse("").is_err());
    }

    #[test]
    fn renewals_keep_the_term() {
        assert_eq!(
            next_term(d(2025, 1, 1), d(2025, 12, 31)),
            Some((d(2026, 1, 1), d(2026, 12, 31)))
        );
        assert_eq!(
            next_term(d(2025, 1, 10), d(2025, 1, 19)),
            Some((d(2025, 1, 20), d(2025, 1, 29)))
        );
        assert_eq!(
            next_term(d(2026, 11, 1), d(2027, 2, 28)),
            Some((d(2027, 3, 1), d(2027, 6, 30)))
        );
        assert_eq!(term_months(d(2025, 1, 1), d(2025, 12, 31)), 12);
    }

    /// The issue's benchmark, in memory: 100 vendors × 24 months × 500
    /// deliveries a month, every scorecard recomputed. Figures printed,
    /// nothing asserted: `cargo test -p vivid-core --release --lib
    /// vendor_scorecard_benchmark -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn vendor_scorecard_benchmark() {
        let mut receipts: Vec<Vec<Vec<Receipt>>> = Vec::new();
        let mut seed: u64 = 7;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _ in 0..100 {
            let mut months = Vec::new();
            for m in 0..24u32 {
                let (y, mo) = (2025 + (m / 12) as i32, m % 12 + 1);
                let mut list = Vec::with_capacity(500);
                for i in 0..500u64 {
                    let day = 1 + (next() % 27) as u32;
                    let promised = d(y, mo, day);
                    let late = next() % 10 == 0;
                    list.push(Receipt {
                        po: format!("PO-{m}-{i}"),
                        promised,
                        delivered: if late { d(y, mo, day + 1) } else { promised },
                        ordered: 100,
                        received: 90 + (next() % 11) as i64,
                        defective: (next() % 3) as i64,
                        amount_cents: Some(10_000),
                    });
                }
                months.push(list);
            }
            receipts.push(months);
        }
        let started = std::time::Instant::now();
        let mut scored = 0;
        for vendor in &receipts {
            let mut history = Vec::new();
            for (m, list) in vendor.iter().enumerate() {
                let s = delivery_stats(list, 0.95);
                let criteria = vec![
                    CriterionScore {
                        name: "quality".into(),
                        weight: 30,
                        score: s.ppm.map(|p| kpi_score(p, 10_000.0, 50_000.0)),
                    },
                    CriterionScore {
                        name: "delivery".into(),
                        weight: 40,
                        score: s.on_time_rate.map(|r| kpi_score(r, 0.95, 0.70)),
                    },
                    CriterionScore {
                        name: "cost".into(),
                        weight: 20,
                        score: Some(100.0),
                    },
                    CriterionScore {
                        name: "responsiveness".into(),
                        weight: 10,
                        score: None,
                    },
                ];
                let p = Period {
                    year: 2025 + (m / 12) as i32,
                    month: (m % 12) as u32 + 1,
                };
                if let Some(score) = period_score(&criteria) {
                    history.push((p, score));
                }
                let _ = overall_score(&history, p, 12);
                scored += 1;
            }
        }
        println!(
            "vendor scorecards: {scored} recomputed from {} deliveries in {:?}",
            100 * 24 * 500,
            started.elapsed()
        );
    }

    #[test]
    fn money_prints_like_the_budget_and_periods_parse() {
        assert_eq!(money(123_456_789), "$1,234,567.89");
        assert_eq!(
            "2026-03".parse::<Period>().map(|p| p.to_string()),
            Ok("2026-03".into())
        );
        assert!("2026-13".parse::<Period>().is_err());
    }
}
