//! Budget management, pure: money in integer cents, periods in the org's
//! time zone, the default split, pacing and forecast, alerts as OK/ALARM
//! state transitions, the carry-over policy at close, ROI proposals,
//! reallocation bounds, and the approval layers by amount.
//!
//! Two axes: a **period** is Open, then Closed (locked by the Finance
//! director, see [`decide_period`]); a **spend review** is Open, then decided
//! (overspend approved, strategy adjusted, funds reallocated, denied) or
//! escalated (see [`decide_review`]). Everything else here is arithmetic on
//! a line's figures, checked (`i128` inside, `None`/refusal on overflow).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

// ---------------------------------------------------------------------------
// Money

/// Parse an amount a person typed in dollars ("30000", "1250.50", "$1,250.5",
/// "1250.50 USD") into cents. Refused: empty, negative, more than two
/// decimals, another currency than `currency`, more than `max_cents`.
pub fn parse_amount(text: &str, currency: &str, max_cents: i64) -> Result<i64, Refusal> {
    let mut s = text.trim();
    if s.is_empty() {
        return refuse("an amount is needed (dollars, e.g. 1250.50)");
    }
    // A currency code before or after the number.
    let alpha_prefix: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let alpha_suffix: String = s
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let code = if !alpha_prefix.is_empty() {
        s = s[alpha_prefix.len()..].trim_start();
        Some(alpha_prefix)
    } else if !alpha_suffix.is_empty() {
        s = s[..s.len() - alpha_suffix.len()].trim_end();
        Some(alpha_suffix)
    } else {
        None
    };
    if let Some(code) = code
        && !code.eq_ignore_ascii_case(currency)
    {
        return refuse(format!(
            "{text:?} is in {}, but the organisation keeps its books in {currency} only",
            code.to_ascii_uppercase()
        ));
    }
    if s.starts_with('-') || s.starts_with("$-") || s.starts_with("-$") {
        return refuse(format!("{text:?} is negative: amounts are positive"));
    }
    let s = s.strip_prefix('$').unwrap_or(s).trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let whole: String = if whole.contains(',') {
        // Thousands separators must be in the right places.
        let groups: Vec<&str> = whole.split(',').collect();
        let ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups.iter().skip(1).all(|g| g.len() == 3);
        if !ok {
            return refuse(format!("{text:?} is not an amount in dollars"));
        }
        groups.concat()
    } else {
        whole.to_string()
    };
    if (whole.is_empty() && frac.is_empty())
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return refuse(format!(
            "{text:?} is not an amount in dollars (e.g. 30000 or 1250.50)"
        ));
    }
    if frac.len() > 2 {
        return refuse(format!(
            "{text:?} has more than two decimals: amounts are in whole cents"
        ));
    }
    let too_big = || {
        Refusal(format!(
            "{text:?} is over the maximum of {} for one amount",
            format_cents(max_cents)
        ))
    };
    let whole_digits = whole.trim_start_matches('0');
    if whole_digits.len() > 15 {
        return Err(too_big());
    }
    let dollars: i64 = if whole_digits.is_empty() {
        0
    } else {
        whole_digits.parse().map_err(|_| too_big())?
    };
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| too_big())? * 10,
        _ => frac.parse().map_err(|_| too_big())?,
    };
    let total = dollars
        .checked_mul(100)
        .and_then(|d| d.checked_add(cents))
        .ok_or_else(too_big)?;
    if total > max_cents {
        return Err(too_big());
    }
    Ok(total)
}

/// "$1,250.50"; negative amounts as "-$10.00".
pub fn format_cents(cents: i64) -> String {
    let neg = cents < 0;
    let abs = cents.unsigned_abs();
    let dollars = abs / 100;
    let rest = abs % 100;
    let digits = dollars.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{rest:02}", if neg { "-" } else { "" })
}

/// `a * num / den`, rounded half away from zero; `None` when `den` is zero
/// or the result does not fit.
pub fn mul_div(a: i64, num: i64, den: i64) -> Option<i64> {
    if den == 0 {
        return None;
    }
    let p = i128::from(a) * i128::from(num);
    let d = i128::from(den);
    let q = p / d;
    let r = p % d;
    let q = if (r.abs() * 2) >= d.abs() {
        if (p < 0) ^ (d < 0) { q - 1 } else { q + 1 }
    } else {
        q
    };
    i64::try_from(q).ok()
}

// ---------------------------------------------------------------------------
// Periods

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub fn months(self) -> u32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        }
    }
}

