//! Instants and intervals as the catalogue stores them: microseconds since the
//! Unix epoch, UTC, parsed strictly from RFC 3339.

use super::error::{CatalogError, Result};
use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// The current time in microseconds since the epoch.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}

/// Parses a strict RFC 3339 date-time (a time zone or `Z` is required).
pub fn parse_rfc3339(s: &str) -> Option<Micros> {
    // chrono accepts a space for the `T`; RFC 3339 §5.6 is stricter, and so are we.
    let bytes = s.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|dt| dt.with_timezone(&Utc).timestamp_micros())
}

/// Parses an item's date-time: RFC 3339, also with a space between date and
/// time (RFC 3339 §5.6 allows it, and real catalogues write it).
pub fn parse_item_datetime(s: &str) -> Option<Micros> {
    parse_rfc3339(s).or_else(|| {
        let b = s.as_bytes();
        (b.len() >= 20 && b[10] == b' ')
            .then(|| format!("{}T{}", &s[..10], &s[11..]))
            .and_then(|t| parse_rfc3339(&t))
    })
}

/// Formats microseconds as RFC 3339 in UTC with a `Z` suffix.
pub fn format_rfc3339(micros: Micros) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => String::from("invalid"),
    }
}

/// A closed time interval, either end possibly open (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Inclusive start, `None` for open.
    pub start: Option<Micros>,
    /// Inclusive end, `None` for open.
    pub end: Option<Micros>,
}

impl Interval {
    /// Parses the STAC API `datetime` parameter: an instant, or `start/end`
    /// where either side may be `..` or empty (but not both).
    pub fn parse(s: &str) -> Result<Interval> {
        let s = s.trim();
        let bad = |part: &str| {
            CatalogError::query(format!(
                "datetime: '{part}' is not an RFC 3339 date-time with a time zone, e.g. 2023-06-01T00:00:00Z"
            ))
        };
        let parse_end = |part: &str| -> Result<Option<Micros>> {
            if part.is_empty() || part == ".." {
                Ok(None)
            } else {
                parse_rfc3339(part).map(Some).ok_or_else(|| bad(part))
            }
        };
        if s.is_empty() {
            return Err(CatalogError::query("datetime: empty value"));
        }
        match s.split_once('/') {
            None => {
                let t = parse_rfc3339(s).ok_or_else(|| bad(s))?;
                Ok(Interval {
                    start: Some(t),
                    end: Some(t),
                })
            }
            Some((a, b)) => {
                if b.contains('/') {
                    return Err(CatalogError::query(
                        "datetime: an interval has exactly one '/'",
                    ));
                }
                let (start, end) = (parse_end(a)?, parse_end(b)?);
                if start.is_none() && end.is_none() {
                    return Err(CatalogError::query(
                        "datetime: an interval needs at least one closed end ('../..' is not allowed)",
                    ));
                }
                if let (Some(s), Some(e)) = (start, end)
                    && s > e
                {
                    return Err(CatalogError::query(format!(
                        "datetime: start {a} is after end {b}"
                    )));
                }
                Ok(Interval { start, end })
            }
        }
    }

    /// True when `[start, end]` of an item overlaps this interval.
    pub fn overlaps(&self, start: Micros, end: Micros) -> bool {
        self.start.is_none_or(|s| end >= s) && self.end.is_none_or(|e| start <= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_instants() {
        assert!(parse_rfc3339("2023-06-01T10:00:00Z").is_some());
        assert!(parse_rfc3339("2023-06-01T10:00:00.123+02:00").is_some());
        assert!(parse_rfc3339("2023-06-01T10:00:00").is_none(), "zone-less");
        assert!(parse_rfc3339("2023-06-01").is_none());
        assert!(parse_rfc3339("2023-06-01 10:00:00Z").is_none());
        assert!(parse_rfc3339("2023-13-01T10:00:00Z").is_none());
    }

    #[test]
    fn intervals() {
        let i = Interval::parse("2020-01-01T00:00:00Z/..").unwrap();
        assert!(i.start.is_some() && i.end.is_none());
        let i = Interval::parse("/2020-01-01T00:00:00Z").unwrap();
        assert!(i.start.is_none() && i.end.is_some());
        assert!(Interval::parse("../..").is_err());
        assert!(Interval::parse("2021-01-01T00:00:00Z/2020-01-01T00:00:00Z").is_err());
        assert!(Interval::parse("2020-01-01T00:00:00Z/2021-01-01T00:00:00Z/x").is_err());
    }

    #[test]
    fn item_datetimes_may_use_a_space() {
        assert_eq!(
            parse_item_datetime("2022-04-28 03:44:17.707575+00:00"),
            parse_rfc3339("2022-04-28T03:44:17.707575Z")
        );
    }

    #[test]
    fn round_trip() {
        let t = parse_rfc3339("2018-01-01T10:45:38.156Z").unwrap();
        assert_eq!(format_rfc3339(t), "2018-01-01T10:45:38.156Z");
    }
}
