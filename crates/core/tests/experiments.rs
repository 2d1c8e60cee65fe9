//! A/B testing against a real PostgreSQL: from hypothesis to documented learning.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::content::service as content;
use vivid_core::engine::approvals::Decision;
use vivid_core::experiments::service::{self, NewExperiment};
use vivid_core::rng::Rng;
use vivid_core::stats::{Difference, Engine, MetricKind};
use vivid_core::testing::{TestDb, default_config, fresh_db};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn setup() -> Result<(TestDb, Ctx, SimClock), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    );
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    Ok((db, ctx, clock))
}

fn design(key: &str, sequential: bool) -> NewExperiment {
    NewExperiment {
        key: key.into(),
        name: "Bigger add-to-cart button".into(),
        hypothesis: "If the add-to-cart button is larger, more visitors buy, because it is easier to find on mobile.".into(),
        owner: "ana".into(),
        metric: "purchase".into(),
        metric_kind: MetricKind::Binomial,
        guardrails: vec!["refund:binomial".into()],
        secondary: vec![],
        texts: vec![],
        engine: Engine::Frequentist,
        difference: Difference::Relative,
        sequential,
        alpha: 0.05,
        power: 0.8,
        mde: 0.2,
        baseline: 0.1,
        baseline_variance: None,
        daily_traffic: 1000,
        variations: vec![("control".into(), 0.5), ("big".into(), 0.5)],
        content_id: None,
        follows: None,
    }
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// Expose `n` units and convert them at their variation's rate.
async fn traffic(
    ctx: &Ctx,
    key: &str,
    prefix: &str,
    n: usize,
    rates: &[(&str, f64)],
    rng: &mut Rng,
) -> TestResult {
    let mut conn = ctx.pool.acquire().await?;
    let exp = service::find(&mut conn, key).await?;
    let units: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let chosen = service::assign_many(ctx, &mut conn, &exp, &units).await?;
    let mut events = Vec::new();
    for (u, v) in units.iter().zip(&chosen) {
        let rate = rates
            .iter()
            .find(|(k, _)| k == v)
            .map(|(_, r)| *r)
            .unwrap_or(0.0);
        if rng.f64() < rate {
            events.push((u.clone(), "purchase".to_string(), 1.0));
        }
    }
    service::record_many(ctx, &mut conn, &exp, &events).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_hypothesis_to_documented_learning_with_a_winner_handed_to_content() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    let page = content::create(
        &ctx,
        &content::NewContent {
            kind: "product_page".into(),
            title: "Dune Shadows".into(),
            body: "brief".into(),
            owner: "lena".into(),
            channel: "web".into(),
            campaign: None,
            cost_cents: 0,
        },
        "lena",
    )
    .await?;
    let mut new = design("big-button", false);
    new.content_id = Some(page.id);
    let no_text = err_text(service::create(&ctx, &new, "ana").await);
    assert!(
        no_text.contains("give the text of variation \"big\""),
        "{no_text}"
    );
    new.texts = vec![("big".into(), "Bigger button copy".into())];
    assert!(err_text(service::create(&ctx, &new, "remy").await).contains("cannot run experiments"));
    let exp = service::create(&ctx, &new, "ana").await?;
    // Power calculation: 20% relative MDE on a 10% baseline at 80% power.
    assert!(
        (3000..4500).contains(&exp.planned_per_variation),
        "{}",
        exp.planned_per_variation
    );
    assert!(
        err_text(service::assign(&ctx, "big-button", "u1").await).contains("only while it runs")
    );
    service::start(&ctx, "big-button", "ana").await?;
    let first = service::assign(&ctx, "big-button", "visitor-7").await?;
    assert_eq!(
        service::assign(&ctx, "big-button", "visitor-7").await?,
        first,
        "stable"
    );
    assert!(
        err_text(service::record(&ctx, "big-button", "stranger", "purchase", 1.0).await)
            .contains("never assigned")
    );
    assert!(
        err_text(service::record(&ctx, "big-button", "visitor-7", "clicks", 1.0).await)
            .contains("does not measure")
    );

    let mut rng = Rng::new(11);
    traffic(
        &ctx,
        "big-button",
        "a",
        1500,
        &[("control", 0.10), ("big", 0.13)],
        &mut rng,
    )
    .await?;
    // Fixed horizon: no early stop, even if it looks good.
    let early =
        err_text(service::decide(&ctx, "big-button", "ana", Some("big"), "looks great").await);
    assert!(early.contains("does not stop early"), "{early}");
    for day in 0..9 {
        clock.advance(TimeDelta::days(1));
        traffic(
            &ctx,
            "big-button",
            &format!("d{day}-"),
            1000,
            &[("control", 0.10), ("big", 0.13)],
            &mut rng,
        )
        .await?;
    }
    let report = service::analyze(&ctx, "big-button").await?;
    assert!(!report.primary.result.srm_flag);
    assert_eq!(
        report.suggested_winner.as_deref(),
        Some("big"),
        "{:?}",
        report.summary
    );
    assert!(
        report.summary.iter().any(|s| s.starts_with("Winner: big")),
        "{:?}",
        report.summary
    );
    assert!(
        err_text(service::decide(&ctx, "big-button", "ana", Some("huge"), "").await)
            .contains("not a variation")
    );
    let decided = service::decide(&ctx, "big-button", "ana", Some("big"), "+30% purchases").await?;
    assert_eq!(
        (decided.state.as_str(), decided.winner.as_deref()),
        ("decided", Some("big"))
    );
    // The winner is implemented for real: its text is the item's next
    // version, submitted for review (the live item changes only when approved).
    let (body, version): (String, i32) = sqlx::query_as(
        "SELECT body, version FROM content_versions WHERE item_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(page.id)
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!((body.as_str(), version), ("Bigger button copy", 2));
    let item = {
        let mut conn = ctx.pool.acquire().await?;
        vivid_core::content::store::get(&mut conn, page.id).await?
    };
    assert_eq!(item.state.as_str(), "review", "{item:?}");
    assert!(item.approval_id.is_some());
    let on_content: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE workflow = 'content' AND action = 'experiment_winner_submitted'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(on_content, 1);
    // The Marketing director hears of the decision.
    let told: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE person = 'maya' AND subject LIKE 'Experiment big-button decided%'",
    )
    .fetch_one(&ctx.pool)
    .await?;
    assert_eq!(told, 1);
    content::decide(&ctx, page.id, "maya", Decision::Approve, "", None).await?;

    service::document(
        &ctx,
        "big-button",
        "ana",
        "A larger add-to-cart button lifted purchases about 30% on mobile-heavy traffic.",
    )
    .await?;
    let found = service::search(&ctx, "mobile purchases").await?;
    assert_eq!(
        found.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        vec!["big-button"]
    );
    assert!(service::search(&ctx, "newsletter").await?.is_empty());
    // The next hypothesis follows from it.
    let mut next = design("sticky-button", false);
    next.follows = Some(decided.id);
    assert_eq!(
        service::create(&ctx, &next, "ana").await?.follows,
        Some(decided.id)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_split_or_a_losing_variation_cannot_be_called_the_winner() -> TestResult {
    let (_db, ctx, clock) = setup().await?;
    service::create(&ctx, &design("srm", true), "ana").await?;
    service::start(&ctx, "srm", "ana").await?;
    let mut rng = Rng::new(3);
    traffic(
        &ctx,
        "srm",
        "u",
        4000,
        &[("control", 0.10), ("big", 0.16)],
        &mut rng,
    )
    .await?;
    // Plant a mismatch: 600 control exposures outside the hash.
    let mut conn = ctx.pool.acquire().await?;
    let exp = service::find(&mut conn, "srm").await?;
    sqlx::query(
        "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at)
         SELECT $1, 'extra' || g, 'control', now() FROM generate_series(1, 600) g",
    )
    .bind(exp.id)
    .execute(&mut *conn)
    .await?;
    let report = service::analyze(&ctx, "srm").await?;
    assert!(report.primary.result.srm_flag);
    assert!(
        report.summary[0].starts_with("WARNING: sample ratio mismatch"),
        "{:?}",
        report.summary
    );
    assert!(
        err_text(service::decide(&ctx, "srm", "ana", Some("big"), "").await)
            .contains("sample ratio mismatch")
    );
    assert!(err_text(service::decide(&ctx, "srm", "ana", None, "").await).contains("--reason"));
    service::decide(
        &ctx,
        "srm",
        "ana",
        None,
        "assignment bug; rerun after the fix",
    )
    .await?;

    // Sequential: may stop early, but only for a variation the data support.
    service::create(&ctx, &design("loser", true), "ana").await?;
    service::start(&ctx, "loser", "ana").await?;
    clock.advance(TimeDelta::days(1));
    traffic(
        &ctx,
        "loser",
        "l",
        6000,
        &[("control", 0.12), ("big", 0.08)],
        &mut rng,
    )
    .await?;
    let report = service::analyze(&ctx, "loser").await?;
    assert!(report.suggested_winner.is_none(), "{:?}", report.summary);
    let refused = err_text(service::decide(&ctx, "loser", "ana", Some("big"), "").await);
    assert!(
        refused.contains("do not support") || refused.contains("not yet"),
        "{refused}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sufficient_statistics_are_aggregated_in_sql() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let mut new = design("aov", false);
    new.metric = "revenue".into();
    new.metric_kind = MetricKind::Mean;
    new.baseline = 120.0;
    new.baseline_variance = Some(900.0);
    new.guardrails = vec![];
    service::create(&ctx, &new, "ana").await?;
    service::start(&ctx, "aov", "ana").await?;
    let mut conn = ctx.pool.acquire().await?;
    let exp = service::find(&mut conn, "aov").await?;
    let units: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
    let chosen = service::assign_many(&ctx, &mut conn, &exp, &units).await?;
    // Every unit spends 10 twice, units 0..10 spend 5 once more.
    let mut events = Vec::new();
    for u in &units {
        events.push((u.clone(), "revenue".to_string(), 10.0));
        events.push((u.clone(), "revenue".to_string(), 10.0));
    }
    for u in units.iter().take(10) {
        events.push((u.clone(), "revenue".to_string(), 5.0));
    }
    service::record_many(&ctx, &mut conn, &exp, &events).await?;
    let rows = service::sufficient_stats(&mut conn, exp.id, "revenue", MetricKind::Mean).await?;
    for (variation, n, sum, ss) in rows {
        let mine: Vec<usize> = chosen
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == variation)
            .map(|(i, _)| i)
            .collect();
        let values: Vec<f64> = mine
            .iter()
            .map(|i| if *i < 10 { 25.0 } else { 20.0 })
            .collect();
        assert_eq!(n as usize, mine.len());
        assert!((sum - values.iter().sum::<f64>()).abs() < 1e-9);
        assert!((ss - values.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-9);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_state_no_machine_knows_is_an_internal_fault() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    service::create(&ctx, &design("odd", false), "ana").await?;
    // Data written by something else (a newer binary, a hand edit).
    sqlx::query("ALTER TABLE experiments DROP CONSTRAINT experiments_state_check")
        .execute(&ctx.pool)
        .await?;
    sqlx::query("UPDATE experiments SET state = 'paused' WHERE key = 'odd'")
        .execute(&ctx.pool)
        .await?;
    for r in [
        service::get(&ctx, "odd").await.map(|_| ()),
        service::start(&ctx, "odd", "ana").await.map(|_| ()),
        service::list(&ctx, None).await.map(|_| ()),
    ] {
        let Err(e) = r else {
            panic!("an unknown state was read as a known one")
        };
        assert_eq!(e.kind(), "internal", "{e}");
        assert!(
            e.to_string()
                .contains("unknown experiment state \"paused\""),
            "{e}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_runs_experiments_comes_from_config() -> TestResult {
    // Only the Creative director runs experiments in this org.
    let toml = vivid_core::config::EMBEDDED_DEFAULT.replace(
        "run = [\"analyst\", \"director:marketing\", \"director:analytics\", \"team_lead:marketing\", \"business_manager\"]",
        "run = [\"director:creative\"]",
    );
    let config = vivid_core::config::Config::from_toml_str("test", &toml)?;
    let db = fresh_db().await?;
    let ctx = db.ctx(config, Arc::new(SimClock::at(Utc::now()))).await?;
    let refused = err_text(service::create(&ctx, &design("cfg", false), "ana").await);
    assert!(
        refused.contains("Ana Lima")
            && refused.contains("cannot run experiments: it takes the Creative director"),
        "{refused}"
    );
    service::create(&ctx, &design("cfg", false), "iris").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designs_that_cannot_mislead() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    let mut bad = design("bad-split", false);
    bad.variations = vec![("control".into(), 0.5), ("big".into(), 0.6)];
    let e = err_text(service::create(&ctx, &bad, "ana").await);
    assert!(
        e.contains("control:0.5, big:0.6") && e.contains("add up to 1.1"),
        "{e}"
    );
    bad.variations = vec![("control".into(), 1.0), ("big".into(), 0.0)];
    let e = err_text(service::create(&ctx, &bad, "ana").await);
    assert!(e.contains("positive share of the traffic"), "{e}");
    bad.variations = vec![("control".into(), 1.0)];
    let e = err_text(service::create(&ctx, &bad, "ana").await);
    assert!(e.contains("at least one variation"), "{e}");
    assert!(
        service::list(&ctx, None).await?.is_empty(),
        "nothing stored"
    );

    // 90/10: per-arm samples, and longer than 50/50.
    let even = service::plan(&design("even", false))?;
    let mut skew = design("skew", false);
    skew.variations = vec![("control".into(), 0.9), ("big".into(), 0.1)];
    let skew_plan = service::plan(&skew)?;
    assert_eq!(skew_plan.per_arm.len(), 2);
    assert!(skew_plan.per_arm[0] > 8 * skew_plan.per_arm[1]);
    assert!(
        skew_plan.planned_days > even.planned_days,
        "{skew_plan:?} vs {even:?}"
    );
    let stored = service::create(&ctx, &skew, "ana").await?;
    assert_eq!(stored.planned_total, i64::try_from(skew_plan.total)?);
    assert_eq!(stored.planned_days, i32::try_from(skew_plan.planned_days)?);
    assert_eq!(
        stored.planned_per_variation,
        i64::try_from(skew_plan.per_arm[1])?
    );

    // Sequential: planned with the penalty, tuned to the planned sample.
    let seq = service::create(&ctx, &design("seq", true), "ana").await?;
    assert!(seq.planned_total > seq.fixed_total, "{seq:?}");
    assert_eq!(seq.sequential_tuning, seq.planned_total as f64);
    assert_ne!(seq.sequential_tuning, 5000.0);
    Ok(())
}

fn csv(lines: impl IntoIterator<Item = String>) -> std::io::Cursor<Vec<u8>> {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    std::io::Cursor::new(s.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_cuped_breakdowns_and_alerts_on_a_hurt_guardrail() -> TestResult {
    use vivid_core::experiments::{import, report::Verdict, timers};
    let (_db, ctx, _clock) = setup().await?;
    let mut new = design("refunds", false);
    new.metric = "revenue".into();
    new.metric_kind = MetricKind::Mean;
    new.baseline = 50.0;
    new.baseline_variance = Some(400.0);
    new.secondary = vec!["newsletter:binomial".into()];
    let exp = service::create(&ctx, &new, "ana").await?;
    // Not running yet: refused, nothing stored.
    let early = err_text(
        import::exposures(&ctx, "refunds", "ana", &mut csv(["unit_id".to_string()])).await,
    );
    assert!(early.contains("only while it runs"), "{early}");
    service::start(&ctx, "refunds", "ana").await?;

    let mut rng = Rng::new(19);
    let n = 4000;
    let mut exposures = vec!["unit_id,device,segment,covariate".to_string()];
    let mut pre = Vec::new();
    for i in 0..n {
        let c = 40.0 + 20.0 * rng.f64();
        pre.push(c);
        let device = if i % 2 == 0 { "mobile" } else { "desktop" };
        exposures.push(format!("u{i},{device},trade,{c:.3}"));
    }
    let s = import::exposures(&ctx, "refunds", "ana", &mut csv(exposures.clone())).await?;
    assert_eq!((s.read, s.inserted), (n as u64, n as u64));
    // Idempotent: the same file again adds nothing.
    let again = import::exposures(&ctx, "refunds", "ana", &mut csv(exposures)).await?;
    assert_eq!(
        (again.read, again.inserted, again.skipped),
        (n as u64, 0, n as u64)
    );
    // A bad row refuses the whole file, naming its line.
    let bad = err_text(
        import::exposures(
            &ctx,
            "refunds",
            "ana",
            &mut csv(["unit_id,covariate".into(), "x1,3".into(), "x2,lots".into()]),
        )
        .await,
    );
    assert!(
        bad.contains("line 3") && bad.contains("not a number"),
        "{bad}"
    );
    assert_eq!(
        service::exposure_counts(&mut *ctx.pool.acquire().await?, exp.id)
            .await?
            .iter()
            .map(|c| c.1)
            .sum::<i64>(),
        n as i64
    );

    let mut conn = ctx.pool.acquire().await?;
    let counts = service::exposure_counts(&mut conn, exp.id).await?;
    drop(conn);
    assert_eq!(counts.len(), 2);
    // Revenue follows the covariate; "big" refunds far more often.
    let variation_of = |u: usize| -> String {
        vivid_core::experiments::assign::choose("refunds", &format!("u{u}"), &[0.5, 0.5])
            .map(|i| if i == 0 { "control" } else { "big" })
            .unwrap_or("control")
            .to_string()
    };
    let mut events = vec!["event_id,unit_id,metric,value".to_string()];
    for (i, c) in pre.iter().enumerate() {
        let big = variation_of(i) == "big";
        let revenue = c + 5.0 * rng.f64() + if big { 1.0 } else { 0.0 };
        events.push(format!("r{i},u{i},revenue,{revenue:.3}"));
        let refund_rate = if big { 0.15 } else { 0.05 };
        if rng.f64() < refund_rate {
            events.push(format!("f{i},u{i},refund,1"));
        }
    }
    events.push("ghost,nobody,revenue,5".into());
    let ev = import::events(&ctx, "refunds", "ana", &mut csv(events.clone())).await?;
    assert_eq!(ev.skipped, 1, "the unexposed unit's event is skipped");
    let ev2 = import::events(&ctx, "refunds", "ana", &mut csv(events)).await?;
    assert_eq!(ev2.inserted, 0, "event ids are recorded once");

    let r = service::analyze(&ctx, "refunds").await?;
    assert!(r.cuped, "exposures carry a covariate");
    assert!(
        r.srm.sentence.starts_with("Sample ratio check passed"),
        "{:?}",
        r.srm
    );
    let big = &r.primary.result.variations[1];
    assert!(big.theta.is_some_and(|t| t > 0.5), "{big:?}");
    let g = &r.guardrails[0];
    assert_eq!(g.metric, "refund");
    assert_eq!(g.verdicts[0].verdict, Verdict::Hurt, "{:?}", g.verdicts);
    assert!(
        r.summary
            .iter()
            .any(|s| s.contains("hurts the guardrail refund"))
    );
    assert_eq!(r.secondary.len(), 1);
    assert_eq!(r.secondary[0].verdicts[0].verdict, Verdict::Inconclusive);
    assert_eq!(r.suggested_winner, None, "a hurt guardrail cannot win");
    // Breakdowns by device and segment, corrected together.
    assert!(r.breakdown_correction.contains("Benjamini-Hochberg"));
    let dims: Vec<(&str, &str)> = r
        .breakdowns
        .iter()
        .map(|b| (b.dimension.as_str(), b.value.as_str()))
        .collect();
    assert_eq!(
        dims,
        vec![
            ("device", "desktop"),
            ("device", "mobile"),
            ("segment", "trade")
        ]
    );

    // The import checked the alerts: the owner (ana, also the Analytics
    // director) is told once of the hurt guardrail; checking again adds nothing.
    let alerts = |ctx: &Ctx| {
        let pool = ctx.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM outbox WHERE subject LIKE 'Guardrail refund hurt by big%'",
            )
            .fetch_one(&pool)
            .await
        }
    };
    assert_eq!(alerts(&ctx).await?, 1);
    let mut conn = ctx.pool.acquire().await?;
    let raised = timers::check(&ctx, &mut conn, exp.id).await?;
    assert!(raised.iter().any(|a| a.key == "guardrail:refund:big"));
    assert_eq!(alerts(&ctx).await?, 1, "once per condition");
    Ok(())
}
