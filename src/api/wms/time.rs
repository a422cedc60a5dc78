//! The WMS `TIME` dimension: advertised values from the items' acquisition
//! days, and request values (instants at any ISO 8601 precision, intervals,
//! lists, `current`).

use super::exception::{WmsError, WmsResult};
use crate::catalog::datetime::{Interval, Micros, format_rfc3339};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

const DAY: Micros = 86_400_000_000;

/// The time dimension of a layer as capabilities advertise it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeDimension {
    /// `2023-06-15,2023-09-14` or `2017-01-01/2023-12-31/P1D`.
    pub values: String,
    /// The latest day.
    pub default: String,
}

fn day_text(day: Micros) -> String {
    format_rfc3339(day).chars().take(10).collect()
}

/// The dimension of acquisition `days` (ascending): a list when there are at
/// most `max_values`, else `first/last/P1D`; `None` when there is no day.
pub fn dimension(days: &[Micros], max_values: usize) -> Option<TimeDimension> {
    let (first, last) = (*days.first()?, *days.last()?);
    let values = if days.len() <= max_values.max(1) {
        days.iter()
            .map(|d| day_text(*d))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        format!("{}/{}/P1D", day_text(first), day_text(last))
    };
    Some(TimeDimension {
        values,
        default: day_text(last),
    })
}

/// A request's `TIME`: `None` for "current" (the latest acquisition at each
/// pixel), else the intervals it names. Values entirely outside `extent`
/// (first day, last day) are `InvalidDimensionValue`.
pub fn parse(raw: &str, extent: Option<(Micros, Micros)>) -> WmsResult<Option<Vec<Interval>>> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("current") {
        return Ok(None);
    }
    let mut out = Vec::new();
    for value in raw.split(',') {
        let value = value.trim();
        let interval = match value.split('/').collect::<Vec<_>>()[..] {
            [instant] => {
                let (start, end) = period(instant)?;
                Interval {
                    start: Some(start),
                    end: Some(end),
                }
            }
            [a, b] | [a, b, _] => {
                let start = if a.is_empty() || a == ".." {
                    None
                } else {
                    Some(period(a)?.0)
                };
                let end = if b.is_empty() || b == ".." || b.eq_ignore_ascii_case("current") {
                    None
                } else {
                    Some(period(b)?.1)
                };
                if let (Some(s), Some(e)) = (start, end)
                    && s > e
                {
                    return Err(invalid(value, "the start is after the end"));
                }
                Interval { start, end }
            }
            _ => return Err(invalid(value, "not an instant or start/end[/period]")),
        };
        if let Some((first, last)) = extent {
            let last_end = last + DAY - 1;
            if !interval.overlaps(first, last_end) {
                return Err(WmsError::new(
                    "InvalidDimensionValue",
                    "TIME",
                    format!(
                        "TIME '{value}' is outside the layer's time extent {}/{}",
                        day_text(first),
                        day_text(last)
                    ),
                ));
            }
        }
        out.push(interval);
    }
    Ok(Some(out))
}

fn invalid(value: &str, why: &str) -> WmsError {
    WmsError::new(
        "InvalidDimensionValue",
        "TIME",
        format!(
            "TIME '{value}': {why} (use ISO 8601: 2023-06-15, 2023-06, 2023-06-15T10:30:00Z, start/end)"
        ),
    )
}

fn micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

/// The first and last microsecond an ISO 8601 value of any precision covers.
fn period(value: &str) -> WmsResult<(Micros, Micros)> {
    let v = value.trim();
    let date = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| micros(Utc.from_utc_datetime(&t)))
            .ok_or_else(|| invalid(value, "no such date"))
    };
    let num = |s: &str| s.parse::<i64>().map_err(|_| invalid(value, "not a date"));
    let parts: Vec<&str> = v.split('-').collect();
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts[..] {
        [y] if y.len() == 4 && is_digits(y) => {
            let y = num(y)? as i32;
            Ok((date(y, 1, 1)?, date(y + 1, 1, 1)? - 1))
        }
        [y, m] if y.len() == 4 && is_digits(y) && is_digits(m) => {
            let (y, m) = (num(y)? as i32, num(m)? as u32);
            let start = date(y, m, 1)?;
            let next = if m == 12 {
                date(y + 1, 1, 1)?
            } else {
                date(y, m + 1, 1)?
            };
            Ok((start, next - 1))
        }
        [y, m, d] if y.len() == 4 && is_digits(y) && is_digits(m) && is_digits(d) => {
            let start = date(num(y)? as i32, num(m)? as u32, num(d)? as u32)?;
            Ok((start, start + DAY - 1))
        }
        _ => {
            let t = DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    // No zone: UTC.
                    NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M"))
                        .map(|t| Utc.from_utc_datetime(&t))
                })
                .map_err(|_| invalid(value, "not an ISO 8601 date or date-time"))?;
            Ok((micros(t), micros(t)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::datetime::parse_rfc3339;

    fn at(s: &str) -> Micros {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn advertises_lists_or_intervals() {
        let days = [at("2023-06-15T00:00:00Z"), at("2023-09-14T00:00:00Z")];
        let d = dimension(&days, 10).unwrap();
        assert_eq!(d.values, "2023-06-15,2023-09-14");
        assert_eq!(d.default, "2023-09-14");
        assert_eq!(
            dimension(&days, 1).unwrap().values,
            "2023-06-15/2023-09-14/P1D"
        );
        assert!(dimension(&[], 10).is_none());
    }

    #[test]
    fn parses_instants_at_every_precision() {
        let one = |s: &str| parse(s, None).unwrap().unwrap()[0];
        let day = one("2023-06-15");
        assert_eq!(day.start, Some(at("2023-06-15T00:00:00Z")));
        assert_eq!(day.end, Some(at("2023-06-16T00:00:00Z") - 1));
        assert_eq!(one("2023-06").end, Some(at("2023-07-01T00:00:00Z") - 1));
        assert_eq!(one("2023").start, Some(at("2023-01-01T00:00:00Z")));
        let instant = one("2023-06-15T10:30:00Z");
        assert_eq!(instant.start, instant.end);
        let range = one("2023-06-01/2023-06-30/P1D");
        assert_eq!(range.end, Some(at("2023-07-01T00:00:00Z") - 1));
        assert_eq!(
            parse("2023-06-15,2023-09-14", None).unwrap().unwrap().len(),
            2
        );
        assert!(parse("current", None).unwrap().is_none());
    }

    #[test]
    fn rejects_bad_and_out_of_extent_values() {
        let extent = Some((at("2023-06-15T00:00:00Z"), at("2023-09-14T00:00:00Z")));
        for bad in [
            "2023-13-01",
            "yesterday",
            "2023-06-30/2023-06-01",
            "1/2/3/4",
        ] {
            let e = parse(bad, None).unwrap_err();
            assert_eq!(e.code, Some("InvalidDimensionValue"), "{bad}");
        }
        assert!(parse("2020-01-01", extent).is_err());
        assert!(parse("2023-09-14", extent).is_ok());
        assert!(parse("2023-07", extent).is_ok());
    }
}
