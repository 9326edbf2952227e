//! Times as the console shows and reads them: UTC, to the second.

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Unix ms as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// Unix ms as an hour label, `MM-DD HH:00`.
pub fn hour(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!("[month]-[day] [hour]:00"))
                .ok()
        })
        .unwrap_or_default()
}

/// A `datetime-local` input's value (`YYYY-MM-DDTHH:MM`, optionally `:SS`), read as UTC.
pub fn parse_local(text: &str) -> Option<i64> {
    let text = text.trim();
    let parsed = PrimitiveDateTime::parse(
        text,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            text,
            format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
    })
    .ok()?;
    let ms = parsed.assume_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_the_inputs() {
        let ms = parse_local("2026-11-22T07:40").expect("parses");
        assert_eq!(utc(ms), "2026-11-22 07:40:00");
        assert_eq!(parse_local("2026-11-22T07:40:05"), Some(ms + 5000));
        assert_eq!(hour(ms), "11-22 07:00");
        assert_eq!(parse_local("yesterday"), None);
        assert_eq!(parse_local("2026-13-01T00:00"), None);
    }
}
