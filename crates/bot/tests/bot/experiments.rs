//! `/experiment`: the list and one experiment's results.

use serde_json::{Value, json};
use vivid_bot::model::Response;
use vivid_bot::testing::{autocomplete, command};
use vivid_core::Ctx;
use vivid_core::experiments::service::{self, NewExperiment};
use vivid_core::rng::Rng;
use vivid_core::stats::{Difference, Engine, MetricKind};

use crate::*;

const ANA: &str = "100000000000000008"; // analytics director, analyst

fn design(key: &str, name: &str) -> NewExperiment {
    NewExperiment {
        key: key.into(),
        name: name.into(),
        hypothesis: "If the add-to-cart button is larger, more visitors buy.".into(),
        owner: "ana".into(),
        metric: "purchase".into(),
        metric_kind: MetricKind::Binomial,
        guardrails: vec![],
        secondary: vec![],
        texts: vec![],
        engine: Engine::Frequentist,
        difference: Difference::Relative,
        sequential: true,
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

/// Expose `n` units and convert them at their variation's rate.
async fn traffic(ctx: &Ctx, key: &str, n: usize, rates: &[(&str, f64)]) -> TestResult {
    let mut rng = Rng::new(3);
    let mut conn = ctx.pool.acquire().await?;
    let exp = service::find(&mut conn, key).await?;
    let units: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
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

fn at(text: &str, needle: &str) -> Setup<usize> {
    text.find(needle)
        .ok_or_else(|| format!("{needle:?} is not in {text}").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_of_a_broken_split_show_the_warning_first_in_red() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    service::create(&ctx, &design("srm", "Bigger add-to-cart button"), "ana").await?;
    service::start(&ctx, "srm", "ana").await?;
    traffic(&ctx, "srm", 4000, &[("control", 0.10), ("big", 0.16)]).await?;
    // Plant a mismatch: 600 control exposures outside the hash.
    sqlx::query(
        "INSERT INTO experiment_exposures (experiment_id, unit_id, variation, exposed_at)
         SELECT e.id, 'extra' || g, 'control', now() FROM experiments e, generate_series(1, 600) g
         WHERE e.key = 'srm'",
    )
    .execute(&ctx.pool)
    .await?;

    let id = json!([{ "name": "id", "type": 3, "value": "srm" }]);
    let r = run(&ctx, &command(OMAR, "experiment", Some("results"), id)).await?;
    let m = message(&r)?;
    assert!(m.ephemeral);
    assert_eq!(m.embeds.len(), 2, "the warning, then the results");
    assert_eq!(m.embeds[0].colour, Some(vivid_bot::render::RED));
    assert!(
        m.embeds[0]
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("WARNING: sample ratio mismatch")),
        "{:?}",
        m.embeds[0]
    );
    let text = m.plain_text();
    let warning = at(&text, "WARNING: sample ratio mismatch")?;
    let winner = at(&text, "no winner can be called")?;
    let arm = at(&text, "big vs control: **+")?;
    let stop = at(&text, "Stop check: ")?;
    assert!(
        warning < winner && winner < arm && arm < stop,
        "SRM, winner, treatments, stop check: {text}"
    );
    assert!(text.contains("95% interval"), "{text}");
    assert!(text.contains("Traffic: control "), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_autocomplete_name_experiments_by_key() -> TestResult {
    let (_db, ctx, _clock) = setup().await?;
    service::create(
        &ctx,
        &design("big-button", "Bigger add-to-cart button"),
        "ana",
    )
    .await?;
    service::create(
        &ctx,
        &design("free-shipping", "Free shipping banner"),
        "ana",
    )
    .await?;
    service::start(&ctx, "free-shipping", "ana").await?;

    let r = run(&ctx, &command(ANA, "experiment", Some("list"), json!([]))).await?;
    let text = ephemeral_text(&r)?;
    assert!(text.contains("Experiments (2)"), "{text}");
    assert!(
        text.contains(
            "**free-shipping** — Free shipping banner\n└ running · purchase · started <t:"
        ),
        "{text}"
    );
    let r = run(
        &ctx,
        &command(
            ANA,
            "experiment",
            Some("list"),
            json!([{ "name": "state", "type": 3, "value": "draft" }]),
        ),
    )
    .await?;
    let text = ephemeral_text(&r)?;
    assert!(
        text.contains("Experiments: draft (1)") && text.contains("big-button"),
        "{text}"
    );

    let r = run(
        &ctx,
        &autocomplete(ANA, "experiment", Some("results"), "id", json!("")),
    )
    .await?;
    let Response::Choices(c) = r else {
        return Err("expected choices".into());
    };
    assert_eq!(
        c.iter().map(|c| c.value.clone()).collect::<Vec<Value>>(),
        vec![json!("free-shipping"), json!("big-button")],
        "running first"
    );
    let r = run(
        &ctx,
        &autocomplete(ANA, "experiment", Some("results"), "id", json!("big")),
    )
    .await?;
    assert!(
        matches!(&r, Response::Choices(c) if c.len() == 1 && c[0].value == json!("big-button"))
    );

    let r = run(
        &ctx,
        &command(
            ANA,
            "experiment",
            Some("results"),
            json!([{ "name": "id", "type": 3, "value": "nope" }]),
        ),
    )
    .await?;
    assert!(ephemeral_text(&r)?.contains("no experiment \"nope\""));
    Ok(())
}