/// One budget period: local dates `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The period of `kind` that contains the local date `d`.
    pub fn containing(kind: PeriodKind, d: NaiveDate) -> Period {
        let month0 = match kind {
            PeriodKind::Month => d.month0(),
            PeriodKind::Quarter => d.month0() / 3 * 3,
            PeriodKind::Year => 0,
        };
        let start = NaiveDate::from_ymd_opt(d.year(), month0 + 1, 1).unwrap_or(d);
        let end = start
            .checked_add_months(chrono::Months::new(kind.months()))
            .unwrap_or(NaiveDate::MAX);
        Period { kind, start, end }
    }

    /// "2026-11", "2026-Q4", "2026".
    pub fn key(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}-{:02}", self.start.year(), self.start.month()),
            PeriodKind::Quarter => {
                format!("{}-Q{}", self.start.year(), self.start.month0() / 3 + 1)
            }
            PeriodKind::Year => format!("{}", self.start.year()),
        }
    }

    /// Parse a key of this kind ("2026-11" for months).
    pub fn parse(kind: PeriodKind, text: &str) -> Result<Period, Refusal> {
        let t = text.trim();
        let bad = || {
            Refusal(format!(
                "{text:?} is not a {} period ({})",
                match kind {
                    PeriodKind::Month => "month",
                    PeriodKind::Quarter => "quarter",
                    PeriodKind::Year => "year",
                },
                match kind {
                    PeriodKind::Month => "YYYY-MM, e.g. 2026-11",
                    PeriodKind::Quarter => "YYYY-Qn, e.g. 2026-Q4",
                    PeriodKind::Year => "YYYY, e.g. 2026",
                }
            ))
        };
        let year_of = |y: &str| -> Result<i32, Refusal> {
            if y.len() != 4 {
                return Err(bad());
            }
            y.parse::<i32>()
                .ok()
                .filter(|y| (1970..=9999).contains(y))
                .ok_or_else(bad)
        };
        let first = match kind {
            PeriodKind::Month => {
                let (y, m) = t.split_once('-').ok_or_else(bad)?;
                let m: u32 = m.parse().map_err(|_| bad())?;
                NaiveDate::from_ymd_opt(year_of(y)?, m, 1).ok_or_else(bad)?
            }
            PeriodKind::Quarter => {
                let (y, q) = t.split_once("-Q").ok_or_else(bad)?;
                let q: u32 = q.parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                NaiveDate::from_ymd_opt(year_of(y)?, (q - 1) * 3 + 1, 1).ok_or_else(bad)?
            }
            PeriodKind::Year => NaiveDate::from_ymd_opt(year_of(t)?, 1, 1).ok_or_else(bad)?,
        };
        Ok(Period::containing(kind, first))
    }

    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end)
    }

    pub fn total_days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// Days elapsed on the local date `today`, counting today: day 12 of a
    /// 30-day month is 12 elapsed days; 0 before the period, all after it.
    pub fn elapsed_days(&self, today: NaiveDate) -> i64 {
        if today < self.start {
            0
        } else if today >= self.end {
            self.total_days()
        } else {
            (today - self.start).num_days() + 1
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A period is open, then closed (locked) by the Finance director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodState {
    Open,
    Closed,
}

impl PeriodState {
    pub const ALL: [PeriodState; 2] = [PeriodState::Open, PeriodState::Closed];
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodState::Open => "open",
            PeriodState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodCommand {
    /// Set or change a line, record spend or commitments, reallocate.
    Change,
    Close,
}

/// Whether a period accepts `command`.
pub fn decide_period(
    state: PeriodState,
    command: PeriodCommand,
    key: &str,
) -> Result<PeriodState, Refusal> {
    match (state, command) {
        (PeriodState::Open, PeriodCommand::Change) => Ok(PeriodState::Open),
        (PeriodState::Open, PeriodCommand::Close) => Ok(PeriodState::Closed),
        (PeriodState::Closed, PeriodCommand::Change) => refuse(format!(
            "period {key} is closed (locked by Finance): changes go into an open period"
        )),
        (PeriodState::Closed, PeriodCommand::Close) => {
            refuse(format!("period {key} is already closed"))
        }
    }
}

// ---------------------------------------------------------------------------
// Lines

/// Carry-over at close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollover {
    /// Next period starts from its plan.
    None,
    /// next = planned + max(0, left).
    Positive,
    /// next = planned + left, clamped at zero (the uncovered overspend is reported).
    Both,
}

impl Rollover {
    pub const ALL: [Rollover; 3] = [Rollover::None, Rollover::Positive, Rollover::Both];
    pub fn as_str(self) -> &'static str {
        match self {
            Rollover::None => "none",
            Rollover::Positive => "positive",
            Rollover::Both => "both",
        }
    }
}

impl FromStr for Rollover {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Rollover::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown rollover {s:?} (none, positive, both)"))
    }
}

