//! Sort keys and keyset paging in SQL, shared by the stores: the sort
//! expressions, the signature tokens carry, and the "strictly after the
//! cursor" condition (NULLs last).

use super::error::{CatalogError, Result};
use super::filter::{Column, Dialect, SqlValue};
use super::query::{SortField, SortKey};
use super::queryables::PropertyKinds;
use super::token::SortValue;

/// Sort expression of a key, and whether it can be NULL.
pub fn sort_expr<D: Dialect>(
    sql: &mut D,
    key: &SortKey,
    kinds: &PropertyKinds,
) -> Result<(String, bool)> {
    Ok(match &key.field {
        SortField::Id => (sql.column(Column::Id), false),
        SortField::Collection => (sql.column(Column::Collection), false),
        SortField::Datetime => (sql.column(Column::Datetime), false),
        SortField::Start => (sql.column(Column::Start), false),
        SortField::End => (sql.column(Column::End), false),
        SortField::Property(name) => {
            if !kinds.contains(name) {
                return Err(CatalogError::query(format!(
                    "sortby: unknown property '{name}'; the queryables (/queryables) list those that can be used"
                )));
            }
            let expr = if kinds.is_datetime(name) {
                sql.property_micros(name)
            } else {
                sql.property(name)
            };
            (expr, true)
        }
    })
}

/// The sort signature carried in tokens.
pub fn signature(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| format!("{}{}", if k.descending { '-' } else { '+' }, k.field.name()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A cursor value as a bound value.
pub fn to_sql_value(v: &SortValue) -> SqlValue {
    match v {
        SortValue::Null => SqlValue::Null,
        SortValue::Int(i) => SqlValue::Int(*i),
        SortValue::Real(f) => SqlValue::Real(*f),
        SortValue::Text(s) => SqlValue::Text(s.clone()),
    }
}

/// The condition "strictly after the cursor" for the sort keys, NULLs last.
pub fn after<D: Dialect>(
    sql: &mut D,
    exprs: &[(String, bool)],
    keys: &[SortKey],
    values: &[SortValue],
) -> String {
    let uniform = keys.iter().all(|k| k.descending == keys[0].descending);
    let no_nulls = exprs.iter().all(|(_, nullable)| !nullable);
    if uniform && no_nulls {
        // Row values let the engine walk an index straight to the cursor.
        let lhs: Vec<&str> = exprs.iter().map(|(e, _)| e.as_str()).collect();
        let rhs: Vec<String> = values.iter().map(|v| sql.param(to_sql_value(v))).collect();
        let op = if keys[0].descending { "<" } else { ">" };
        return format!("(({}) {op} ({}))", lhs.join(", "), rhs.join(", "));
    }
    let mut alternatives = Vec::new();
    for i in 0..keys.len() {
        let mut parts = Vec::new();
        for j in 0..i {
            let (e, _) = &exprs[j];
            parts.push(match &values[j] {
                SortValue::Null => format!("{e} IS NULL"),
                v => format!("{e} = {}", sql.param(to_sql_value(v))),
            });
        }
        let (e, nullable) = &exprs[i];
        let after = match &values[i] {
            SortValue::Null => continue, // nothing sorts after NULL (NULLs last)
            v => {
                let p = sql.param(to_sql_value(v));
                let op = if keys[i].descending { "<" } else { ">" };
                if *nullable {
                    format!("({e} {op} {p} OR {e} IS NULL)")
                } else {
                    format!("{e} {op} {p}")
                }
            }
        };
        parts.push(after);
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    if alternatives.is_empty() {
        sql.truth(false)
    } else {
        format!("({})", alternatives.join(" OR "))
    }
}

/// Checks that a cursor was made for these sort keys.
pub fn check_cursor(cursor: &super::token::Cursor, keys: &[SortKey]) -> Result<()> {
    if cursor.signature != signature(keys) || cursor.values.len() != keys.len() {
        return Err(CatalogError::query(
            "token was issued for a different sortby; restart paging from the first page",
        ));
    }
    Ok(())
}
