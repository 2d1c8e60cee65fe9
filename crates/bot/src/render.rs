//! Shared pieces of what the bot shows: clocks as Discord timestamps (each
//! reader sees them in their own time zone, counting live), people by name,
//! colours by severity.

use chrono::{DateTime, Utc};
use vivid_core::Ctx;

/// `<t:UNIX:R>`: "in 12 minutes", "3 hours ago", kept current by the client.
pub fn relative(t: DateTime<Utc>) -> String {
    format!("<t:{}:R>", t.timestamp())
}

/// `<t:UNIX:f>`: date and time in the reader's zone.
pub fn absolute(t: DateTime<Utc>) -> String {
    format!("<t:{}:f>", t.timestamp())
}

/// A person's name, or the handle when the directory no longer has them.
pub fn name(ctx: &Ctx, handle: &str) -> String {
    if handle == "engine" {
        return "the engine".into();
    }
    ctx.org
        .person(handle)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| format!("@{handle}"))
}

/// A department's display name.
pub fn department(ctx: &Ctx, key: &str) -> String {
    ctx.org
        .department(key)
        .map(|d| d.name.clone())
        .unwrap_or_else(|| key.to_string())
}

pub const RED: u32 = 0xD3_2F2F;
pub const ORANGE: u32 = 0xF5_7C00;
pub const YELLOW: u32 = 0xFB_C02D;
pub const BLUE: u32 = 0x19_76D2;
pub const GREEN: u32 = 0x38_8E3C;
pub const GREY: u32 = 0x75_7575;

/// Colour of a notification by its severity ("critical", "warning", "info").
pub fn notification_colour(severity: &str) -> u32 {
    match severity {
        "critical" => RED,
        "warning" => ORANGE,
        _ => BLUE,
    }
}

/// "phase_changed" -> "phase changed".
pub fn action_label(action: &str) -> String {
    action.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_discord_timestamps() {
        let t = DateTime::from_timestamp(1_767_600_000, 0).unwrap_or_default();
        assert_eq!(relative(t), "<t:1767600000:R>");
        assert_eq!(absolute(t), "<t:1767600000:f>");
        assert_eq!(action_label("phase_changed"), "phase changed");
    }
}
