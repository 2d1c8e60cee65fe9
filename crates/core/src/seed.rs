//! `vivid seed demo`: a realistic, deterministic VividWalls data set. Each
//! part is loaded once (marked in `seed_marks`), so seeding is idempotent
//! and later workflows add their parts without reloading the others.

use chrono::TimeDelta;
use serde::Serialize;
use sqlx::PgConnection;

use crate::engine::Ctx;
use crate::error::Result;
use crate::metrics;
use crate::rng::Rng;
use crate::workflow::Seeded;

#[derive(Debug, Default, Clone, Serialize)]
pub struct SeedReport {
    pub loaded: Vec<String>,
    pub already_present: Vec<String>,
    /// Parts that could not load now (and why); a later run loads them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// Wall-art products: (sku, title, collection, price in cents, critical).
const PRODUCTS: &[(&str, &str, &str, i64, bool)] = &[
    ("VW-ABS-001", "Chromatic Drift", "Abstract", 18900, true),
    ("VW-ABS-002", "Indigo Fault Lines", "Abstract", 15900, false),
    ("VW-ABS-003", "Saffron Echo", "Abstract", 12900, false),
    ("VW-BOT-001", "Monstera Study", "Botanical", 8900, true),
    ("VW-BOT-002", "Fern Archive No. 3", "Botanical", 7900, false),
    ("VW-BOT-003", "Wild Poppies", "Botanical", 9900, false),
    ("VW-CTY-001", "Lisbon at Dusk", "Cityscapes", 14900, true),
    (
        "VW-CTY-002",
        "Brooklyn Rooftops",
        "Cityscapes",
        16900,
        false,
    ),
    ("VW-CTY-003", "Kyoto Rain", "Cityscapes", 15900, true),
    ("VW-COA-001", "Atlantic Morning", "Coastal", 11900, true),
    ("VW-COA-002", "Salt and Driftwood", "Coastal", 10900, false),
    ("VW-MIN-001", "Two Lines, Resting", "Minimal", 6900, false),
    ("VW-MIN-002", "Quiet Arch", "Minimal", 7400, true),
    ("VW-PHO-001", "Dune Shadows", "Photography", 13900, false),
    (
        "VW-PHO-002",
        "Northern Lights Over Tromsø",
        "Photography",
        19900,
        true,
    ),
    ("VW-PHO-003", "Morning Market", "Photography", 12400, false),
    ("VW-KID-001", "Counting Whales", "Kids", 5900, false),
    ("VW-KID-002", "Alphabet Garden", "Kids", 5400, false),
    (
        "VW-VIN-001",
        "Botanical Plates 1890",
        "Vintage",
        9400,
        false,
    ),
    ("VW-VIN-002", "Old Maps of the Sea", "Vintage", 11400, true),
];

/// Campaigns: (key, name, channel, owning department, days from today it started).
const CAMPAIGNS: &[(&str, &str, &str, &str, i64)] = &[
    (
        "spring-refresh",
        "Spring Refresh",
        "email",
        "marketing",
        -40,
    ),
    (
        "coastal-launch",
        "Coastal Collection Launch",
        "social",
        "marketing",
        -21,
    ),
    (
        "gift-guide",
        "Holiday Gift Guide",
        "content",
        "marketing",
        -7,
    ),
    ("retarget-q4", "Q4 Retargeting", "ads", "marketing", -30),
    (
        "trade-program",
        "Interior Designer Trade Program",
        "sales",
        "sales",
        -60,
    ),
    (
        "loyalty-upsell",
        "Loyalty Upsell",
        "email",
        "customer_experience",
        -14,
    ),
];

async fn mark(conn: &mut PgConnection, name: &str, ctx: &Ctx) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO seed_marks (name, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(ctx.now())
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Load every part of the demo data set that is not there yet.
pub async fn demo(ctx: &Ctx) -> Result<SeedReport> {
    ctx.org.sync(&ctx.pool).await?;
    // One seeder at a time, across processes.
    let mut lock = ctx.pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(727275)")
        .execute(&mut *lock)
        .await?;
    let result = load_parts(ctx).await;
    sqlx::query("SELECT pg_advisory_unlock(727275)")
        .execute(&mut *lock)
        .await
        .ok();
    result
}

/// The mark that says this database was made by the demo seed: the
/// simulator runs only where it is (`simulate::check_database`).
pub const DEMO_MARK: &str = "demo";

async fn load_parts(ctx: &Ctx) -> Result<SeedReport> {
    let mut report = SeedReport::default();
    mark(&mut *ctx.pool.acquire().await?, DEMO_MARK, ctx).await?;
    // Shared data every workflow draws on, each part written in one
    // transaction with its mark.
    let parts: [(&str, PartFn); 3] = [
        ("catalog", seed_catalog),
        ("campaigns", seed_campaigns),
        ("metrics", seed_metrics),
    ];
    for (name, part) in parts {
        let mut tx = ctx.pool.begin().await?;
        if mark(&mut tx, name, ctx).await? {
            part(ctx, &mut tx).await?;
            report.loaded.push(name.to_string());
        } else {
            report.already_present.push(name.to_string());
        }
        tx.commit().await?;
    }
    // Each workflow's part, made through its services (their own
    // transactions): marked with the workflow's name once complete.
    for workflow in crate::workflow::all() {
        let name = workflow.name();
        let present: Option<i32> = sqlx::query_scalar("SELECT 1 FROM seed_marks WHERE name = $1")
            .bind(name)
            .fetch_optional(&ctx.pool)
            .await?;
        if present.is_some() {
            report.already_present.push(name.to_string());
            continue;
        }
        match workflow.seed(ctx).await? {
            Seeded::Loaded => {
                let mut conn = ctx.pool.acquire().await?;
                mark(&mut conn, name, ctx).await?;
                report.loaded.push(name.to_string());
            }
            Seeded::Skipped(why) => report.skipped.push(format!("{name} ({why})")),
        }
    }
    Ok(report)
}

type PartFn =
    for<'a> fn(
        &'a Ctx,
        &'a mut PgConnection,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;

fn seed_catalog<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let mut rng = Rng::new(ctx.config.simulate.seed);
        for (sku, title, collection, price, critical) in PRODUCTS {
            let stock = i32::try_from(rng.below(120)).unwrap_or(0) + 5;
            sqlx::query(
                "INSERT INTO products (sku, title, collection, price_cents, stock, critical) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (sku) DO NOTHING",
            )
            .bind(sku)
            .bind(title)
            .bind(collection)
            .bind(price)
            .bind(stock)
            .bind(critical)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    })
}