/// The next period's amount under a carry-over policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CarryOver {
    pub next_cents: i64,
    /// Overspend the next period could not absorb (policy `both` only).
    pub uncovered_cents: i64,
}

/// `planned` for the next period after a line of `budget` with `spent`.
pub fn carry_over(policy: Rollover, planned: i64, budget: i64, spent: i64) -> Option<CarryOver> {
    let left = budget.checked_sub(spent)?;
    Some(match policy {
        Rollover::None => CarryOver {
            next_cents: planned,
            uncovered_cents: 0,
        },
        Rollover::Positive => CarryOver {
            next_cents: planned.checked_add(left.max(0))?,
            uncovered_cents: 0,
        },
        Rollover::Both => {
            let raw = planned.checked_add(left)?;
            CarryOver {
                next_cents: raw.max(0),
                uncovered_cents: (-raw).max(0),
            }
        }
    })
}

/// Split `amount` across weighted channels by largest remainder in cents,
/// ties to the first listed: the parts always add up to the whole.
pub fn split(amount: i64, weights: &[(String, u32)]) -> Result<Vec<(String, i64)>, Refusal> {
    if amount < 0 {
        return refuse("a split amount cannot be negative");
    }
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return refuse("the split has no weights ([budget.split])");
    }
    let amount128 = i128::from(amount);
    let total128 = i128::from(total);
    let mut parts: Vec<(String, i64, i128)> = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (channel, w) in weights {
        let exact = amount128 * i128::from(*w);
        let floor = exact / total128;
        let rem = exact % total128;
        given += floor;
        parts.push((channel.clone(), i64::try_from(floor).unwrap_or(0), rem));
    }
    let mut left = amount128 - given;
    // Order by remainder, largest first; a stable sort keeps ties in list order.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].2));
    for i in order {
        if left <= 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    Ok(parts.into_iter().map(|(c, a, _)| (c, a)).collect())
}

// ---------------------------------------------------------------------------
// Pacing, forecast and alerts

/// A line's pacing as of one instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pacing {
    pub budget_cents: i64,
    pub spent_cents: i64,
    pub committed_cents: i64,
    pub elapsed_days: i64,
    pub total_days: i64,
    /// budget × elapsed / total days.
    pub expected_to_date_cents: i64,
    /// committed + spent + (spent / elapsed) × remaining days.
    pub forecast_cents: i64,
    /// (spent + committed) / budget.
    pub utilization: f64,
    /// forecast / budget.
    pub forecast_utilization: f64,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b > 0 {
        a as f64 / b as f64
    } else if a > 0 {
        f64::INFINITY
    } else {
        0.0
    }
}

pub fn pacing(budget: i64, spent: i64, committed: i64, elapsed: i64, total: i64) -> Pacing {
    let total = total.max(1);
    let elapsed = elapsed.clamp(0, total);
    let remaining = total - elapsed;
    let expected = mul_div(budget, elapsed, total).unwrap_or(i64::MAX);
    let run = if elapsed > 0 {
        mul_div(spent, remaining, elapsed).unwrap_or(i64::MAX)
    } else {
        0
    };
    let forecast = committed
        .saturating_add(spent)
        .saturating_add(run)
        .max(spent.saturating_add(committed));
    Pacing {
        budget_cents: budget,
        spent_cents: spent,
        committed_cents: committed,
        elapsed_days: elapsed,
        total_days: total,
        expected_to_date_cents: expected,
        forecast_cents: forecast,
        utilization: ratio(spent.saturating_add(committed), budget),
        forecast_utilization: ratio(forecast, budget),
    }
}

/// Which figure an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Actual,
    Forecast,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Actual => "actual",
            Basis::Forecast => "forecast",
        }
    }
}

/// One alarm: a basis and a threshold (a share of the budget).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub basis: Basis,
    pub threshold: f64,
}

impl Alarm {
    /// "actual:0.8" as stored.
    pub fn key(&self) -> String {
        format!("{}:{}", self.basis.as_str(), self.threshold)
    }

    pub fn parse_key(s: &str) -> Option<Alarm> {
        let (b, t) = s.split_once(':')?;
        let basis = match b {
            "actual" => Basis::Actual,
            "forecast" => Basis::Forecast,
            _ => return None,
        };
        Some(Alarm {
            basis,
            threshold: t.parse().ok()?,
        })
    }
}

