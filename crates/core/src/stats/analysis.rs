//! Serde-friendly, whole-experiment analysis used by `vivid experiment analyze --json`.

use serde::{Deserialize, Deserializer, Serialize};

use super::arm::{ArmStats, Difference, MetricKind};
use super::bayesian::{GaussianPrior, bayesian, bayesian_moments};
use super::cuped::{CupedArm, cuped_moments};
use super::error::{StatsError, check_alpha};
use super::frequentist::{
    DEFAULT_SEQUENTIAL_TUNING, sequential, sequential_moments, welch, welch_moments,
};
use super::srm::{SRM_THRESHOLD, srm_p_value};

/// Statistical engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Welch t-test or sequential confidence sequences; reports p-values.
    #[default]
    Frequentist,
    /// Normal-approximation posterior; reports chance to win and risk.
    Bayesian,
}

fn default_tuning() -> f64 {
    DEFAULT_SEQUENTIAL_TUNING
}

fn default_alpha() -> f64 {
    0.05
}

/// Sufficient statistics of one variation as given in the JSON input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariationInput {
    /// Display name.
    pub name: String,
    /// Number of units; must be `>= 0` (signed so a negative count gets a clear error).
    pub n: i64,
    /// Sum of the metric (conversions for a binomial metric).
    pub sum: f64,
    /// Sum of squares; required for mean metrics, may be omitted for binomial (defaults to `sum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum_squares: Option<f64>,
    /// CUPED: sum of the pre-period covariate (gbstats' name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariate_sum: Option<f64>,
    /// CUPED: sum of the squared covariate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariate_sum_squares: Option<f64>,
    /// CUPED: sum over units of metric x covariate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_covariate_sum_product: Option<f64>,
}

/// Whole-experiment analysis request.
///
/// ```json
/// {"metric": "binomial", "engine": "frequentist", "difference": "relative",
///  "sequential": false, "sequential_tuning": 5000, "alpha": 0.05,
///  "weights": [0.5, 0.5], "prior": {"mean": 0, "variance": 0.09},
///  "variations": [{"name": "control", "n": 1000, "sum": 120}, ...]}
/// ```
///
/// Everything but `metric` and `variations` has a default; unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisInput {
    /// Metric kind.
    pub metric: MetricKind,
    /// Engine (default frequentist).
    #[serde(default)]
    pub engine: Engine,
    /// Relative lift or absolute difference (default relative).
    #[serde(default)]
    pub difference: Difference,
    /// Use always-valid sequential intervals (frequentist only; default false).
    #[serde(default)]
    pub sequential: bool,
    /// Sequential tuning parameter (default 5000).
    #[serde(default = "default_tuning")]
    pub sequential_tuning: f64,
    /// Significance level / credible mass `1 - alpha` (default 0.05).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Planned traffic weights, one per variation (default equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// Proper normal prior on the relative lift (Bayesian only; default flat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<GaussianPrior>,
    /// Regression adjustment with a pre-experiment covariate (CUPED, as
    /// gbstats); every variation then needs `covariate_sum`,
    /// `covariate_sum_squares` and `main_covariate_sum_product`.
    #[serde(default)]
    pub cuped: bool,
    /// Variations; the first is the control.
    pub variations: Vec<VariationInput>,
}

impl AnalysisInput {
    /// Parses a JSON document; syntax errors, unknown fields and wrong types
    /// become [`StatsError::Parse`] with serde's message (which names the field).
    pub fn from_json(json: &str) -> Result<Self, StatsError> {
        serde_json::from_str(json).map_err(|e| StatsError::Parse(e.to_string()))
    }

