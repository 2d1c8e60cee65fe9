//! Error types shared by every statistics function.

use std::fmt;

use thiserror::Error;

/// Which side of a two-sample comparison a message refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// The baseline (first) variation.
    Control,
    /// The variation compared against the control.
    Treatment,
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arm::Control => f.write_str("control"),
            Arm::Treatment => f.write_str("treatment"),
        }
    }
}

/// Why a comparison could not be computed from the data collected so far.
///
/// These are not bugs in the input: they are states every experiment passes
/// through (for example right after launch), so callers should show the
/// sentence to the analyst rather than fail.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NotEnoughData {
    /// An arm has no units at all.
    #[error("the {arm} arm has no units yet")]
    EmptyArm {
        /// The arm without units.
        arm: Arm,
    },
    /// An arm has a single unit, so its variance cannot be estimated.
    #[error("the {arm} arm has only {n} unit; at least 2 are needed to estimate its variance")]
    TooFewUnits {
        /// The arm with too few units.
        arm: Arm,
        /// Its unit count.
        n: u64,
    },
    /// Every unit of an arm has the same value (for example 0 conversions).
    #[error(
        "the {arm} arm has zero variance (every unit has the same value), so its uncertainty cannot be estimated"
    )]
    ZeroVariance {
        /// The arm whose values are all identical.
        arm: Arm,
    },
    /// The control mean is 0, so a relative lift (or a relative prior) is undefined.
    #[error("the control mean is 0, so a relative lift is undefined; use an absolute difference")]
    ZeroControlMean,
    /// The variance of the estimated effect is zero or not finite.
    #[error("the variance of the estimated difference is zero or not finite")]
    DegenerateVariance,
    /// The arithmetic overflowed or underflowed for these inputs.
    #[error("the {0} could not be computed as a finite number for these inputs")]
    NonFinite(&'static str),
}

/// Every error the statistics module can return.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// An input violates a documented precondition; `field` names it
    /// (for example `variations[1].sum` or `alpha`).
    #[error("invalid input `{field}`: {reason}")]
    InvalidInput {
        /// Path of the offending field.
        field: String,
        /// Human-readable explanation.
        reason: String,
    },
    /// The JSON document could not be parsed (syntax, unknown field, wrong type).
    #[error("could not parse analysis input: {0}")]
    Parse(String),
    /// The data are valid but do not (yet) support the requested comparison.
    #[error("not enough data: {0}")]
    NotEnoughData(#[from] NotEnoughData),
}

impl StatsError {
    /// Builds an [`StatsError::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StatsError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Returns `NonFinite(what)` unless every value is finite.
pub(crate) fn ensure_finite(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(NotEnoughData::NonFinite(what).into())
    }
}

/// Validates a significance level: it must lie strictly between 0 and 1.
pub(crate) fn check_alpha(alpha: f64) -> Result<(), StatsError> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(StatsError::invalid(
            "alpha",
            format!("must be strictly between 0 and 1 (got {alpha})"),
        ))
    }
}
