//! SQL functions the embedded store adds to SQLite: spatial predicates on WKB
//! footprints, RFC 3339 parsing, case and accent folding, array predicates.

use crate::catalog::geometry::from_wkb;
use geo::{Intersects, Relate};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Error};
use serde_json::Value;

fn user_error(msg: String) -> Error {
    Error::UserFunctionError(msg.into())
}

/// Registers every function on a connection.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;

    // tl_spatial(op, a, b): a CQL2 spatial predicate between two WKB geometries.
    // The right-hand side is usually a bound literal, decoded once per statement.
    conn.create_scalar_function("tl_spatial", 3, flags, |ctx| {
        let op: String = ctx.get(0)?;
        let left = match ctx.get_raw(1) {
            ValueRef::Blob(b) => from_wkb(b),
            _ => return Ok(None),
        };
        let right = ctx.get_or_create_aux(2, |v| match v {
            ValueRef::Blob(b) => from_wkb(b).ok_or_else(|| user_error("bad WKB literal".into())),
            _ => Err(user_error("spatial literal must be WKB".into())),
        })?;
        let Some(left) = left else {
            return Ok(None);
        };
        let result = match op.as_str() {
            "s_intersects" => left.intersects(&*right),
            "s_disjoint" => !left.intersects(&*right),
            other => {
                let m = left.relate(&*right);
                match other {
                    "s_equals" => m.is_equal_topo(),
                    "s_touches" => m.is_touches(),
                    "s_within" => m.is_within(),
                    "s_overlaps" => m.is_overlaps(),
                    "s_crosses" => m.is_crosses(),
                    "s_contains" => m.is_contains(),
                    _ => return Err(user_error(format!("unknown spatial operator {other}"))),
                }
            }
        };
        Ok(Some(result))
    })?;

    // tl_micros(text): RFC 3339 to microseconds, NULL when not a date-time.
    conn.create_scalar_function("tl_micros", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(crate::catalog::datetime::parse_rfc3339),
            _ => None,
        })
    })?;

    conn.create_scalar_function("tl_casefold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).to_lowercase()),
            _ => None,
        })
    })?;

    conn.create_scalar_function("tl_unaccent", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Some(unaccent::unaccent(String::from_utf8_lossy(t))),
            _ => None,
        })
    })?;

    // tl_array(op, a, b): CQL2 array predicates between two JSON arrays.
    conn.create_scalar_function("tl_array", 3, flags, |ctx| {
        let op: String = ctx.get(0)?;
        let parse = |v: ValueRef| -> Option<Vec<Value>> {
            match v {
                ValueRef::Text(t) => match serde_json::from_slice(t) {
                    Ok(Value::Array(a)) => Some(a),
                    _ => None,
                },
                _ => None,
            }
        };
        let (Some(a), Some(b)) = (parse(ctx.get_raw(1)), parse(ctx.get_raw(2))) else {
            return Ok(None);
        };
        let contains_all = |x: &[Value], y: &[Value]| y.iter().all(|v| x.contains(v));
        Ok(Some(match op.as_str() {
            "a_equals" => contains_all(&a, &b) && contains_all(&b, &a),
            "a_contains" => contains_all(&a, &b),
            "a_containedby" => contains_all(&b, &a),
            "a_overlaps" => a.iter().any(|v| b.contains(v)),
            other => return Err(user_error(format!("unknown array operator {other}"))),
        }))
    })?;
    Ok(())
}