    /// Checks every documented precondition; errors name the offending field.
    pub fn validate(&self) -> Result<(), StatsError> {
        if self.variations.len() < 2 {
            return Err(StatsError::invalid(
                "variations",
                format!(
                    "needs at least 2 entries (a control and a treatment), got {}",
                    self.variations.len()
                ),
            ));
        }
        check_alpha(self.alpha)?;
        if !(self.sequential_tuning.is_finite() && self.sequential_tuning > 0.0) {
            return Err(StatsError::invalid(
                "sequential_tuning",
                format!("must be a positive number (got {})", self.sequential_tuning),
            ));
        }
        if self.sequential && self.engine == Engine::Bayesian {
            return Err(StatsError::invalid(
                "sequential",
                "sequential testing is only available with the frequentist engine",
            ));
        }
        if let Some(prior) = &self.prior {
            if self.engine != Engine::Bayesian {
                return Err(StatsError::invalid(
                    "prior",
                    "a prior is only used by the bayesian engine",
                ));
            }
            prior.validate("prior")?;
        }
        if let Some(weights) = &self.weights {
            if weights.len() != self.variations.len() {
                return Err(StatsError::invalid(
                    "weights",
                    format!(
                        "has {} entries but there are {} variations",
                        weights.len(),
                        self.variations.len()
                    ),
                ));
            }
            for (i, w) in weights.iter().enumerate() {
                if !(w.is_finite() && *w >= 0.0) {
                    return Err(StatsError::invalid(
                        format!("weights[{i}]"),
                        format!("must be a non-negative finite number (got {w})"),
                    ));
                }
            }
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(StatsError::invalid("weights", "must have a positive sum"));
            }
        }
        for (i, v) in self.variations.iter().enumerate() {
            self.arm_stats(i, v)?;
            if self.cuped {
                self.cuped_arm(i, v)?;
            }
        }
        Ok(())
    }

    /// The arm with its covariate (CUPED): every field present and consistent.
    fn cuped_arm(&self, index: usize, v: &VariationInput) -> Result<CupedArm, StatsError> {
        let prefix = format!("variations[{index}]");
        let need = |x: Option<f64>, name: &str| {
            x.ok_or_else(|| {
                StatsError::invalid(
                    format!("{prefix}.{name}"),
                    "is required when \"cuped\" is true (the pre-period statistics of the covariate)",
                )
            })
        };
        let cs = need(v.covariate_sum, "covariate_sum")?;
        let css = need(v.covariate_sum_squares, "covariate_sum_squares")?;
        let sp = need(v.main_covariate_sum_product, "main_covariate_sum_product")?;
        if !sp.is_finite() {
            return Err(StatsError::invalid(
                format!("{prefix}.main_covariate_sum_product"),
                "must be a finite number",
            ));
        }
        let post = self.arm_stats(index, v)?;
        let pre = ArmStats::new(post.n, cs, css);
        pre.validate(self.metric, &format!("{prefix}.covariate"))?;
        Ok(CupedArm {
            post,
            pre,
            sum_products: sp,
        })
    }

    /// Converts and validates one variation.
    fn arm_stats(&self, index: usize, v: &VariationInput) -> Result<ArmStats, StatsError> {
        let prefix = format!("variations[{index}]");
        let n = u64::try_from(v.n).map_err(|_| {
            StatsError::invalid(format!("{prefix}.n"), format!("must be >= 0 (got {})", v.n))
        })?;
        let sum_squares = match (self.metric, v.sum_squares) {
            (_, Some(ss)) => ss,
            (MetricKind::Binomial, None) => v.sum,
            (MetricKind::Mean, None) => {
                return Err(StatsError::invalid(
                    format!("{prefix}.sum_squares"),
                    "is required for a mean metric",
                ));
            }
        };
        let stats = ArmStats::new(n, v.sum, sum_squares);
        stats.validate(self.metric, &prefix)?;
        Ok(stats)
    }
}

/// Role/outcome of a variation in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariationStatus {
    /// The baseline; comparison fields are null.
    Control,
    /// Compared successfully against the control.
    Ok,
    /// Not enough data to compare yet; see `message`.
    NotEnoughData,
}

