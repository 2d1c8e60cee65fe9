//! Vendor management against a real PostgreSQL, with simulated time.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use vivid_core::Ctx;
use vivid_core::clock::SimClock;
use vivid_core::engine::approvals::{Decision, Outcome};
use vivid_core::engine::{Engine, events, outbox::LogTarget};
use vivid_core::testing::{TestDb, default_config, fresh_db};
use vivid_core::vendor::model::{Period, State};
use vivid_core::vendor::service::{self, NewContract, NewDelivery, NewRfp, NewVendor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2026-12-01 09:00 in New York.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T14:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

async fn setup() -> Result<(TestDb, Ctx, SimClock, Engine), Box<dyn std::error::Error>> {
    let db = fresh_db().await?;
    let clock = SimClock::at(t0());
    let ctx = db.ctx(default_config(), Arc::new(clock.clone())).await?;
    let engine = Engine::new(ctx.clone(), Arc::new(LogTarget));
    Ok((db, ctx, clock, engine))
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

fn err_text<T: std::fmt::Debug>(r: Result<T, vivid_core::Error>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

async fn passes(engine: &Engine, n: usize) -> Result<(), vivid_core::Error> {
    for _ in 0..n {
        engine.run_pass().await?;
    }
    Ok(())
}

async fn add(
    ctx: &Ctx,
    name: &str,
    category: &str,
    critical: bool,
) -> Result<(), vivid_core::Error> {
    service::add(
        ctx,
        &NewVendor {
            name: name.into(),
            category: category.into(),
            critical,
        },
        "olu",
    )
    .await
    .map(|_| ())
}

/// Add, run a one-bidder RFP, award, approve, sign a contract from `start`.
async fn contracted(
    ctx: &Ctx,
    name: &str,
    critical: bool,
    start: NaiveDate,
    end: NaiveDate,
    auto_renew: bool,
) -> Result<(), vivid_core::Error> {
    add(ctx, name, "print_lab", critical).await?;
    let (rfp, _) = service::new_rfp(
        ctx,
        &NewRfp {
            title: format!("{name} RFP"),
            criteria: vec![("quality".into(), 60), ("price".into(), 40)],
            ..NewRfp::default()
        },
        "victor",
    )
    .await?;
    let key = rfp.id.to_string();
    service::invite(ctx, &key, name, "olu").await?;
    service::propose(ctx, &key, name, 1_000_000, "", "olu").await?;
    service::score(
        ctx,
        &key,
        name,
        &[("quality".into(), 8.0), ("price".into(), 7.0)],
        "victor",
    )
    .await?;
    service::award(ctx, &key, name, "victor").await?;
    service::decide_award(ctx, rfp.id, "omar", Decision::Approve, "").await?;
    service::decide_award(ctx, rfp.id, "felix", Decision::Approve, "").await?;
    service::new_contract(
        ctx,
        &NewContract {
            vendor: name.into(),
            start,
            end,
            monthly_cents: 100_000,
            auto_renew,
            notice: Some("1 month".into()),
            budget: Some(("operations".into(), "printing".into())),
        },
        "olu",
    )
    .await?;
    Ok(())
}

fn delivery(
    vendor: &str,
    po: &str,
    promised: NaiveDate,
    delivered: NaiveDate,
    ordered: i64,
    received: i64,
) -> NewDelivery {
    NewDelivery {
        vendor: vendor.into(),
        po: po.into(),
        promised,
        delivered,
        ordered,
        received,
        defective: 0,
        amount_cents: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfp_is_scored_by_several_evaluators_and_awarded_with_approval() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    for (n, c) in [
        ("Lumen", "print_lab"),
        ("Atelier", "print_lab"),
        ("Cheapo", "print_lab"),
    ] {
        add(&ctx, n, c, false).await?;
    }
    // Weights totalling 95 are refused, and nothing is created.
    let refused = service::new_rfp(
        &ctx,
        &NewRfp {
            title: "Prints".into(),
            criteria: vec![
                ("quality".into(), 40),
                ("price".into(), 30),
                ("lead_time".into(), 25),
            ],
            ..NewRfp::default()
        },
        "victor",
    )
    .await;
    let e = err_text(refused);
    assert!(e.contains("total 100") && e.contains("95"), "{e}");
    assert!(service::rfps(&ctx).await?.is_empty());

    let (rfp, criteria) = service::new_rfp(
        &ctx,
        &NewRfp {
            title: "Prints".into(),
            criteria: vec![
                ("quality".into(), 40),
                ("price".into(), 30),
                ("lead_time".into(), 30),
            ],
            deal_breakers: vec!["insured".into()],
            evaluators: vec!["victor".into(), "olu".into()],
            ..NewRfp::default()
        },
        "victor",
    )
    .await?;
    assert_eq!(criteria.len(), 4);
    let key = rfp.id.to_string();
    for v in ["Lumen", "Atelier", "Cheapo"] {
        service::invite(&ctx, &key, v, "olu").await?;
    }
    service::propose(&ctx, &key, "Lumen", 4_200_000, "net 30", "olu").await?;
    service::propose(&ctx, &key, "Atelier", 3_900_000, "net 45", "olu").await?;
    service::propose(&ctx, &key, "Cheapo", 1_000_000, "prepaid", "olu").await?;
    // Someone who is not an evaluator may not score.
    let e = err_text(service::score(&ctx, &key, "Lumen", &[("quality".into(), 9.0)], "omar").await);
    assert!(e.contains("not an evaluator"), "{e}");
    // Victor scores everything; Olu leaves price blank for Lumen.
    service::score(
        &ctx,
        &key,
        "Lumen",
        &[
            ("quality".into(), 9.0),
            ("price".into(), 6.0),
            ("lead_time".into(), 8.0),
            ("insured".into(), 10.0),
        ],
        "victor",
    )
    .await?;
    let r = service::score(
        &ctx,
        &key,
        "Lumen",
        &[("quality".into(), 7.0), ("lead_time".into(), 8.0)],
        "olu",
    )
    .await?;
    let lumen = r
        .entries
        .iter()
        .find(|e| e.vendor == "Lumen")
        .ok_or("no Lumen")?;
    let price = lumen
        .criteria
        .iter()
        .find(|c| c.name == "price")
        .ok_or("no price")?;
    assert_eq!(price.consensus, Some(6.0), "a blank is not a zero");
    // quality 8 × 4 + price 6 × 3 + lead 8 × 3 = 74.
    assert_eq!(lumen.total, Some(74.0));
    service::score(
        &ctx,
        &key,
        "Atelier",
        &[
            ("quality".into(), 6.0),
            ("price".into(), 8.0),
            ("lead_time".into(), 6.0),
            ("insured".into(), 9.0),
        ],
        "victor",
    )
    .await?;
    service::score(
        &ctx,
        &key,
        "Cheapo",
        &[
            ("quality".into(), 10.0),
            ("price".into(), 10.0),
            ("lead_time".into(), 10.0),
            ("insured".into(), 1.0),
        ],
        "victor",
    )
    .await?;
    // The owner overrides a consensus, with a reason.
    let e = err_text(
        service::override_consensus(&ctx, &key, "Atelier", "price", 9.0, "", "victor").await,
    );
    assert!(e.contains("reason"), "{e}");
    let e = err_text(
        service::override_consensus(
            &ctx,
            &key,
            "Atelier",
            "price",
            9.0,
            "volume discount",
            "olu",
        )
        .await,
    );
    assert!(e.contains("owner"), "{e}");
    service::override_consensus(
        &ctx,
        &key,
        "Atelier",
        "price",
        9.0,
        "volume discount agreed",
        "victor",
    )
    .await?;
    let ranking = service::rank(&ctx, &key).await?;
    let order: Vec<(&str, Option<usize>, bool)> = ranking
        .entries
        .iter()
        .map(|e| (e.vendor.as_str(), e.rank, e.out))
        .collect();
    assert_eq!(
        order,
        vec![
            ("Lumen", Some(1), false),
            ("Atelier", Some(2), false),
            ("Cheapo", None, true)
        ],
        "Cheapo fails the deal breaker however well it scores"
    );
    let e = err_text(service::award(&ctx, &key, "Cheapo", "victor").await);
    assert!(e.contains("deal breaker"), "{e}");

    // The award: Operations and Finance both approve (below the threshold).
    let asked = service::award(&ctx, &key, "Lumen", "victor").await?;
    assert_eq!(asked.approval.required, 2);
    assert_eq!(
        service::detail(&ctx, "Lumen").await?.vendor.state,
        State::Negotiating
    );
    let e = err_text(service::decide_award(&ctx, rfp.id, "maya", Decision::Approve, "").await);
    assert!(e.contains("may not decide"), "{e}");
    let first = service::decide_award(&ctx, rfp.id, "omar", Decision::Approve, "").await?;
    assert!(matches!(first.outcome, Outcome::Pending { .. }));
    let done = service::decide_award(&ctx, rfp.id, "felix", Decision::Approve, "ok").await?;
    assert_eq!(done.outcome, Outcome::Approved);
    assert_eq!(
        service::detail(&ctx, "Lumen").await?.vendor.state,
        State::Contracted
    );
    assert_eq!(
        service::detail(&ctx, "Atelier").await?.vendor.state,
        State::Refused
    );
    assert_eq!(
        service::detail(&ctx, "Cheapo").await?.vendor.state,
        State::Refused
    );

    // A contract: ending 2027-12-31 with one month's notice → 2027-11-30.
    let c = service::new_contract(
        &ctx,
        &NewContract {
            vendor: "Lumen".into(),
            start: d(2026, 12, 1),
            end: d(2027, 12, 31),
            monthly_cents: 350_000,
            auto_renew: true,
            notice: None,
            budget: Some(("operations".into(), "printing".into())),
        },
        "olu",
    )
    .await?;
    assert_eq!(c.notice_date, d(2027, 11, 30));
    assert_eq!(c.value_cents, 350_000 * 13);
    assert_eq!(c.department.as_deref(), Some("operations"));
    assert_eq!(
        service::detail(&ctx, "Lumen").await?.vendor.state,
        State::Active
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_make_otif_and_scorecards_and_a_poor_month_opens_a_plan() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    contracted(&ctx, "Lumen", false, d(2026, 10, 1), d(2027, 9, 30), false).await?;
    // Twenty orders in November, nineteen on time, one of those at 55%.
    for i in 0..20 {
        let delivered = if i == 19 {
            d(2026, 11, 12)
        } else {
            d(2026, 11, 9)
        };
        let received = if i == 0 { 55 } else { 100 };
        service::deliver(
            &ctx,
            &delivery(
                "Lumen",
                &format!("PO-{i}"),
                d(2026, 11, 10),
                delivered,
                100,
                received,
            ),
            "olu",
        )
        .await?;
    }
    // A split delivery of PO-3 arrives later with a new promise: still one order.
    let split = service::deliver(
        &ctx,
        &delivery("Lumen", "PO-3", d(2026, 11, 20), d(2026, 11, 11), 100, 0),
        "olu",
    )
    .await?;
    assert_eq!(
        split.promised,
        d(2026, 11, 10),
        "the statistics keep the original promise"
    );
    assert_eq!(split.rescheduled, Some(d(2026, 11, 20)));
    let card = service::review(
        &ctx,
        "Lumen",
        "2026-11".parse()?,
        &[("responsiveness".into(), 90.0)],
        "olu",
    )
    .await?;
    assert_eq!(card.kpis.orders, 20);
    assert_eq!(
        card.kpis.on_time_rate,
        Some(0.85),
        "PO-3's last receipt is late now"
    );
    let json = serde_json::to_value(&card)?;
    for key in [
        "vendor",
        "period",
        "criteria",
        "period_score",
        "overall_score",
        "standing",
        "kpis",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    for key in ["on_time_rate", "otif_rate", "in_full_rate", "ppm", "orders"] {
        assert!(
            json["kpis"].get(key).is_some(),
            "kpis.{key} missing in {json}"
        );
    }
    assert_eq!(json["period"], "2026-11");

    // October had no deliveries: null figures and no score, never 100%.
    let october = service::review(&ctx, "Lumen", "2026-10".parse()?, &[], "olu").await?;
    assert_eq!(october.period_score, None);
    let oj = serde_json::to_value(&october)?;
    assert!(
        oj["kpis"]["on_time_rate"].is_null()
            && oj["kpis"]["otif_rate"].is_null()
            && oj["kpis"]["ppm"].is_null(),
        "{oj}"
    );
    assert!(october.criteria.iter().all(|c| c.score.is_none()));

    // November scored below 85: an improvement plan with an owner and a deadline.
    let period_score = card.period_score.ok_or("no score")?;
    assert!(period_score < 85.0, "{period_score}");
    let plan_id = card.plan_opened.ok_or("no plan opened")?;
    let detail = service::detail(&ctx, "Lumen").await?;
    assert_eq!(detail.vendor.state, State::Improvement);
    let plan = detail.plan.ok_or("no plan")?;
    assert_eq!(
        (plan.id, plan.owner.as_str(), plan.status.as_str()),
        (plan_id, "victor", "open")
    );
    assert_eq!(plan.deadline, t0() + TimeDelta::days(60));
    service::checkin(&ctx, "Lumen", "weekly call with the lab", "victor").await?;

    // The deadline passes with no better review: the deciders are asked.
    clock.advance(TimeDelta::days(61));
    passes(&engine, 3).await?;
    let plans = service::plans(&ctx, Some("Lumen")).await?;
    assert_eq!(plans[0].status, "deciding");
    let request = plans[0].approval_id.ok_or("no approval")?;
    // Extend or end, decided through the shared approvals route.
    let (_, outcome) = vivid_core::decisions::decide_request(
        &ctx,
        request,
        "omar",
        Decision::Reject,
        "not improving",
        None,
    )
    .await?;
    assert_eq!(outcome, Outcome::Rejected);
    let detail = service::detail(&ctx, "Lumen").await?;
    assert_eq!(detail.vendor.state, State::Ended);
    assert_eq!(detail.plan.map(|p| p.status), Some("ended".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_month_meets_the_plan_and_the_vendor_is_active_again() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    contracted(&ctx, "Lumen", false, d(2026, 10, 1), d(2027, 9, 30), false).await?;
    for i in 0..10 {
        let late = i < 5;
        service::deliver(
            &ctx,
            &delivery(
                "Lumen",
                &format!("A-{i}"),
                d(2026, 11, 10),
                if late {
                    d(2026, 11, 15)
                } else {
                    d(2026, 11, 10)
                },
                10,
                10,
            ),
            "olu",
        )
        .await?;
    }
    let card = service::review(
        &ctx,
        "Lumen",
        "2026-11".parse()?,
        &[("responsiveness".into(), 80.0)],
        "olu",
    )
    .await?;
    assert!(card.plan_opened.is_some());
    // December: all on time.
    clock.set(t0() + TimeDelta::days(31));
    for i in 0..10 {
        service::deliver(
            &ctx,
            &delivery(
                "Lumen",
                &format!("B-{i}"),
                d(2026, 12, 10),
                d(2026, 12, 10),
                10,
                10,
            ),
            "olu",
        )
        .await?;
    }
    let dec = service::review(
        &ctx,
        "Lumen",
        "2026-12".parse()?,
        &[("responsiveness".into(), 95.0)],
        "olu",
    )
    .await?;
    assert!(dec.period_score.unwrap_or(0.0) >= 85.0, "{dec:?}");
    assert!(dec.plan_opened.is_none(), "one plan at a time");
    clock.set(t0() + TimeDelta::days(61));
    passes(&engine, 3).await?;
    let detail = service::detail(&ctx, "Lumen").await?;
    assert_eq!(detail.vendor.state, State::Active);
    assert_eq!(detail.plan.map(|p| p.status), Some("met".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_critical_vendor_opens_one_incident() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    contracted(
        &ctx,
        "Northline",
        true,
        d(2026, 11, 1),
        d(2027, 10, 31),
        false,
    )
    .await?;
    let mut opened = Vec::new();
    for i in 0..5 {
        let r = service::deliver(
            &ctx,
            &delivery(
                "Northline",
                &format!("N-{i}"),
                d(2026, 11, 10),
                d(2026, 11, 13),
                10,
                10,
            ),
            "olu",
        )
        .await?;
        opened.extend(r.incidents);
    }
    // Three late in a row open one; the on-time rate (below 80% with five
    // orders) is another condition, opened once too.
    assert_eq!(opened.len(), 2, "{opened:?}");
    let mut conn = ctx.pool.acquire().await?;
    let incidents = vivid_core::crisis::store::list(
        &mut conn,
        &vivid_core::crisis::store::ListFilter {
            statuses: Vec::new(),
            severity: None,
            department: None,
            limit: 100,
            include_simulated: false,
        },
    )
    .await?;
    assert_eq!(incidents.len(), 2);
    assert!(incidents.iter().all(|i| i.title.contains("Northline")));
    // A non-critical vendor's lateness opens nothing.
    contracted(
        &ctx,
        "Slowpoke",
        false,
        d(2026, 11, 1),
        d(2027, 10, 31),
        false,
    )
    .await?;
    for i in 0..5 {
        let r = service::deliver(
            &ctx,
            &delivery(
                "Slowpoke",
                &format!("S-{i}"),
                d(2026, 11, 10),
                d(2026, 11, 13),
                10,
                10,
            ),
            "olu",
        )
        .await?;
        assert!(r.incidents.is_empty());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_renewing_contract_with_no_decision_renews_at_the_notice_date() -> TestResult {
    let (_db, ctx, clock, engine) = setup().await?;
    contracted(&ctx, "Lumen", false, d(2026, 11, 1), d(2027, 2, 28), true).await?;
    contracted(
        &ctx,
        "Oakline",
        false,
        d(2026, 11, 1),
        d(2027, 2, 28),
        false,
    )
    .await?;
    let due = service::renewals_due(&ctx).await?;
    assert_eq!(due.len(), 2, "notice dates 2027-01-28 are within 90 days");
    // The reminder 30 days before the notice date asks the Vendor director.
    clock.set(t0() + TimeDelta::days(29));
    passes(&engine, 3).await?;
    let mut conn = ctx.pool.acquire().await?;
    let reminded = events::list(
        &mut conn,
        &events::Filter {
            workflow: Some("vendor".into()),
            after_id: Some(0),
            limit: 1000,
            ..events::Filter::default()
        },
    )
    .await?
    .into_iter()
    .filter(|e| e.action == "deadline_reminded")
    .count();
    assert_eq!(reminded, 2);
    // The notice date passes with no decision.
    clock.set(t0() + TimeDelta::days(60));
    passes(&engine, 3).await?;
    let lumen = service::detail(&ctx, "Lumen").await?;
    assert_eq!(lumen.vendor.state, State::Renewed);
    let next = lumen.contract.ok_or("no contract")?;
    assert_eq!(
        (next.start_date, next.end_date),
        (d(2027, 3, 1), d(2027, 6, 30))
    );
    let log = events::list(
        &mut conn,
        &events::Filter {
            workflow: Some("vendor".into()),
            after_id: Some(0),
            limit: 1000,
            ..events::Filter::default()
        },
    )
    .await?;
    let auto = log
        .iter()
        .find(|e| e.action == "auto_renewed")
        .ok_or("no auto_renewed event")?;
    assert!(auto.reason.as_deref().unwrap_or("").contains("auto-renews"));
    // Without auto-renew the contract runs out and the vendor ends.
    let oak = service::detail(&ctx, "Oakline").await?;
    assert_eq!(oak.contract.map(|c| c.status), Some("ending".into()));
    clock.set(t0() + TimeDelta::days(95));
    passes(&engine, 3).await?;
    assert_eq!(
        service::detail(&ctx, "Oakline").await?.vendor.state,
        State::Ended
    );
    // A renewal by hand: the next term.
    let e = err_text(service::renew(&ctx, "Lumen", "olu").await);
    assert!(e.contains("cannot renew"), "{e}");
    let r = service::renew(&ctx, "Lumen", "victor").await?;
    assert_eq!(r.next.map(|c| c.start_date), Some(d(2027, 7, 1)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    let e = err_text(
        service::add(
            &ctx,
            &NewVendor {
                name: "X".into(),
                category: "bakery".into(),
                critical: false,
            },
            "olu",
        )
        .await,
    );
    assert!(e.contains("unknown vendor category"), "{e}");
    let e = err_text(
        service::add(
            &ctx,
            &NewVendor {
                name: "X".into(),
                category: "framing".into(),
                critical: false,
            },
            "maya",
        )
        .await,
    );
    assert!(e.contains("cannot add vendors"), "{e}");
    add(&ctx, "Lumen", "print_lab", false).await?;
    let e = err_text(
        service::add(
            &ctx,
            &NewVendor {
                name: "lumen".into(),
                category: "framing".into(),
                critical: false,
            },
            "olu",
        )
        .await,
    );
    assert!(e.contains("already"), "{e}");
    let e = err_text(
        service::deliver(
            &ctx,
            &delivery("Lumen", "P1", d(2026, 11, 1), d(2026, 11, 1), 10, 10),
            "olu",
        )
        .await,
    );
    assert!(e.contains("under contract"), "{e}");
    let e = err_text(
        service::review(
            &ctx,
            "Lumen",
            "2026-11".parse()?,
            &[("delivery".into(), 50.0)],
            "olu",
        )
        .await,
    );
    assert!(
        e.contains("KPI") || e.contains("kpi") || e.contains("scored from"),
        "{e}"
    );
    let e = err_text(service::scorecard(&ctx, "Nobody", None).await);
    assert!(e.contains("no vendor"), "{e}");
    assert_eq!(service::list(&ctx, None).await?.len(), 1);
    let p: Result<Period, _> = "2026-13".parse();
    assert!(p.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_pii_goes_through_the_privacy_workflow() -> TestResult {
    let (_db, ctx, _clock, _engine) = setup().await?;
    add(&ctx, "Lumen", "print_lab", false).await?;
    let key = vivid_core::privacy::crypto::MasterKey::generate()?;
    let c = service::set_contact(
        &ctx,
        &key,
        "Lumen",
        &[
            ("name".into(), "Ada Lovelace".into()),
            ("email".into(), "ada@lumen.example".into()),
        ],
        "olu",
    )
    .await?;
    assert_eq!(
        c.subject,
        format!("vendor-{}", service::detail(&ctx, "Lumen").await?.vendor.id)
    );
    assert_eq!(c.pii_fields, vec!["name".to_string(), "email".to_string()]);
    // The value is sealed: not in the event log, not on the vendor.
    let mut conn = ctx.pool.acquire().await?;
    let log = events::list(
        &mut conn,
        &events::Filter {
            after_id: Some(0),
            limit: 1000,
            ..events::Filter::default()
        },
    )
    .await?;
    let text = serde_json::to_string(&log)?;
    assert!(!text.contains("ada@lumen.example") && !text.contains("Lovelace"));
    let shown = serde_json::to_string(&service::detail(&ctx, "Lumen").await?)?;
    assert!(!shown.contains("ada@lumen.example"));
    Ok(())
}

/// Money flows one way: a contract naming a budget line commits its first
/// month's billing there, in the contract's transaction; without a line the
/// contract stands and says the money is not tracked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_commits_its_billing_on_the_budget_line() -> TestResult {
    use vivid_core::budget::service::{SetLine, set_line};
    let (db, ctx, _clock, _engine) = setup().await?;
    let start = ctx.calendar.local_date(ctx.now());
    let end = start + TimeDelta::days(365);
    // No line yet: signed, and the event says so.
    contracted(&ctx, "Lumen", false, start, end, false).await?;
    let untracked: Option<String> = sqlx::query_scalar(
        "SELECT payload->>'budget_untracked' FROM events WHERE action = 'contract_signed' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await?;
    assert!(untracked.is_some_and(|w| w.contains("no budget line for operations")));

    let line = SetLine {
        department: "operations".into(),
        amount_cents: 1_000_000,
        channel: None,
        campaign: None,
        period: None,
        hard: false,
        rollover: None,
    };
    set_line(&ctx, &line, "felix").await?;
    contracted(&ctx, "Oakline", false, start, end, false).await?;
    let committed: i64 = sqlx::query_scalar(
        "SELECT committed_cents FROM budget_lines WHERE department = 'operations' AND channel = ''",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(
        committed, 100_000,
        "one month's billing of the second contract"
    );
    Ok(())
}