/// The alarms `p` is in at `thresholds` (actual on utilization, forecast on
/// forecast utilization). A threshold is in alarm when the figure is above
/// it (crossing 100% means going over the budget, not reaching it).
pub fn alarms(p: &Pacing, thresholds: &[f64]) -> Vec<Alarm> {
    let mut out = Vec::new();
    for basis in [Basis::Actual, Basis::Forecast] {
        let figure = match basis {
            Basis::Actual => p.utilization,
            Basis::Forecast => p.forecast_utilization,
        };
        for &t in thresholds {
            if p.budget_cents > 0 && figure > t + 1e-12 {
                out.push(Alarm {
                    basis,
                    threshold: t,
                });
            }
        }
    }
    out
}

/// OK/ALARM transitions from the alarms before to the alarms now: each one
/// fires once when crossed and clears (re-arms) when the figure falls back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Transitions {
    pub fired: Vec<Alarm>,
    pub cleared: Vec<Alarm>,
}

pub fn transitions(before: &[Alarm], now: &[Alarm]) -> Transitions {
    let same =
        |a: &Alarm, b: &Alarm| a.basis == b.basis && (a.threshold - b.threshold).abs() < 1e-9;
    Transitions {
        fired: now
            .iter()
            .filter(|a| !before.iter().any(|b| same(a, b)))
            .copied()
            .collect(),
        cleared: before
            .iter()
            .filter(|b| !now.iter().any(|a| same(a, b)))
            .copied()
            .collect(),
    }
}

/// A spend review opens when actual spend crosses 100% of the line.
pub fn opens_review(fired: &[Alarm]) -> bool {
    fired
        .iter()
        .any(|a| a.basis == Basis::Actual && a.threshold >= 1.0 - 1e-9)
}

// ---------------------------------------------------------------------------
// Spend reviews

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Open,
    /// The overspend was approved (the line raised).
    Approved,
    /// Strategy adjusted: campaigns paused or cut.
    Adjusted,
    /// Funds moved from another line.
    Reallocated,
    Denied,
    /// Nobody decided by the deadline: escalated to the Business Manager.
    Escalated,
}

impl ReviewState {
    pub const ALL: [ReviewState; 6] = [
        ReviewState::Open,
        ReviewState::Approved,
        ReviewState::Adjusted,
        ReviewState::Reallocated,
        ReviewState::Denied,
        ReviewState::Escalated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => "open",
            ReviewState::Approved => "approved",
            ReviewState::Adjusted => "adjusted",
            ReviewState::Reallocated => "reallocated",
            ReviewState::Denied => "denied",
            ReviewState::Escalated => "escalated",
        }
    }
    pub fn is_final(self) -> bool {
        !matches!(self, ReviewState::Open | ReviewState::Escalated)
    }
}

/// A decision on a spend review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    /// Approve the overspend: raise the line by this much.
    Approve {
        raise_cents: i64,
    },
    /// Pause or cut named campaigns.
    Adjust {
        campaigns: Vec<String>,
    },
    /// Move this much from another line.
    Reallocate {
        amount_cents: i64,
    },
    Deny,
    /// The deadline passed.
    Escalate,
}

/// The review state machine. An escalated review may still be decided (by
/// the Business Manager, whom the escalation reached).
pub fn decide_review(
    state: ReviewState,
    decision: &ReviewDecision,
    reason: &str,
) -> Result<ReviewState, Refusal> {
    if state.is_final() {
        return refuse(format!(
            "the spend review is already decided ({})",
            state.as_str()
        ));
    }
    let needs_reason = !matches!(decision, ReviewDecision::Escalate);
    if needs_reason && reason.trim().is_empty() {
        return refuse("a spend-review decision needs a reason (--reason)");
    }
    match decision {
        ReviewDecision::Escalate if state == ReviewState::Escalated => {
            refuse("the spend review is already escalated")
        }
        ReviewDecision::Escalate => Ok(ReviewState::Escalated),
        ReviewDecision::Approve { raise_cents } if *raise_cents <= 0 => {
            refuse("approving an overspend raises the line: say by how much (--raise AMOUNT)")
        }
        ReviewDecision::Approve { .. } => Ok(ReviewState::Approved),
        ReviewDecision::Adjust { campaigns } if campaigns.is_empty() => {
            refuse("adjusting strategy names the campaigns to pause or cut (--pause NAME)")
        }
        ReviewDecision::Adjust { .. } => Ok(ReviewState::Adjusted),
        ReviewDecision::Reallocate { amount_cents } if *amount_cents <= 0 => {
            refuse("a reallocation moves a positive amount")
        }
        ReviewDecision::Reallocate { .. } => Ok(ReviewState::Reallocated),
        ReviewDecision::Deny => Ok(ReviewState::Denied),
    }
}

// ---------------------------------------------------------------------------
// Spend requests and approval layers