/// Deserializes a present JSON value (including `null`) as `Some(value)`, so
/// that a missing field (`None`), `null` (`Some(None)`) and a value stay distinct.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Result row of one variation.
///
/// Engine-specific fields are `Option<Option<_>>`: the outer `None` means the
/// field is not part of this engine's output and is omitted from JSON
/// (`p_value` for Bayesian, `chance_to_win`/`risk` for frequentist); `Some(None)`
/// serializes as `null` (control, not enough data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariationResult {
    /// Variation name.
    pub name: String,
    /// Units.
    pub n: u64,
    /// Sample mean (conversion rate for binomial); 0 for an empty arm.
    pub mean: f64,
    /// Relative lift or absolute difference vs control (posterior mean for Bayesian).
    pub lift: Option<f64>,
    /// Confidence (frequentist) or credible (Bayesian) interval of `lift`.
    pub ci: Option<[f64; 2]>,
    /// Two-sided p-value (frequentist only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub p_value: Option<Option<f64>>,
    /// Probability the treatment beats control (Bayesian only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub chance_to_win: Option<Option<f64>>,
    /// `[risk_control, risk_treatment]` expected losses (Bayesian only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub risk: Option<Option<[f64; 2]>>,
    /// Control / ok / not enough data.
    pub status: VariationStatus,
    /// Human-readable explanation when `status` is `not_enough_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// CUPED: the pooled regression coefficient used (0: no adjustment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta: Option<f64>,
}

/// Whole-experiment analysis result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOutput {
    /// Sample-ratio-mismatch chi-square p-value.
    pub srm_p_value: f64,
    /// `srm_p_value < 0.001`: traffic does not match the planned split.
    pub srm_flag: bool,
    /// One row per input variation, in input order; the first is the control.
    pub variations: Vec<VariationResult>,
}