fn seed_campaigns<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let today = ctx.now().date_naive();
        for (key, name, channel, dept, offset) in CAMPAIGNS {
            sqlx::query(
                "INSERT INTO campaigns (key, name, channel, department, starts_on) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(name)
            .bind(channel)
            .bind(dept)
            .bind(today + TimeDelta::days(*offset))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    })
}

/// Fourteen days of daily business metrics with a weekly rhythm.
fn seed_metrics<'a>(
    ctx: &'a Ctx,
    conn: &'a mut PgConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let mut rng = Rng::new(ctx.config.simulate.seed ^ 0x5eed);
        let now = ctx.now();
        for day in (0..14).rev() {
            let at = now - TimeDelta::days(day);
            let weekly = 1.0 + 0.15 * ((day as f64) * std::f64::consts::TAU / 7.0).sin();
            let sessions = (5200.0 * weekly + 300.0 * rng.normal()).max(0.0).round();
            let conversion = (0.021 + 0.002 * rng.normal()).clamp(0.005, 0.06);
            let orders = (sessions * conversion).round();
            let revenue = (orders * rng.range(105.0, 135.0)).round();
            let readings = [
                ("sessions", sessions),
                ("orders", orders),
                (
                    "conversion_rate",
                    (conversion * 10_000.0).round() / 10_000.0,
                ),
                ("daily_revenue", revenue),
                ("roas", (2.6 + 0.3 * rng.normal()).max(0.2)),
                ("daily_capacity", 140.0),
                ("order_backlog", (orders * rng.range(0.6, 1.1)).round()),
                (
                    "negative_sentiment",
                    (0.12 + 0.03 * rng.normal()).clamp(0.0, 1.0),
                ),
                ("critical_out_of_stock", rng.below(3) as f64),
            ];
            for (metric, value) in readings {
                metrics::record(conn, metric, value, at, "seed").await?;
            }
        }
        Ok(())
    })
}
