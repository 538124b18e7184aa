//! Timestamps at the edge: RFC 3339 strings or epoch numbers in, RFC 3339 out.

use crate::Code;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// Below this an epoch number is taken as seconds, above as milliseconds (1e11 s is year 5138).
const SECONDS_LIMIT: f64 = 1e11;

/// Parses an RFC 3339 string or an epoch number (seconds or milliseconds) into epoch ms.
pub fn parse_timestamp(value: &serde_json::Value) -> Result<i64, String> {
    match value {
        serde_json::Value::String(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|e| format!("{text:?} is not an RFC 3339 timestamp ({e}); e.g. 2024-05-01T12:00:00Z")),
        serde_json::Value::Number(n) => {
            let n = n.as_f64().ok_or("timestamp is not a finite number")?;
            if !(0.0..1e14).contains(&n) {
                return Err(format!("timestamp {n} is outside the supported range"));
            }
            Ok(if n < SECONDS_LIMIT { (n * 1000.0) as i64 } else { n as i64 })
        }
        _ => Err("timestamp must be an RFC 3339 string or a number of epoch seconds/milliseconds".into()),
    }
}

/// Formats epoch milliseconds as RFC 3339 (UTC).
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// [`parse_timestamp`] for text that may hold either form (a query parameter).
/// Epoch numbers are digits, with at most 9 decimals (`1714564800`, `1714564800000.5`): not
/// `1e9`, `+5` or `inf`, which a float parser would take.
pub fn parse_timestamp_str(text: &str) -> Result<i64, Error> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |part: &str, max: usize| (1..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    let number = (digits(whole, 14) && digits(fraction, 9))
        .then(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64))
        .flatten();
    let value = match number {
        Some(number) => serde_json::Value::Number(number),
        None => serde_json::Value::String(text.to_owned()),
    };
    parse_timestamp(&value).map_err(|m| Error::invalid(Code::InvalidTimestamp, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_all_forms() {
        assert_eq!(parse_timestamp(&json!("1970-01-01T00:00:01Z")), Ok(1000));
        assert_eq!(parse_timestamp(&json!(1_700_000_000)), Ok(1_700_000_000_000));
        assert_eq!(parse_timestamp(&json!(1_700_000_000_123_i64)), Ok(1_700_000_000_123));
        assert!(parse_timestamp(&json!("yesterday")).is_err());
        assert!(parse_timestamp(&json!(true)).is_err());
        assert_eq!(format_ms(1000), "1970-01-01T00:00:01Z");
        assert_eq!(parse_timestamp_str("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_timestamp_str("1700000000000.5").unwrap(), 1_700_000_000_000);
        for text in ["1e9", "+5", "inf", "NaN", "", "1.", ".5", "123456789012345"] {
            assert!(parse_timestamp_str(text).is_err(), "{text}");
        }
    }
}
