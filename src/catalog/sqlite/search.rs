//! Item search on the embedded store: SQL built from a [`SearchQuery`], with
//! every value bound, keyset paging and an exact count.

use super::{db, visible_collections};
use crate::catalog::error::{CatalogError, Result};
use crate::catalog::filter::{Column, Dialect, SqlValue, Translator};
use crate::catalog::geometry::Footprint;
use crate::catalog::keyset;
use crate::catalog::query::{SearchQuery, SortField, Spatial};
use crate::catalog::queryables::PropertyKinds;
use crate::catalog::scope::Scope;
use crate::catalog::token::{Cursor, SortValue};
use crate::catalog::{ItemPage, StoredItem};
use rusqlite::types::{ToSqlOutput, Value as SqlVal, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(SqlVal::Null),
            SqlValue::Bool(b) => ToSqlOutput::Owned(SqlVal::Integer(*b as i64)),
            SqlValue::Int(i) => ToSqlOutput::Owned(SqlVal::Integer(*i)),
            SqlValue::Real(f) => ToSqlOutput::Owned(SqlVal::Real(*f)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// SQLite renderings for the CQL2 translator, collecting bound values.
#[derive(Default)]
pub(super) struct SqliteSql {
    pub params: Vec<SqlValue>,
    /// The statement must join `item_data p`.
    pub needs_props: bool,
}

impl SqliteSql {
    fn path(&mut self, name: &str) -> Result<String> {
        if name.contains('"') || name.contains('\\') {
            return Err(CatalogError::query(format!(
                "property name {name:?} contains a quote or a backslash"
            )));
        }
        Ok(self.param(SqlValue::Text(format!("$.\"{name}\""))))
    }
}

impl Dialect for SqliteSql {
    fn param(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    fn column(&mut self, column: Column) -> String {
        match column {
            Column::Id => "i.id".into(),
            Column::Collection => "i.collection".into(),
            Column::Datetime => "i.datetime".into(),
            Column::Start => "i.start_dt".into(),
            Column::End => "i.end_dt".into(),
            Column::Geometry => {
                self.needs_props = true;
                "p.geom".into()
            }
        }
    }

    fn property(&mut self, name: &str) -> String {
        if name == "eo:cloud_cover" {
            // Kept in a column: no properties lookup.
            return "i.cloud_cover".into();
        }
        self.needs_props = true;
        // Names were checked against the queryables; a quote cannot reach here,
        // but if it did the path would simply not match.
        let path = self.path(name).unwrap_or_else(|_| "'$.\"\"'".into());
        format!("json_extract(p.properties, {path})")
    }

    fn property_micros(&mut self, name: &str) -> String {
        let inner = self.property(name);
        format!("tl_micros({inner})")
    }

    fn like(&mut self, value: &str, pattern: &str) -> String {
        format!("({value} LIKE {pattern} ESCAPE '\\')")
    }

    fn casei(&mut self, inner: &str) -> String {
        format!("tl_casefold({inner})")
    }

    fn accenti(&mut self, inner: &str) -> String {
        format!("tl_unaccent({inner})")
    }

    fn spatial(&mut self, op: &str, left: &str, right: &str) -> String {
        let op = self.param(SqlValue::Text(op.to_string()));
        format!("tl_spatial({op}, {left}, {right})")
    }

    fn array(&mut self, op: &str, left: &str, right: &str) -> String {
        let op = self.param(SqlValue::Text(op.to_string()));
        format!("tl_array({op}, {left}, {right})")
    }

    fn array_literal(&mut self, json: String) -> String {
        self.param(SqlValue::Text(json))
    }

    fn arithmetic(&mut self, op: &str, left: &str, right: &str) -> String {
        match op {
            "/" => format!("(CAST({left} AS REAL) / {right})"),
            "^" => format!("pow({left}, {right})"),
            "div" => format!("CAST(({left}) / ({right}) AS INTEGER)"),
            _ => format!("({left} {op} {right})"),
        }
    }

    fn truth(&mut self, value: bool) -> String {
        if value { "1" } else { "0" }.into()
    }
}

/// The pieces of a search statement.
struct Plan {
    sql: SqliteSql,
    /// `i.collection IN (…)`, when the search is restricted to some collections.
    collections: Option<String>,
    conditions: Vec<String>,
    /// The exact footprint test, evaluated last (it is the costliest per row):
    /// `(shortcut, op placeholder, wkb placeholder)`.
    exact: Option<(Option<String>, String, String)>,
    /// The box test on the R*Tree (alias `r`), when there is a spatial filter.
    rtree: Option<String>,
}

/// How a statement reaches the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Let SQLite choose among the indexes.
    Planner,
    /// Candidates from the R*Tree, rows by rowid.
    RTree,
}

impl Plan {
    fn tables(&self, access: Access) -> String {
        let mut s = match (access, &self.rtree) {
            // The R*Tree scan drives; rows follow by rowid.
            (Access::RTree, Some(boxes)) => {
                format!(
                    "FROM items_rtree r JOIN items i NOT INDEXED ON i.rowid = r.id AND ({boxes})"
                )
            }
            _ => String::from("FROM items i"),
        };
        if self.sql.needs_props {
            s.push_str(" JOIN item_data p ON p.rowid = i.rowid");
        }
        s
    }

    fn where_clause(&self, extra: Option<&str>) -> String {
        self.where_clause_for(self.collections.as_deref(), extra)
    }

    /// The WHERE clause with another collection condition (for per-collection
    /// statements).
    fn where_clause_for(&self, collections: Option<&str>, extra: Option<&str>) -> String {
        let mut all: Vec<&str> = collections.into_iter().collect();
        all.extend(self.conditions.iter().map(String::as_str));
        if let Some(e) = extra {
            all.push(e);
        }
        let exact = self.exact.as_ref().map(|(shortcut, op, wkb)| {
            // With the properties joined, the footprint is at hand.
            let geom = if self.sql.needs_props {
                "p.geom"
            } else {
                "(SELECT geom FROM item_data WHERE rowid = i.rowid)"
            };
            let test = format!("tl_spatial({op}, {geom}, {wkb})");
            match shortcut {
                Some(inside) => format!("({inside} OR {test})"),
                None => test,
            }
        });
        all.extend(exact.as_deref());
        if all.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", all.join(" AND "))
        }
    }
}

/// A row of a page: where the item is, and its sort values.
struct Hit {
    rowid: i64,
    collection: String,
    id: String,
    updated: i64,
    values: Vec<SortValue>,
}

/// Orders sort values as SQLite does for the types a merge sees (integers,
/// text compared byte-wise).
fn compare_keys(a: &[SortValue], b: &[SortValue]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (SortValue::Int(x), SortValue::Int(y)) => x.cmp(y),
            (SortValue::Text(x), SortValue::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Runs a page statement: its rows, and the window count when it has one.
fn run_page(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    nkeys: usize,
    with_total: bool,
) -> Result<(Vec<Hit>, Option<i64>)> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let used = stmt.parameter_count();
    let mut rows = stmt
        .query(params_from_iter(params.iter().take(used)))
        .map_err(db)?;
    let mut hits = Vec::new();
    let mut total = None;
    while let Some(row) = rows.next().map_err(db)? {
        let mut values = Vec::with_capacity(nkeys);
        for n in 0..nkeys {
            values.push(match row.get_ref(4 + n).map_err(db)? {
                ValueRef::Null => SortValue::Null,
                ValueRef::Integer(i) => SortValue::Int(i),
                ValueRef::Real(f) => SortValue::Real(f),
                ValueRef::Text(t) => SortValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => SortValue::Null,
            });
        }
        if with_total {
            total = Some(row.get::<_, i64>(4 + nkeys).map_err(db)?);
        }
        hits.push(Hit {
            rowid: row.get(0).map_err(db)?,
            collection: row.get(1).map_err(db)?,
            id: row.get(2).map_err(db)?,
            updated: row.get(3).map_err(db)?,
            values,
        });
    }
    Ok((hits, total))
}

/// Logs a statement and its query plan (log filter `tuilerie::sql=trace`).
fn explain(conn: &Connection, sql: &str, params: &[SqlValue]) {
    if !tracing::enabled!(target: "tuilerie::sql", tracing::Level::TRACE) {
        return;
    }
    let plan = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .and_then(|mut stmt| {
            let rows =
                stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
        })
        .map(|lines| lines.join(" | "))
        .unwrap_or_else(|e| e.to_string());
    tracing::trace!(target: "tuilerie::sql", %sql, ?params, %plan, "statement");
}

/// Reads the known property names (and types) of some collections.
pub(super) fn property_kinds(conn: &Connection, collections: &[String]) -> Result<PropertyKinds> {
    let mut kinds = PropertyKinds::default();
    let mut stmt = conn
        .prepare_cached("SELECT collection, name, type FROM collection_properties")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let collection: String = row.get(0).map_err(db)?;
        if !collections.is_empty() && !collections.contains(&collection) {
            continue;
        }
        let name: String = row.get(1).map_err(db)?;
        let kind: String = row.get(2).map_err(db)?;
        if let Some(kind) = crate::catalog::item::JsonType::from_name(&kind) {
            kinds.add(&name, kind);
        }
    }
    Ok(kinds)
}

/// Runs a search on a reader connection.
pub(super) fn search(
    conn: &Connection,
    scope: &Scope,
    query: &SearchQuery,
    options: &super::SqliteOptions,
    dictionaries: &crate::catalog::packing::Dictionaries,
) -> Result<ItemPage> {
    // Later pages repeat the first page's count.
    let carried = query.cursor.as_ref().and_then(|c| c.matched);
    let (visible, total) = visible_collections(conn, scope)?;
    let collections: Vec<&super::CollectionMeta> = if query.collections.is_empty() {
        visible.iter().collect()
    } else {
        visible
            .iter()
            .filter(|c| query.collections.contains(&c.id))
            .collect()
    };
    if collections.is_empty() {
        return Ok(ItemPage {
            items: Vec::new(),
            number_matched: Some(0),
            next: None,
        });
    }
    let mut plan = Plan {
        sql: SqliteSql::default(),
        collections: None,
        conditions: Vec::new(),
        exact: None,
        rtree: None,
    };
    let names: Vec<&str> = collections.iter().map(|c| c.id.as_str()).collect();
    let items_in_scope: u64 = collections.iter().map(|c| c.item_count.max(0) as u64).sum();

    // Collections: always explicit when the caller cannot see everything.
    let restrict = !query.collections.is_empty() || collections.len() != total;
    if restrict {
        let ids: Vec<String> = collections
            .iter()
            .map(|c| plan.sql.param(SqlValue::Text(c.id.clone())))
            .collect();
        plan.collections = Some(format!("i.collection IN ({})", ids.join(", ")));
    }
    // Only the collection restriction so far: the count is known exactly.
    let mut trivial_count = true;

    if !query.ids.is_empty() {
        let ids: Vec<String> = query
            .ids
            .iter()
            .map(|id| plan.sql.param(SqlValue::Text(id.clone())))
            .collect();
        plan.conditions
            .push(format!("i.id IN ({})", ids.join(", ")));
        trivial_count = false;
    }

    if let Some(spatial) = &query.spatial {
        spatial_conditions(&mut plan, spatial)?;
        trivial_count = false;
    }

    let widen = collections
        .iter()
        .map(|c| c.max_before.max(c.max_after))
        .max()
        .unwrap_or(0);
    if let Some(interval) = &query.datetime {
        let max_before = collections.iter().map(|c| c.max_before).max().unwrap_or(0);
        let max_after = collections.iter().map(|c| c.max_after).max().unwrap_or(0);
        if let Some(s) = interval.start {
            let p = plan.sql.param(SqlValue::Int(s));
            plan.conditions.push(format!("i.end_dt >= {p}"));
            let lo = plan.sql.param(SqlValue::Int(s.saturating_sub(max_after)));
            plan.conditions.push(format!("i.datetime >= {lo}"));
        }
        if let Some(e) = interval.end {
            let p = plan.sql.param(SqlValue::Int(e));
            plan.conditions.push(format!("i.start_dt <= {p}"));
            let hi = plan.sql.param(SqlValue::Int(e.saturating_add(max_before)));
            plan.conditions.push(format!("i.datetime <= {hi}"));
        }
        trivial_count = false;
    }

    if let Some(text) = &query.text {
        let p = plan.sql.param(SqlValue::Text(text.to_fts5()));
        plan.conditions.push(format!(
            "i.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH {p})"
        ));
        trivial_count = false;
    }

    let keys = query.effective_sort();
    let needs_kinds = query.filter.is_some()
        || keys
            .iter()
            .any(|k| matches!(k.field, SortField::Property(_)));
    let kinds = if needs_kinds {
        let ids: Vec<String> = collections.iter().map(|c| c.id.clone()).collect();
        property_kinds(conn, &ids)?
    } else {
        PropertyKinds::default()
    };

    if let Some(filter) = &query.filter {
        let predicate = Translator::new(&mut plan.sql, &kinds).predicate(filter)?;
        // Before the exact footprint tests, after the cheap column tests.
        plan.conditions.push(format!("({predicate})"));
        trivial_count = false;
    }

    // Plan: R*Tree-driven, or through the datetime indexes (in sort order).
    let sorted_by_datetime = keys.first().is_some_and(|k| k.field == SortField::Datetime);
    let in_time = match &query.datetime {
        Some(interval) => super::stats::estimate_time(conn, &names, interval, widen)?,
        None => items_in_scope,
    };
    let mut est_matches = if query.ids.is_empty() {
        in_time
    } else {
        query.ids.len() as u64
    };
    let (count_access, page_access) = match (&query.spatial, plan.rtree.is_some()) {
        (Some(spatial), true) if query.ids.is_empty() && query.text.is_none() => {
            let in_space = super::stats::estimate_space(conn, &names, &spatial.envelopes())?
                .unwrap_or(items_in_scope);
            est_matches = (in_space as f64 * in_time as f64 / items_in_scope.max(1) as f64) as u64;
            // An R*Tree candidate costs a few B-tree lookups; an index entry
            // scanned in datetime order costs one, and the page query stops
            // after `limit + 1` matches.
            let rtree_cost = in_space.saturating_mul(3);
            let count_access = if rtree_cost < in_time {
                Access::RTree
            } else {
                Access::Planner
            };
            let scanned_for_page = if sorted_by_datetime && in_space > 0 {
                let matches =
                    (in_space as f64 * in_time as f64 / items_in_scope.max(1) as f64).max(1.0);
                ((query.limit as f64 + 1.0) * in_time as f64 / matches).min(in_time as f64) as u64
            } else {
                in_time
            };
            let page_access = if rtree_cost < scanned_for_page {
                Access::RTree
            } else {
                Access::Planner
            };
            tracing::trace!(target: "tuilerie::sql", in_space, in_time, ?count_access, ?page_access, "plan");
            (count_access, page_access)
        }
        _ => (Access::Planner, Access::Planner),
    };

    let exprs = keys
        .iter()
        .map(|k| keyset::sort_expr(&mut plan.sql, k, &kinds))
        .collect::<Result<Vec<_>>>()?;
    let sig = keyset::signature(&keys);
    let after = match &query.cursor {
        None => None,
        Some(cursor) => {
            keyset::check_cursor(cursor, &keys)?;
            Some(keyset::after(&mut plan.sql, &exprs, &keys, &cursor.values))
        }
    };
    let order: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| {
            let dir = if k.descending { "DESC" } else { "ASC" };
            if exprs[n].1 {
                format!("k{n} {dir} NULLS LAST")
            } else {
                format!("k{n} {dir}")
            }
        })
        .collect();
    let select: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(n, (e, _))| format!("{e} AS k{n}"))
        .collect();
    let keys_out: Vec<String> = (0..exprs.len()).map(|n| format!("k{n}")).collect();
    let limit = plan.sql.param(SqlValue::Int(query.limit as i64 + 1));

    // When few items match, one statement counts them all and returns the
    // page (a window count); otherwise a count, then a page that can stop
    // early in index order.
    let wanted = match options.count {
        super::CountPolicy::Never => false,
        super::CountPolicy::Exact => true,
        super::CountPolicy::Auto(limit) => trivial_count || est_matches <= limit,
    };
    let needs_count = wanted && !trivial_count && carried.is_none();
    let combined = needs_count && est_matches <= options.combine_below;
    // A newest-first listing over several collections reads each collection's
    // index range in order and merges them: one SQL statement would have to
    // sort every match.
    let merge = !combined
        && page_access == Access::Planner
        && collections.len() > 1
        && query.ids.is_empty()
        && query.text.is_none()
        && keys.len() == 3
        && keys[0].field == SortField::Datetime
        && keys[1].field == SortField::Collection
        && keys[2].field == SortField::Id;
    let page_sql = |plan: &Plan, collection: Option<&str>| {
        format!(
            "SELECT rowid, collection, id, updated, {keys} FROM (
               SELECT i.rowid AS rowid, i.collection AS collection, i.id AS id, i.updated AS updated, {select}
               {tables}{conditions})
             ORDER BY {order} LIMIT {limit}",
            keys = keys_out.join(", "),
            select = select.join(", "),
            tables = plan.tables(page_access),
            conditions = match collection {
                Some(c) => plan.where_clause_for(Some(c), after.as_deref()),
                None => plan.where_clause(after.as_deref()),
            },
            order = order.join(", "),
        )
    };
    let mut hits = Vec::with_capacity(query.limit + 1);
    let mut window_total = None;
    if merge {
        let conditions: Vec<String> = collections
            .iter()
            .map(|c| {
                format!(
                    "i.collection = {}",
                    plan.sql.param(SqlValue::Text(c.id.clone()))
                )
            })
            .collect();
        for condition in &conditions {
            let sql = page_sql(&plan, Some(condition));
            explain(conn, &sql, &plan.sql.params);
            hits.extend(run_page(conn, &sql, &plan.sql.params, keys.len(), false)?.0);
        }
        let descending = keys[0].descending;
        hits.sort_by(|a: &Hit, b: &Hit| {
            let order = compare_keys(&a.values, &b.values);
            if descending { order.reverse() } else { order }
        });
        hits.truncate(query.limit + 1);
    } else {
        let sql = if combined {
            let after_flag = after.as_deref().unwrap_or("1");
            format!(
                "SELECT rowid, collection, id, updated, {keys}, total FROM (
                   SELECT i.rowid AS rowid, i.collection AS collection, i.id AS id, i.updated AS updated,
                          {select}, count(*) OVER () AS total, ({after_flag}) AS after_cursor
                   {tables}{conditions})
                 WHERE after_cursor ORDER BY {order} LIMIT {limit}",
                keys = keys_out.join(", "),
                select = select.join(", "),
                tables = plan.tables(count_access),
                conditions = plan.where_clause(None),
                order = order.join(", "),
            )
        } else {
            page_sql(&plan, None)
        };
        explain(conn, &sql, &plan.sql.params);
        let (page, total) = run_page(conn, &sql, &plan.sql.params, keys.len(), combined)?;
        hits = page;
        window_total = total;
    }
    tracing::trace!(target: "tuilerie::sql", est_matches, combined, merge, ?count_access, ?page_access, "page");

    let number_matched = if !wanted {
        None
    } else if carried.is_some() {
        carried
    } else if trivial_count {
        Some(items_in_scope)
    } else if let Some(total) = window_total {
        Some(total.max(0) as u64)
    } else {
        // Not combined, or a page past the end: count apart (without the cursor).
        let sql = format!(
            "SELECT count(*) {}{}",
            plan.tables(count_access),
            plan.where_clause(None)
        );
        explain(conn, &sql, &plan.sql.params);
        let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
        // Parameters added for the page (sort paths, cursor, limit) come
        // last and are not in this statement.
        let used = stmt.parameter_count();
        let n: i64 = stmt
            .query_row(params_from_iter(plan.sql.params.iter().take(used)), |r| {
                r.get(0)
            })
            .map_err(db)?;

        Some(n as u64)
    };

    let has_more = hits.len() > query.limit;
    hits.truncate(query.limit);
    let next = if has_more {
        hits.last().map(|hit| Cursor {
            signature: sig.clone(),
            values: hit.values.clone(),
            matched: number_matched,
        })
    } else {
        None
    };

    let mut docs = conn
        .prepare_cached("SELECT doc, links, json(properties) FROM item_data WHERE rowid = ?1")
        .map_err(db)?;
    let mut items = Vec::with_capacity(hits.len());
    for hit in hits {
        let (doc, links, properties) = docs
            .query_row([hit.rowid], |r| {
                let doc = super::packing::unpack(dictionaries, r.get_ref(0)?)
                    .map_err(|e| rusqlite::Error::UserFunctionError(e.to_string().into()))?;
                Ok((doc, r.get(1)?, r.get(2)?))
            })
            .map_err(db)?;
        items.push(StoredItem {
            collection: hit.collection,
            id: hit.id,
            doc,
            properties,
            links,
            updated: hit.updated,
        });
    }
    Ok(ItemPage {
        items,
        number_matched,
        next,
    })
}