/// Analyses an experiment: SRM check plus a comparison of every variation with
/// the first one (the control).
///
/// Invalid input returns [`StatsError::InvalidInput`]; a comparison the data
/// cannot support yet is reported per variation with status
/// `not_enough_data` and a message, never as NaN or an error.
pub fn analyze(input: &AnalysisInput) -> Result<AnalysisOutput, StatsError> {
    input.validate()?;
    let arms = input
        .variations
        .iter()
        .enumerate()
        .map(|(i, v)| input.arm_stats(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let weights = input
        .weights
        .clone()
        .unwrap_or_else(|| vec![1.0; arms.len()]);
    let counts: Vec<u64> = arms.iter().map(|a| a.n).collect();
    let srm = srm_p_value(&counts, &weights)?;

    let frequentist = input.engine == Engine::Frequentist;
    let Some(&control) = arms.first() else {
        return Err(StatsError::invalid(
            "variations",
            "needs at least 2 entries",
        ));
    };
    let mut rows = Vec::with_capacity(arms.len());
    for (i, (arm, v)) in arms.iter().zip(&input.variations).enumerate() {
        let mut row = VariationResult {
            name: v.name.clone(),
            n: arm.n,
            mean: arm.mean(),
            lift: None,
            ci: None,
            // present-but-null for this engine's fields, absent for the other engine's
            p_value: frequentist.then_some(None),
            chance_to_win: (!frequentist).then_some(None),
            risk: (!frequentist).then_some(None),
            status: VariationStatus::Control,
            message: None,
            theta: None,
        };
        if i > 0 {
            let moments = if input.cuped {
                let c = input.cuped_arm(0, &input.variations[0])?;
                let t = input.cuped_arm(i, v)?;
                Some(
                    cuped_moments(&c, &t, input.metric, input.difference)
                        .map(|(m, th)| (m, th, c.post.n, t.post.n)),
                )
            } else {
                None
            };
            let outcome = match moments {
                Some(Err(e)) => Err(e),
                Some(Ok((m, th, n_c, n_t))) => {
                    row.theta = Some(th);
                    if frequentist {
                        let r = if input.sequential {
                            sequential_moments(&m, n_c, n_t, input.alpha, input.sequential_tuning)
                        } else {
                            welch_moments(&m, n_c, n_t, input.alpha)
                        };
                        r.map(|r| {
                            row.lift = Some(r.estimate);
                            row.ci = Some(r.ci);
                            row.p_value = Some(Some(r.p_value));
                        })
                    } else {
                        bayesian_moments(
                            &m,
                            control.mean(),
                            input.difference,
                            input.alpha,
                            input.prior.as_ref(),
                        )
                        .map(|r| {
                            row.lift = Some(r.mean);
                            row.ci = Some(r.ci);
                            row.chance_to_win = Some(Some(r.chance_to_win));
                            row.risk = Some(Some(r.risk));
                        })
                    }
                }
                None if frequentist => {
                    let r = if input.sequential {
                        sequential(
                            &control,
                            arm,
                            input.metric,
                            input.difference,
                            input.alpha,
                            input.sequential_tuning,
                        )
                    } else {
                        welch(&control, arm, input.metric, input.difference, input.alpha)
                    };
                    r.map(|r| {
                        row.lift = Some(r.estimate);
                        row.ci = Some(r.ci);
                        row.p_value = Some(Some(r.p_value));
                    })
                }
                None => bayesian(
                    &control,
                    arm,
                    input.metric,
                    input.difference,
                    input.alpha,
                    input.prior.as_ref(),
                )
                .map(|r| {
                    row.lift = Some(r.mean);
                    row.ci = Some(r.ci);
                    row.chance_to_win = Some(Some(r.chance_to_win));
                    row.risk = Some(Some(r.risk));
                }),
            };
            match outcome {
                Ok(()) => row.status = VariationStatus::Ok,
                Err(StatsError::NotEnoughData(reason)) => {
                    row.status = VariationStatus::NotEnoughData;
                    row.message = Some(capitalise(&reason.to_string()));
                }
                Err(other) => return Err(other),
            }
        }
        rows.push(row);
    }
    Ok(AnalysisOutput {
        srm_p_value: srm,
        srm_flag: srm < SRM_THRESHOLD,
        variations: rows,
    })
}

/// Parses, validates and analyses a JSON document in one call.
pub fn analyze_json(json: &str) -> Result<AnalysisOutput, StatsError> {
    analyze(&AnalysisInput::from_json(json)?)
}

fn capitalise(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 6e-6,
            "expected {expected}, got {actual}"
        );
    }

    fn mean_input(engine: &str, difference: &str) -> Value {
        json!({
            "metric": "mean",
            "engine": engine,
            "difference": difference,
            "variations": [
                {"name": "A", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
                {"name": "B", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29}
            ]
        })
    }

    fn run(value: &Value) -> Result<AnalysisOutput, StatsError> {
        analyze_json(&value.to_string())
    }

    fn invalid_field(value: Value) -> String {
        match run(&value) {
            Err(StatsError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn frequentist_vectors_through_json() {
        let out = run(&mean_input("frequentist", "relative")).unwrap();
        let b = &out.variations[1];
        assert_eq!(b.status, VariationStatus::Ok);
        close(b.lift.unwrap(), 0.70732);
        close(b.ci.unwrap()[0], -0.03526);
        close(b.ci.unwrap()[1], 1.44989);
        close(b.p_value.unwrap().unwrap(), 0.06191);

        let out = run(&mean_input("frequentist", "absolute")).unwrap();
        let b = &out.variations[1];
        close(b.lift.unwrap(), 0.29);
        close(b.ci.unwrap()[0], 0.04538);
        close(b.ci.unwrap()[1], 0.53462);
        close(b.p_value.unwrap().unwrap(), 0.02016);

        let mut seq = mean_input("frequentist", "relative");
        seq["variations"][0]["n"] = json!(3000);
        seq["sequential"] = json!(true);
        seq["sequential_tuning"] = json!(1000);
        let out = run(&seq).unwrap();
        let b = &out.variations[1];
        close(b.lift.unwrap(), 0.50336);
        close(b.ci.unwrap()[0], -0.55844);
        close(b.ci.unwrap()[1], 1.56516);
        assert_eq!(b.p_value, Some(Some(1.0)));

        let out = run(&json!({
            "metric": "binomial",
            "variations": [{"name": "c", "n": 28, "sum": 14}, {"name": "t", "n": 30, "sum": 16}]
        }))
        .unwrap();
        let t = &out.variations[1];
        close(t.lift.unwrap(), 0.06667);
        close(t.ci.unwrap()[0], -0.47767);
        close(t.ci.unwrap()[1], 0.61101);
        close(t.p_value.unwrap().unwrap(), 0.80707);
    }

    #[test]
    fn frequentist_json_shape() {
        let out = run(&mean_input("frequentist", "relative")).unwrap();
        let v = serde_json::to_value(&out).unwrap();
        let control = &v["variations"][0];
        assert_eq!(control["status"], "control");
        assert_eq!(control["name"], "A");
        assert_eq!(control["n"], 3407);
        assert!(control["lift"].is_null() && control["ci"].is_null());
        assert!(control["p_value"].is_null());
        assert!(control.get("p_value").is_some(), "p_value present as null");
        let treatment = v["variations"][1].as_object().unwrap();
        for absent in ["chance_to_win", "risk", "message"] {
            assert!(!treatment.contains_key(absent), "{absent} must be omitted");
            assert!(!control.as_object().unwrap().contains_key(absent));
        }
        assert_eq!(treatment["status"], "ok");
        assert!(treatment["p_value"].is_f64());
        assert_eq!(treatment["ci"].as_array().unwrap().len(), 2);
        assert!(v["srm_p_value"].is_f64());
        assert_eq!(v["srm_flag"], false);
        // output round-trips through serde
        let back: AnalysisOutput = serde_json::from_value(v).unwrap();
        assert_eq!(back, out);
    }

    #[test]
    fn bayesian_vector_and_json_shape() {
        let out = run(&json!({
            "metric": "binomial",
            "engine": "bayesian",
            "variations": [{"name": "c", "n": 100, "sum": 49}, {"name": "t", "n": 100, "sum": 51}]
        }))
        .unwrap();
        let t = &out.variations[1];
        close(t.lift.unwrap(), 0.04082);
        close(t.ci.unwrap()[0], -0.24779);
        close(t.ci.unwrap()[1], 0.32943);
        close(t.chance_to_win.unwrap().unwrap(), 0.60918);
        let risk = t.risk.unwrap().unwrap();
        close(risk[0], 0.08140);
        close(risk[1], 0.04058);
        let v = serde_json::to_value(&out).unwrap();
        for row in v["variations"].as_array().unwrap() {
            assert!(!row.as_object().unwrap().contains_key("p_value"));
            assert!(row.as_object().unwrap().contains_key("chance_to_win"));
            assert!(row.as_object().unwrap().contains_key("risk"));
        }
        assert!(v["variations"][0]["chance_to_win"].is_null());
        assert!(v["variations"][0]["risk"].is_null());
        assert_eq!(serde_json::from_value::<AnalysisOutput>(v).unwrap(), out);
    }

    #[test]
    fn bayesian_prior_from_json() {
        let out = run(&json!({
            "metric": "mean",
            "engine": "bayesian",
            "prior": {"mean": 0.1, "variance": 0.1},
            "variations": [
                {"name": "a", "n": 10, "sum": 100, "sum_squares": 1002.25},
                {"name": "b", "n": 10, "sum": 105, "sum_squares": 1111.5}
            ]
        }))
        .unwrap();
        let b = &out.variations[1];
        close(b.lift.unwrap(), 0.05063);
        close(b.chance_to_win.unwrap().unwrap(), 0.92315);
    }

    #[test]
    fn srm_is_reported() {
        let out = run(&json!({
            "metric": "binomial",
            "variations": [
                {"name": "c", "n": 1000, "sum": 100},
                {"name": "t", "n": 1200, "sum": 120}
            ]
        }))
        .unwrap();
        assert!((out.srm_p_value - 0.000020079).abs() < 1e-9);
        assert!(out.srm_flag);
        let out = run(&json!({
            "metric": "binomial",
            "weights": [0.75, 0.25],
            "variations": [
                {"name": "c", "n": 310, "sum": 31},
                {"name": "t", "n": 98, "sum": 10}
            ]
        }))
        .unwrap();
        assert!((out.srm_p_value - 0.647434186).abs() < 1e-9);
        assert!(!out.srm_flag);
    }

    #[test]
    fn not_enough_data_rows() {
        for engine in ["frequentist", "bayesian"] {
            let out = run(&json!({
                "metric": "binomial",
                "engine": engine,
                "variations": [
                    {"name": "c", "n": 500, "sum": 50},
                    {"name": "empty", "n": 0, "sum": 0},
                    {"name": "zero", "n": 500, "sum": 0},
                    {"name": "one", "n": 1, "sum": 1},
                    {"name": "fine", "n": 500, "sum": 60}
                ]
            }))
            .unwrap();
            let statuses: Vec<_> = out.variations.iter().map(|v| v.status).collect();
            assert_eq!(
                statuses,
                [
                    VariationStatus::Control,
                    VariationStatus::NotEnoughData,
                    VariationStatus::NotEnoughData,
                    VariationStatus::NotEnoughData,
                    VariationStatus::Ok
                ]
            );
            assert_eq!(
                out.variations[1].message.as_deref(),
                Some("The treatment arm has no units yet.")
            );
            assert!(
                out.variations[2]
                    .message
                    .as_deref()
                    .unwrap()
                    .contains("zero variance")
            );
            assert!(
                out.variations[3]
                    .message
                    .as_deref()
                    .unwrap()
                    .contains("only 1 unit")
            );
            assert_eq!(out.variations[1].mean, 0.0);
            assert!(out.variations[1].lift.is_none() && out.variations[1].ci.is_none());
            let text = serde_json::to_string(&out).unwrap();
            assert!(!text.contains("NaN") && !text.contains("inf"));
        }
        // control with zero mean on a relative mean metric
        let out = run(&json!({
            "metric": "mean",
            "variations": [
                {"name": "c", "n": 2, "sum": 0, "sum_squares": 2},
                {"name": "t", "n": 3, "sum": 6, "sum_squares": 14}
            ]
        }))
        .unwrap();
        assert_eq!(out.variations[1].status, VariationStatus::NotEnoughData);
        assert!(
            out.variations[1]
                .message
                .as_deref()
                .unwrap()
                .contains("control mean is 0")
        );
        // an empty control makes every comparison not-enough-data, and SRM stays finite
        let out = run(&json!({
            "metric": "binomial",
            "variations": [{"name": "c", "n": 0, "sum": 0}, {"name": "t", "n": 0, "sum": 0}]
        }))
        .unwrap();
        assert_eq!(out.srm_p_value, 1.0);
        assert_eq!(
            out.variations[1].message.as_deref(),
            Some("The control arm has no units yet.")
        );
    }

    #[test]
    fn defaults_are_applied() {
        let input = AnalysisInput::from_json(
            r#"{"metric": "binomial", "variations": [{"name": "c", "n": 10, "sum": 1}, {"name": "t", "n": 10, "sum": 2}]}"#,
        )
        .unwrap();
        assert_eq!(input.engine, Engine::Frequentist);
        assert_eq!(input.difference, Difference::Relative);
        assert!(!input.sequential);
        assert_eq!(input.sequential_tuning, 5000.0);
        assert_eq!(input.alpha, 0.05);
        assert_eq!(input.weights, None);
        assert_eq!(input.prior, None);
        assert_eq!(input.variations[0].sum_squares, None);
    }

    #[test]
    fn unknown_fields_and_bad_types_are_parse_errors() {
        let mut v = mean_input("frequentist", "relative");
        v["confidence"] = json!(0.95);
        match run(&v) {
            Err(StatsError::Parse(msg)) => {
                assert!(msg.contains("unknown field `confidence`"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        let mut v = mean_input("frequentist", "relative");
        v["variations"][1]["users"] = json!(3);
        match run(&v) {
            Err(StatsError::Parse(msg)) => assert!(msg.contains("unknown field `users`"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let mut v = mean_input("frequentist", "relative");
        v["engine"] = json!("bootstrap");
        assert!(matches!(run(&v), Err(StatsError::Parse(_))));
        let err = run(&json!({"metric": "mean"})).unwrap_err();
        assert!(err.to_string().contains("variations"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let base = || mean_input("frequentist", "relative");
        let mut v = base();
        v["variations"] = json!([{"name": "A", "n": 10, "sum": 1, "sum_squares": 1}]);
        assert_eq!(invalid_field(v), "variations");
        let mut v = base();
        v["alpha"] = json!(1.0);
        assert_eq!(invalid_field(v), "alpha");
        let mut v = base();
        v["weights"] = json!([1.0]);
        assert_eq!(invalid_field(v), "weights");
        let mut v = base();
        v["weights"] = json!([0.0, 0.0]);
        assert_eq!(invalid_field(v), "weights");
        let mut v = base();
        v["weights"] = json!([0.5, -0.5]);
        assert_eq!(invalid_field(v), "weights[1]");
        let mut v = base();
        v["variations"][1]["n"] = json!(-3);
        assert_eq!(invalid_field(v), "variations[1].n");
        let mut v = base();
        v["variations"][0]["sum_squares"] = json!(1.0);
        assert_eq!(invalid_field(v), "variations[0].sum_squares");
        let mut v = base();
        v["variations"][1]
            .as_object_mut()
            .unwrap()
            .remove("sum_squares");
        assert_eq!(invalid_field(v), "variations[1].sum_squares");
        let mut v = base();
        v["sequential_tuning"] = json!(0);
        assert_eq!(invalid_field(v), "sequential_tuning");
        let mut v = base();
        v["prior"] = json!({"mean": 0, "variance": 1});
        assert_eq!(invalid_field(v), "prior");
        let mut v = base();
        v["engine"] = json!("bayesian");
        v["prior"] = json!({"mean": 0, "variance": -1});
        assert_eq!(invalid_field(v), "prior.variance");
        let mut v = base();
        v["engine"] = json!("bayesian");
        v["sequential"] = json!(true);
        assert_eq!(invalid_field(v), "sequential");
        let v = json!({
            "metric": "binomial",
            "variations": [{"name": "c", "n": 10, "sum": 11}, {"name": "t", "n": 10, "sum": 2}]
        });
        assert_eq!(invalid_field(v), "variations[0].sum");
        let v = json!({
            "metric": "binomial",
            "variations": [{"name": "c", "n": 10, "sum": 3, "sum_squares": 5}, {"name": "t", "n": 10, "sum": 2}]
        });
        assert_eq!(invalid_field(v), "variations[0].sum_squares");
        // the error text is a sentence naming the field
        let mut v = base();
        v["variations"][1]["n"] = json!(-3);
        let text = run(&v).unwrap_err().to_string();
        assert_eq!(
            text,
            "invalid input `variations[1].n`: must be >= 0 (got -3)"
        );
    }

    #[test]
    fn multiple_treatments_are_each_compared_with_control() {
        let out = run(&json!({
            "metric": "binomial",
            "difference": "absolute",
            "weights": [1, 1, 1],
            "variations": [
                {"name": "c", "n": 1000, "sum": 100},
                {"name": "t1", "n": 1000, "sum": 130},
                {"name": "t2", "n": 1000, "sum": 70}
            ]
        }))
        .unwrap();
        close(out.variations[1].lift.unwrap(), 0.03);
        close(out.variations[2].lift.unwrap(), -0.03);
        let c = ArmStats::binomial(1000, 100.0);
        for (i, conversions) in [(1, 130.0), (2, 70.0)] {
            let direct = crate::stats::welch(
                &c,
                &ArmStats::binomial(1000, conversions),
                MetricKind::Binomial,
                Difference::Absolute,
                0.05,
            )
            .unwrap();
            assert_eq!(out.variations[i].p_value, Some(Some(direct.p_value)));
            assert_eq!(out.variations[i].ci, Some(direct.ci));
        }
    }
}
