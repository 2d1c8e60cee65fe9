//! A/B-test statistics, numerically compatible with GrowthBook's `gbstats`.
//!
//! Every function is pure: inputs are per-variation sufficient statistics
//! ([`ArmStats`]: `n`, `sum`, `sum_squares`), outputs are plain values. No
//! function panics, and none returns NaN or infinity: data that cannot support
//! a comparison yields [`StatsError::NotEnoughData`] with a human sentence.
//!
//! * [`welch`] – fixed-horizon Welch t-test (relative or absolute effect);
//! * [`sequential`] – always-valid confidence sequence and p-value;
//! * [`bayesian()`] – normal-approximation posterior, chance to win and risk;
//! * [`srm_p_value`] – sample-ratio-mismatch chi-square test;
//! * [`holm_bonferroni`], [`benjamini_hochberg`] – multiple-testing adjustment;
//! * [`sample_size`], [`mde`], [`power()`] – experiment design;
//! * [`analyze`] / [`analyze_json`] – the serde API behind
//!   `vivid experiment analyze --json`.
//!
//! Variance conventions (as gbstats, and required by its test vectors): a
//! binomial arm has per-unit variance `p (1 - p)`; a mean arm has
//! `(sum_squares - sum^2 / n) / (n - 1)`.

mod analysis;
mod arm;
mod bayesian;
mod cuped;
mod dist;
mod error;
mod frequentist;
mod multiple_testing;
mod power;
mod srm;

pub use analysis::{
    AnalysisInput, AnalysisOutput, Engine, VariationInput, VariationResult, VariationStatus,
    analyze, analyze_json,
};
pub use arm::{ArmStats, Difference, MetricKind};
pub use bayesian::{BayesianResult, GaussianPrior, bayesian, expected_loss};
pub use cuped::{CupedArm, theta as cuped_theta};
pub use error::{Arm, NotEnoughData, StatsError};
pub use frequentist::{
    DEFAULT_SEQUENTIAL_TUNING, FrequentistResult, sequential, sequential_rho, welch,
};
pub use multiple_testing::{benjamini_hochberg, holm_bonferroni};
pub use power::{
    Baseline, PowerDesign, SampleSizePlan, SequentialPlan, WeightedPlan, check_weights, mde, power,
    required_n, sample_size, weighted_plan,
};
pub use srm::{SRM_THRESHOLD, srm_p_value};
