//! `vivid experiment analyze --json` reproduces GrowthBook's published
//! vectors, reading sufficient statistics on stdin (no database needed).

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

fn analyze(input: &str) -> serde_json::Value {
    let mut cmd = vivid("postgres://nobody@127.0.0.1:1/none");
    cmd.args(["experiment", "analyze", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot run vivid: {e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn close(v: &serde_json::Value, want: f64, tol: f64) {
    let got = v.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

const A: &str = r#"{"name": "A", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767}"#;
const B: &str = r#"{"name": "B", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29}"#;

#[test]
fn mean_metric_relative_and_absolute() {
    let r = analyze(&format!(
        r#"{{"metric": "mean", "variations": [{A}, {B}]}}"#
    ));
    let b = &r["variations"][1];
    close(&b["lift"], 0.70732, 6e-6);
    close(&b["ci"][0], -0.03526, 6e-6);
    close(&b["ci"][1], 1.44989, 6e-6);
    close(&b["p_value"], 0.06191, 6e-6);
    assert!(
        r["variations"][0]["lift"].is_null(),
        "the control has no comparison"
    );
    assert!(
        b.get("chance_to_win").is_none(),
        "frequentist output omits Bayesian fields"
    );
    let r = analyze(&format!(
        r#"{{"metric": "mean", "difference": "absolute", "variations": [{A}, {B}]}}"#
    ));
    let b = &r["variations"][1];
    close(&b["lift"], 0.29, 6e-6);
    close(&b["ci"][0], 0.04538, 6e-6);
    close(&b["ci"][1], 0.53462, 6e-6);
    close(&b["p_value"], 0.02016, 6e-6);
}

#[test]
fn sequential_proportions_bayesian_and_srm() {
    let a3000 = r#"{"name": "A", "n": 3000, "sum": 1396.87, "sum_squares": 52377.9767}"#;
    let r = analyze(&format!(
        r#"{{"metric": "mean", "sequential": true, "sequential_tuning": 1000, "variations": [{a3000}, {B}]}}"#
    ));
    let b = &r["variations"][1];
    close(&b["lift"], 0.50336, 6e-6);
    close(&b["ci"][0], -0.55844, 6e-6);
    close(&b["ci"][1], 1.56516, 6e-6);
    close(&b["p_value"], 1.0, 1e-9);

    let r = analyze(
        r#"{"metric": "binomial", "variations": [{"name": "A", "n": 28, "sum": 14}, {"name": "B", "n": 30, "sum": 16}]}"#,
    );
    let b = &r["variations"][1];
    close(&b["lift"], 0.06667, 6e-6);
    close(&b["ci"][0], -0.47767, 6e-6);
    close(&b["ci"][1], 0.61101, 6e-6);
    close(&b["p_value"], 0.80707, 6e-6);

    let r = analyze(
        r#"{"metric": "binomial", "engine": "bayesian", "variations": [{"name": "A", "n": 100, "sum": 49}, {"name": "B", "n": 100, "sum": 51}]}"#,
    );
    let b = &r["variations"][1];
    close(&b["lift"], 0.04082, 6e-6);
    close(&b["ci"][0], -0.24779, 6e-6);
    close(&b["ci"][1], 0.32943, 6e-6);
    close(&b["chance_to_win"], 0.60918, 6e-6);
    close(&b["risk"][0], 0.08140, 6e-6);
    close(&b["risk"][1], 0.04058, 6e-6);
    assert!(b.get("p_value").is_none(), "Bayesian output omits p-values");

    let srm = |counts: &[u64], weights: &str| {
        let vars: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(i, n)| format!(r#"{{"name": "v{i}", "n": {n}, "sum": {}}}"#, n / 10))
            .collect();
        analyze(&format!(
            r#"{{"metric": "binomial", "weights": {weights}, "variations": [{}]}}"#,
            vars.join(",")
        ))
    };
    close(
        &srm(&[1000, 1200], "[0.5, 0.5]")["srm_p_value"],
        0.000020079,
        1e-9,
    );
    assert_eq!(srm(&[1000, 1200], "[0.5, 0.5]")["srm_flag"], true);
    close(
        &srm(&[135, 115], "[0.5, 0.5]")["srm_p_value"],
        0.205903211,
        1e-9,
    );
    close(
        &srm(&[310, 98], "[0.75, 0.25]")["srm_p_value"],
        0.647434186,
        1e-9,
    );
    close(
        &srm(&[500, 500, 600], "[0.34, 0.33, 0.33]")["srm_p_value"],
        0.000592638,
        1e-9,
    );
}

#[test]
fn bad_analysis_input_is_refused_clearly() {
    let mut cmd = vivid("postgres://nobody@127.0.0.1:1/none");
    cmd.args(["experiment", "analyze", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(br#"{"metric": "binomial", "variations": [{"name": "A", "n": -3, "sum": 1}, {"name": "B", "n": 10, "sum": 1}]}"#).ok();
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("variations[0].n"), "{err}");
}
