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

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn cli(db: &crate::util::TestDb, args: &[&str]) -> Ran {
    let mut cmd = vivid(&db.url);
    cmd.args(args);
    run(cmd)
}

/// Weights that do not cover the traffic are refused with a sentence; a
/// 90/10 plan shows per-arm samples and takes longer than 50/50; imports
/// load CSV; text `analyze` reads the SRM check first and names the hurt
/// guardrail; CUPED on stdin needs its covariate fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designs_imports_and_the_text_analysis() -> TestResult {
    let db = fresh_db().await?;
    let base = [
        "experiment",
        "new",
        "KEY",
        "--name",
        "Banner",
        "--hypothesis",
        "If the banner shows free shipping, more visitors buy.",
        "--metric",
        "purchase",
        "--baseline",
        "0.1",
        "--mde",
        "0.2",
        "--daily-traffic",
        "1000",
        "--guardrail",
        "refund:binomial",
        "--as",
        "ana",
    ];
    let with = |key: &str, extra: &[&str]| -> Vec<String> {
        base.iter()
            .map(|s| {
                if *s == "KEY" {
                    key.to_string()
                } else {
                    s.to_string()
                }
            })
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    for (split, why) in [
        (["control:0.5", "banner:0.6"], "add up to 1.1, not 1"),
        (["control:1", "banner:0"], "positive share of the traffic"),
    ] {
        let v = with("bad", &["--variation", split[0], "--variation", split[1]]);
        let r = cli(&db, &args(&v));
        assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(why), "{}", r.stderr);
    }
    let even = cli(
        &db,
        &args(&with(
            "even",
            &["--variation", "control:0.5", "--variation", "banner:0.5"],
        )),
    );
    assert_eq!(even.code, Some(0), "{}", even.stderr);
    let skew = cli(
        &db,
        &args(&with(
            "skew",
            &["--variation", "control:0.9", "--variation", "banner:0.1"],
        )),
    );
    assert_eq!(skew.code, Some(0), "{}", skew.stderr);
    let days = |out: &str| -> u64 {
        out.split("; ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no days in {out}"))
    };
    assert!(
        skew.stdout.contains("control (90%)") && skew.stdout.contains("banner (10%)"),
        "{}",
        skew.stdout
    );
    assert!(
        skew.stdout.contains("set by the smallest arm, banner"),
        "{}",
        skew.stdout
    );
    assert!(
        days(&skew.stdout) > days(&even.stdout),
        "{}\n{}",
        skew.stdout,
        even.stdout
    );
    let seq = cli(&db, &args(&with("seq", &["--sequential"])));
    assert!(
        seq.stdout.contains("sequential_tuning = "),
        "{}",
        seq.stdout
    );

    // Import, then read the analysis.
    assert_eq!(
        cli(&db, &["experiment", "start", "even", "--as", "ana"]).code,
        Some(0)
    );
    let dir = scratch_dir("experiments-import");
    let exposures = dir.join("exposures.csv");
    let events = dir.join("events.csv");
    let mut x = String::from("unit_id,device\n");
    for i in 0..3000 {
        x.push_str(&format!(
            "u{i},{}\n",
            if i % 3 == 0 { "mobile" } else { "desktop" }
        ));
    }
    std::fs::write(&exposures, x)?;
    let r = cli(
        &db,
        &[
            "experiment",
            "import",
            "exposures",
            &exposures.to_string_lossy(),
            "-e",
            "even",
            "--as",
            "ana",
        ],
    );
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("3000 rows read, 3000 new"),
        "{}",
        r.stdout
    );
    let shown = json(&db, &["experiment", "assign", "even", "u1", "--json"]);
    let arm_of = |u: usize| -> bool {
        vivid_core::experiments::assign::choose("even", &format!("u{u}"), &[0.5, 0.5]) == Some(1)
    };
    assert_eq!(shown["variation"] == "banner", arm_of(1));
    let mut e = String::from("event_id,unit_id,metric\n");
    for i in 0..3000 {
        if i % 10 == 0 {
            e.push_str(&format!("p{i},u{i},purchase\n"));
        }
        // Refunds: 4% in the control, 16% with the banner.
        if (arm_of(i) && i % 25 < 4) || (!arm_of(i) && i % 25 == 7) {
            e.push_str(&format!("f{i},u{i},refund\n"));
        }
    }
    std::fs::write(&events, e)?;
    let r = cli(
        &db,
        &[
            "experiment",
            "import",
            "events",
            &events.to_string_lossy(),
            "-e",
            "even",
            "--as",
            "ana",
        ],
    );
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let r = cli(&db, &["experiment", "analyze", "even"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let text = r.stdout;
    let srm = text.find("Sample ratio check").unwrap_or(usize::MAX);
    let primary = text.find("Primary metric purchase").unwrap_or(usize::MAX);
    let guard = text
        .find("banner refund (guardrail): HURT")
        .unwrap_or(usize::MAX);
    assert!(
        srm < primary && primary < guard && guard < usize::MAX,
        "{text}"
    );
    assert!(text.contains("banner hurts the guardrail refund"), "{text}");
    assert!(
        text.contains("Benjamini-Hochberg") && text.contains("mobile"),
        "{text}"
    );

    // CUPED on stdin: the covariate fields are required.
    let mut cmd = vivid("postgres://nobody@127.0.0.1:1/none");
    cmd.args(["experiment", "analyze", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(
            format!(r#"{{"metric": "mean", "cuped": true, "variations": [{A}, {B}]}}"#).as_bytes(),
        )?;
    }
    let out = child.wait_with_output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("variations[0].covariate_sum"), "{err}");
    let r = analyze(
        r#"{"metric": "mean", "sequential": true, "cuped": true, "variations": [
            {"name": "a", "n": 3000, "sum": 1396.87, "sum_squares": 52377.9767,
             "covariate_sum": 16.87, "covariate_sum_squares": 527.9767, "main_covariate_sum_product": 1},
            {"name": "b", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29,
             "covariate_sum": 22.7, "covariate_sum_squares": 1348.29, "main_covariate_sum_product": 1}]}"#,
    );
    let b = &r["variations"][1];
    close(&b["lift"], 0.50338, 6e-6);
    close(&b["ci"][0], -0.50969, 6e-6);
    close(&b["ci"][1], 1.51646, 6e-6);
    Ok(())
}