/// Who must approve an amount: nobody (auto-approved), Finance, or Finance
/// and the Business Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layers {
    Auto,
    Finance,
    FinanceAndManager,
}

/// Layers by amount: below `auto_below` automatic (0 turns it off); above
/// `manager_above` both; otherwise Finance.
pub fn layers(amount: i64, auto_below: i64, manager_above: i64) -> Layers {
    if amount < auto_below {
        Layers::Auto
    } else if amount > manager_above {
        Layers::FinanceAndManager
    } else {
        Layers::Finance
    }
}

/// Whether `amount` more may land on a line: a hard limit refuses going over.
pub fn check_hard_limit(
    hard: bool,
    budget: i64,
    spent: i64,
    committed: i64,
    amount: i64,
    line: &str,
) -> Result<(), Refusal> {
    let after = spent
        .checked_add(committed)
        .and_then(|x| x.checked_add(amount))
        .ok_or_else(|| Refusal("the amount does not fit".into()))?;
    if hard && after > budget {
        return refuse(format!(
            "{line} has a hard limit of {}: {} spent and {} committed leave {}, less than {}",
            format_cents(budget),
            format_cents(spent),
            format_cents(committed),
            format_cents((budget - spent - committed).max(0)),
            format_cents(amount)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ROI

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoiAction {
    Increase,
    Hold,
    Decrease,
    Pause,
}

impl RoiAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RoiAction::Increase => "increase",
            RoiAction::Hold => "hold",
            RoiAction::Decrease => "decrease",
            RoiAction::Pause => "pause",
        }
    }
}

/// The origin's rule, strict inequalities on ROAS = revenue / spend (in
/// integers, so ROAS exactly 4.0 holds): > 4 increase 25%, > 3 hold, > 2
/// decrease 15%, otherwise pause. `None` below the minimum spend.
pub fn roi_action(
    spend: i64,
    revenue: i64,
    current: i64,
    min_spend: i64,
) -> Option<(RoiAction, i64)> {
    if spend <= 0 || spend < min_spend {
        return None;
    }
    let (s, r) = (i128::from(spend), i128::from(revenue));
    let action = if r > 4 * s {
        RoiAction::Increase
    } else if r > 3 * s {
        RoiAction::Hold
    } else if r > 2 * s {
        RoiAction::Decrease
    } else {
        RoiAction::Pause
    };
    let proposed = match action {
        RoiAction::Increase => mul_div(current, 125, 100)?,
        RoiAction::Hold => current,
        RoiAction::Decrease => mul_div(current, 85, 100)?,
        RoiAction::Pause => 0,
    };
    Some((action, proposed))
}

pub fn roas(spend: i64, revenue: i64) -> f64 {
    if spend > 0 {
        revenue as f64 / spend as f64
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------
// Reallocation

/// Check one move of `amount` from a line to another: positive, the source
/// keeps what it already spent and committed, and the target moves by at
/// most `max_share` of its budget. The total is unchanged by construction.
pub fn check_move(
    amount: i64,
    from_budget: i64,
    from_used: i64,
    to_budget: i64,
    max_share: f64,
) -> Result<(), Refusal> {
    if amount <= 0 {
        return refuse("a reallocation moves a positive amount");
    }
    let free = from_budget.saturating_sub(from_used).max(0);
    if amount > free {
        return refuse(format!(
            "the source line has only {} not yet spent or committed, less than {}",
            format_cents(free),
            format_cents(amount)
        ));
    }
    let bound = (to_budget as f64 * max_share).floor() as i64;
    if amount > bound {
        return refuse(format!(
            "a move is bounded by {:.0}% of the target line ({} of {}): {} is more",
            max_share * 100.0,
            format_cents(bound),
            format_cents(to_budget),
            format_cents(amount)
        ));
    }
    Ok(())
}

/// A line's figures, for proposals.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFigures {
    pub id: i64,
    pub budget_cents: i64,
    pub used_cents: i64,
    pub forecast_cents: i64,
    pub roas: Option<f64>,
}

/// A proposed move of funds, with its inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    pub from: i64,
    pub to: i64,
    pub amount_cents: i64,
    pub reason: String,
}

/// From mid-period: lines forecast to end below `under` (80%) offer their
/// forecast surplus; lines forecast over budget take it first (largest
/// overspend first), then the best ROAS; each move bounded by `max_share`
/// of the target line.
pub fn propose_moves(
    lines: &[LineFigures],
    elapsed: i64,
    total: i64,
    under: f64,
    max_share: f64,
) -> Vec<Move> {
    if total <= 0 || elapsed * 2 < total {
        return Vec::new();
    }
    let mut donors: Vec<(usize, i64)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.budget_cents > 0 && (l.forecast_cents as f64) < under * l.budget_cents as f64
        })
        .map(|(i, l)| {
            let surplus = l
                .budget_cents
                .saturating_sub(l.forecast_cents.max(l.used_cents));
            (i, surplus)
        })
        .filter(|(_, s)| *s > 0)
        .collect();
    let mut takers: Vec<(usize, i64)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.budget_cents > 0 && l.forecast_cents > l.budget_cents)
        .map(|(i, l)| (i, l.forecast_cents - l.budget_cents))
        .collect();
    takers.sort_by_key(|t| std::cmp::Reverse(t.1));
    let mut by_roas: Vec<(usize, i64)> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            l.roas.is_some_and(|r| r > 0.0)
                && l.budget_cents > 0
                && !donors.iter().any(|(d, _)| d == i)
                && !takers.iter().any(|(t, _)| t == i)
        })
        .map(|(i, _)| (i, i64::MAX))
        .collect();
    by_roas.sort_by(|a, b| {
        let ra = lines[a.0].roas.unwrap_or(0.0);
        let rb = lines[b.0].roas.unwrap_or(0.0);
        rb.partial_cmp(&ra).unwrap_or(std::cmp::Ordering::Equal)
    });
    takers.extend(by_roas);
    let mut moves = Vec::new();
    for (ti, need) in takers {
        let target = &lines[ti];
        let mut room = ((target.budget_cents as f64 * max_share).floor() as i64).min(need);
        for (di, surplus) in donors.iter_mut() {
            if room <= 0 {
                break;
            }
            if *surplus <= 0 || *di == ti {
                continue;
            }
            let amount = (*surplus).min(room);
            *surplus -= amount;
            room -= amount;
            let donor = &lines[*di];
            let reason = if target.forecast_cents > target.budget_cents {
                format!(
                    "line #{} is forecast to end at {} of {} ({}); line #{} is forecast at {} of {}",
                    target.id,
                    format_cents(target.forecast_cents),
                    format_cents(target.budget_cents),
                    "over budget",
                    donor.id,
                    format_cents(donor.forecast_cents),
                    format_cents(donor.budget_cents)
                )
            } else {
                format!(
                    "line #{} has ROAS {:.2}; line #{} is forecast at {} of {}",
                    target.id,
                    target.roas.unwrap_or(0.0),
                    donor.id,
                    format_cents(donor.forecast_cents),
                    format_cents(donor.budget_cents)
                )
            };
            moves.push(Move {
                from: donor.id,
                to: target.id,
                amount_cents: amount,
                reason,
            });
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: i64 = 10_000_000_000;

    fn refused<T: std::fmt::Debug>(r: Result<T, Refusal>) -> String {
        match r {
            Err(e) => e.0,
            Ok(v) => panic!("expected a refusal, got {v:?}"),
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn amounts_parse_to_cents_and_refuse_what_they_must() {
        assert_eq!(parse_amount("30000", "USD", MAX), Ok(3_000_000));
        assert_eq!(parse_amount("1250.50", "USD", MAX), Ok(125_050));
        assert_eq!(parse_amount("1250.5", "USD", MAX), Ok(125_050));
        assert_eq!(parse_amount("$1,250.50", "USD", MAX), Ok(125_050));
        assert_eq!(parse_amount("1000.01 usd", "USD", MAX), Ok(100_001));
        assert_eq!(parse_amount("0.07", "USD", MAX), Ok(7));
        for bad in ["", "abc", "1.", "1,25", "1.2.3", "--5", "12 34"] {
            assert!(parse_amount(bad, "USD", MAX).is_err(), "{bad}");
        }
        let e = refused(parse_amount("1.005", "USD", MAX));
        assert!(e.contains("two decimals"), "{e}");
        let e = refused(parse_amount("-5", "USD", MAX));
        assert!(e.contains("negative"), "{e}");
        let e = refused(parse_amount("100 EUR", "USD", MAX));
        assert!(e.contains("EUR") && e.contains("USD"), "{e}");
        let e = refused(parse_amount("1000000.01", "USD", 100_000_000));
        assert!(e.contains("maximum"), "{e}");
        assert!(parse_amount("99999999999999999999999", "USD", MAX).is_err());
    }

    #[test]
    fn cents_format_with_separators() {
        assert_eq!(format_cents(3_625_000), "$36,250.00");
        assert_eq!(format_cents(100_001), "$1,000.01");
        assert_eq!(format_cents(5), "$0.05");
        assert_eq!(format_cents(-1000), "-$10.00");
        assert_eq!(format_cents(i64::MIN), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn periods_have_keys_and_count_today_as_elapsed() {
        let p = Period::containing(PeriodKind::Month, d(2026, 11, 12));
        assert_eq!(p.key(), "2026-11");
        assert_eq!(p.total_days(), 30);
        assert_eq!(p.elapsed_days(d(2026, 11, 12)), 12);
        assert_eq!(p.elapsed_days(d(2026, 10, 31)), 0);
        assert_eq!(p.elapsed_days(d(2026, 12, 1)), 30);
        assert_eq!(p.next().key(), "2026-12");
        assert_eq!(Period::parse(PeriodKind::Month, "2026-11"), Ok(p));
        assert!(Period::parse(PeriodKind::Month, "2026-13").is_err());
        assert!(Period::parse(PeriodKind::Month, "26-11").is_err());
        let q = Period::parse(PeriodKind::Quarter, "2026-Q4").unwrap_or(p);
        assert_eq!((q.start, q.end), (d(2026, 10, 1), d(2027, 1, 1)));
        assert_eq!(
            Period::containing(PeriodKind::Year, d(2026, 5, 5)).key(),
            "2026"
        );
        assert_eq!(
            refused(decide_period(
                PeriodState::Closed,
                PeriodCommand::Change,
                "2026-10"
            )),
            "period 2026-10 is closed (locked by Finance): changes go into an open period"
        );
        assert_eq!(
            decide_period(PeriodState::Open, PeriodCommand::Close, "x"),
            Ok(PeriodState::Closed)
        );
    }

    /// The worked case: a $30,000 line in November 2026 with
    /// $14,500 spent as of Nov 12.
    #[test]
    fn worked_case_pacing_30000_line_14500_spent_on_nov_12() {
        let p = Period::containing(PeriodKind::Month, d(2026, 11, 12));
        let pace = pacing(
            3_000_000,
            1_450_000,
            0,
            p.elapsed_days(d(2026, 11, 12)),
            p.total_days(),
        );
        assert_eq!(pace.expected_to_date_cents, 1_200_000);
        assert_eq!(pace.forecast_cents, 3_625_000);
        let now = alarms(&pace, &[0.8, 0.95, 1.0]);
        let forecast: Vec<f64> = now
            .iter()
            .filter(|a| a.basis == Basis::Forecast)
            .map(|a| a.threshold)
            .collect();
        assert_eq!(forecast, vec![0.8, 0.95, 1.0]);
        assert!(!now.iter().any(|a| a.basis == Basis::Actual));
        let t = transitions(&[], &now);
        assert_eq!(t.fired.len(), 3);
        assert!(!opens_review(&t.fired));
        // Never repeats while in alarm.
        assert!(transitions(&now, &now).fired.is_empty());
    }

    #[test]
    fn alarms_fire_once_and_rearm_when_the_figure_falls_back() {
        let th = [0.8, 0.95, 1.0];
        let a = alarms(&pacing(10_000, 8_500, 0, 30, 30), &th);
        let t = transitions(&[], &a);
        assert_eq!(t.fired.len(), 2); // actual 0.8 and forecast 0.8
        let b = alarms(&pacing(12_000, 8_500, 0, 30, 30), &th);
        let t2 = transitions(&a, &b);
        assert!(t2.fired.is_empty());
        assert_eq!(t2.cleared.len(), 2);
        // Reaching the budget exactly is not over it; one cent more is.
        let exact = alarms(&pacing(10_000, 10_000, 0, 30, 30), &th);
        assert!(!opens_review(&transitions(&b, &exact).fired));
        let c = alarms(&pacing(10_000, 10_001, 0, 30, 30), &th);
        let t3 = transitions(&b, &c);
        assert!(opens_review(&t3.fired));
        assert_eq!(
            Alarm::parse_key("actual:0.95").map(|a| a.key()),
            Some("actual:0.95".into())
        );
    }

    /// $1,000.01 split 40/30/20/10.
    #[test]
    fn worked_case_split_by_largest_remainder() {
        let w: Vec<(String, u32)> = [
            ("ads", 40),
            ("social", 30),
            ("email", 20),
            ("experiments", 10),
        ]
        .iter()
        .map(|(c, w)| (c.to_string(), *w))
        .collect();
        let parts = split(100_001, &w).unwrap_or_default();
        let amounts: Vec<i64> = parts.iter().map(|p| p.1).collect();
        assert_eq!(amounts, vec![40_001, 30_000, 20_000, 10_000]);
        // Ties go to the first listed.
        let even: Vec<(String, u32)> = vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)];
        let parts = split(100, &even).unwrap_or_default();
        assert_eq!(
            parts.iter().map(|p| p.1).collect::<Vec<_>>(),
            vec![34, 33, 33]
        );
        for amount in [0, 1, 7, 99, 100_001, 123_456_789] {
            let s: i64 = split(amount, &w)
                .unwrap_or_default()
                .iter()
                .map(|p| p.1)
                .sum();
            assert_eq!(s, amount);
        }
        assert!(split(5, &[]).is_err());
    }

    /// Planned $25 after a $100 line.
    #[test]
    fn worked_case_carry_over() {
        let c = |p, spent| carry_over(p, 2_500, 10_000, spent).map(|c| c.next_cents);
        assert_eq!(c(Rollover::Positive, 6_000), Some(6_500));
        assert_eq!(c(Rollover::Both, 6_000), Some(6_500));
        assert_eq!(c(Rollover::Positive, 11_000), Some(2_500));
        assert_eq!(c(Rollover::Both, 11_000), Some(1_500));
        assert_eq!(c(Rollover::None, 6_000), Some(2_500));
        let deep = carry_over(Rollover::Both, 2_500, 10_000, 20_000);
        assert_eq!(
            deep,
            Some(CarryOver {
                next_cents: 0,
                uncovered_cents: 7_500
            })
        );
    }

    /// Four $1,000 campaigns with $1,000 spend each.
    #[test]
    fn worked_case_roi_proposals() {
        let act = |rev| roi_action(100_000, rev, 100_000, 0);
        assert_eq!(act(420_000), Some((RoiAction::Increase, 125_000)));
        assert_eq!(act(400_000), Some((RoiAction::Hold, 100_000)));
        assert_eq!(act(250_000), Some((RoiAction::Decrease, 85_000)));
        assert_eq!(act(200_000), Some((RoiAction::Pause, 0)));
        assert_eq!(act(300_000), Some((RoiAction::Decrease, 85_000)));
        assert_eq!(roi_action(10_000, 90_000, 100_000, 50_000), None);
        assert_eq!(roas(100_000, 420_000), 4.2);
    }

    #[test]
    fn approval_layers_and_hard_limits() {
        assert_eq!(layers(49_999, 50_000, 1_000_000), Layers::Auto);
        assert_eq!(layers(50_000, 50_000, 1_000_000), Layers::Finance);
        assert_eq!(
            layers(1_000_001, 50_000, 1_000_000),
            Layers::FinanceAndManager
        );
        assert!(check_hard_limit(true, 1_000, 900, 50, 60, "x").is_err());
        assert!(check_hard_limit(true, 1_000, 900, 50, 50, "x").is_ok());
        assert!(check_hard_limit(false, 1_000, 900, 50, 60, "x").is_ok());
    }

    #[test]
    fn reviews_need_reasons_and_end_once() {
        use ReviewDecision::*;
        assert_eq!(
            decide_review(ReviewState::Open, &Approve { raise_cents: 100 }, "launch"),
            Ok(ReviewState::Approved)
        );
        assert!(decide_review(ReviewState::Open, &Approve { raise_cents: 0 }, "x").is_err());
        assert!(decide_review(ReviewState::Open, &Deny, " ").is_err());
        assert!(decide_review(ReviewState::Open, &Adjust { campaigns: vec![] }, "x").is_err());
        assert_eq!(
            decide_review(ReviewState::Open, &Escalate, ""),
            Ok(ReviewState::Escalated)
        );
        assert_eq!(
            decide_review(ReviewState::Escalated, &Deny, "no"),
            Ok(ReviewState::Denied)
        );
        for s in ReviewState::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(decide_review(s, &Deny, "no").is_err());
        }
    }

    #[test]
    fn moves_are_bounded_and_keep_the_total() {
        assert!(check_move(3_000, 10_000, 2_000, 10_000, 0.3).is_ok());
        assert!(check_move(3_001, 10_000, 2_000, 10_000, 0.3).is_err());
        assert!(check_move(9_000, 10_000, 2_000, 100_000, 0.3).is_err());
        assert!(check_move(0, 10_000, 0, 10_000, 0.3).is_err());
        let lines = vec![
            LineFigures {
                id: 1,
                budget_cents: 100_000,
                used_cents: 20_000,
                forecast_cents: 40_000,
                roas: None,
            },
            LineFigures {
                id: 2,
                budget_cents: 100_000,
                used_cents: 80_000,
                forecast_cents: 150_000,
                roas: None,
            },
        ];
        assert!(propose_moves(&lines, 10, 30, 0.8, 0.3).is_empty());
        let moves = propose_moves(&lines, 15, 30, 0.8, 0.3);
        assert_eq!(moves.len(), 1);
        assert_eq!(
            (moves[0].from, moves[0].to, moves[0].amount_cents),
            (1, 2, 30_000)
        );
    }
}