/// Adds the spatial filter: box tests on the indexed columns, the R*Tree
/// candidates (used when the plan drives from it), and the exact footprint
/// test, evaluated last and only for items whose box is not inside the query.
fn spatial_conditions(plan: &mut Plan, spatial: &Spatial) -> Result<()> {
    let envelopes = spatial.envelopes();
    let mut overlap = Vec::new();
    let mut rtree = Vec::new();
    let mut inside = Vec::new();
    for b in &envelopes {
        let [w, s, e, n] =
            [b.minx, b.miny, b.maxx, b.maxy].map(|v| plan.sql.param(SqlValue::Real(v)));
        overlap.push(format!(
            "(i.minx <= {e} AND i.maxx >= {w} AND i.miny <= {n} AND i.maxy >= {s})"
        ));
        rtree.push(format!(
            "(r.minx <= {e} AND r.maxx >= {w} AND r.miny <= {n} AND r.maxy >= {s})"
        ));
        inside.push(format!(
            "(i.minx >= {w} AND i.maxx <= {e} AND i.miny >= {s} AND i.maxy <= {n})"
        ));
    }
    plan.conditions.push(format!("({})", overlap.join(" OR ")));
    plan.rtree = Some(rtree.join(" OR "));
    let (geometry, shortcut) = match spatial {
        Spatial::Boxes(boxes) => {
            let polygons: Vec<geo::Polygon<f64>> = boxes
                .iter()
                .map(|b| {
                    geo::Rect::new(
                        geo::coord! { x: b.minx, y: b.miny },
                        geo::coord! { x: b.maxx, y: b.maxy },
                    )
                    .to_polygon()
                })
                .collect();
            let fp = Footprint::from_geo(geo::Geometry::MultiPolygon(geo::MultiPolygon(polygons)))?;
            // An item whose box lies inside a query box intersects it.
            (fp.wkb, Some(inside.join(" OR ")))
        }
        Spatial::Geometry(fp) => (fp.wkb.clone(), None),
    };
    let wkb = plan.sql.param(SqlValue::Blob(geometry));
    let op = plan.sql.param(SqlValue::Text("s_intersects".into()));
    plan.exact = Some((shortcut, op, wkb));
    Ok(())
}
