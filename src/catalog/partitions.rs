//! How a collection's items are split in time: the collection field
//! `tuilerie:time_partitions` (schema: `schemas/time-partitions.json`).
//!
//! ```json
//! "tuilerie:time_partitions": "year"
//! ```
//!
//! Without it a collection's items are kept together (on PostgreSQL, one
//! partition of the items table). A large collection — years of Sentinel-2
//! tiles — may ask for one partition per `year` or per `month` of its items'
//! `datetime`: a search over a time range then reads only the partitions
//! that range meets, and old years can be vacuumed, dumped or moved apart.
//! The embedded SQLite store ignores the field. It never changes a search's
//! results.

use serde_json::{Map, Value};

/// The field of a collection that asks for time partitions.
pub const TIME_PARTITIONS_FIELD: &str = "tuilerie:time_partitions";

/// The span of one time partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeSpan {
    /// A calendar year (UTC).
    Year,
    /// A calendar month (UTC).
    Month,
}

impl TimeSpan {
    /// The name used in `tuilerie:time_partitions`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSpan::Year => "year",
            TimeSpan::Month => "month",
        }
    }

    /// Reads a name written by [`TimeSpan::as_str`].
    pub fn from_name(name: &str) -> Option<TimeSpan> {
        match name {
            "year" => Some(TimeSpan::Year),
            "month" => Some(TimeSpan::Month),
            _ => None,
        }
    }

    /// The partition holding an instant (microseconds since the epoch): its
    /// first instant, its end (exclusive), and a label (`2021`, `2021_03`).
    /// Instants out of chrono's range fall in the first or last partition
    /// it can name.
    pub fn bounds(self, micros: i64) -> (i64, i64, String) {
        use chrono::{Datelike, TimeZone, Utc};
        let t = Utc
            .timestamp_micros(micros)
            .single()
            .unwrap_or(if micros < 0 {
                chrono::DateTime::<Utc>::MIN_UTC
            } else {
                chrono::DateTime::<Utc>::MAX_UTC
            });
        let (y, m) = (t.year(), t.month());
        let start = |y: i32, m: u32| {
            Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                .single()
                .map_or(if y < 0 { i64::MIN } else { i64::MAX }, |d| {
                    d.timestamp_micros()
                })
        };
        match self {
            TimeSpan::Year => (start(y, 1), start(y + 1, 1), format!("{y:04}")),
            TimeSpan::Month => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (start(y, m), start(ny, nm), format!("{y:04}_{m:02}"))
            }
        }
    }
}

/// Reads and checks the `tuilerie:time_partitions` of a collection document
/// (none when absent). Errors are meant for the person who wrote it.
pub fn of(doc: &Map<String, Value>) -> Result<Option<TimeSpan>, String> {
    match doc.get(TIME_PARTITIONS_FIELD) {
        None => Ok(None),
        Some(Value::String(s)) => TimeSpan::from_name(s).map(Some).ok_or_else(|| {
            format!(
                "{TIME_PARTITIONS_FIELD}: '{}' is not \"year\" or \"month\"",
                s.escape_debug()
            )
        }),
        Some(other) => Err(format!(
            "{TIME_PARTITIONS_FIELD} must be \"year\" or \"month\", not {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn micros(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn the_field_is_year_or_month() {
        let read = |v: Value| {
            let mut doc = Map::new();
            doc.insert(TIME_PARTITIONS_FIELD.into(), v);
            of(&doc)
        };
        assert_eq!(of(&Map::new()), Ok(None));
        assert_eq!(read(json!("year")), Ok(Some(TimeSpan::Year)));
        assert_eq!(read(json!("month")), Ok(Some(TimeSpan::Month)));
        for bad in [json!("week"), json!(1), json!(null), json!(["year"])] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_instant_falls_in_its_calendar_year_or_month() {
        let t = micros("2021-03-31T23:59:59.999999Z");
        assert_eq!(
            TimeSpan::Year.bounds(t),
            (
                micros("2021-01-01T00:00:00Z"),
                micros("2022-01-01T00:00:00Z"),
                "2021".to_string()
            )
        );
        assert_eq!(
            TimeSpan::Month.bounds(t),
            (
                micros("2021-03-01T00:00:00Z"),
                micros("2021-04-01T00:00:00Z"),
                "2021_03".to_string()
            )
        );
        let december = micros("1999-12-15T12:00:00Z");
        assert_eq!(
            TimeSpan::Month.bounds(december).1,
            micros("2000-01-01T00:00:00Z")
        );
        // The first instant of a partition is in it, its end is not.
        let (start, end, _) = TimeSpan::Year.bounds(micros("2024-06-01T00:00:00Z"));
        assert_eq!(TimeSpan::Year.bounds(start).0, start);
        assert_eq!(TimeSpan::Year.bounds(end).0, end);
        // Before 1970 too.
        assert_eq!(
            TimeSpan::Year.bounds(micros("1969-07-20T20:17:40Z")).2,
            "1969"
        );
    }
}
