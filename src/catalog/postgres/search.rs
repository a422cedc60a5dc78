//! Item search on PostgreSQL: SQL built from a [`SearchQuery`] with every
//! value bound as a typed parameter, PostGIS for the spatial tests, keyset
//! paging, and counts as the embedded store makes them.

use super::memo::PerCollection;
use super::packing::unpack_all;
use super::{CollectionMeta, pg, visible_collections};
use crate::catalog::error::Result;
use crate::catalog::filter::{Column, Dialect, SqlValue, Translator};
use crate::catalog::geometry::Bounds;
use crate::catalog::item::JsonType;
use crate::catalog::keyset;
use crate::catalog::packing::Dictionaries;
use crate::catalog::query::{SearchQuery, SortField, Spatial};
use crate::catalog::queryables::PropertyKinds;
use crate::catalog::scope::Scope;
use crate::catalog::sqlite::CountPolicy;
use crate::catalog::text::TextQuery;
use crate::catalog::token::{Cursor, SortValue};
use crate::catalog::{ItemPage, StoredItem};
use postgres_types::{ToSql, Type};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio_postgres::{GenericClient, Row};

/// PostgreSQL renderings for the CQL2 translator, collecting bound values.
pub(super) struct PgSql {
    pub params: Vec<SqlValue>,
    kinds: PropertyKinds,
}

impl PgSql {
    pub fn new(kinds: PropertyKinds) -> PgSql {
        PgSql {
            params: Vec::new(),
            kinds,
        }
    }

    /// The parameters' types (also of values a statement ends up not using).
    pub fn types(&self) -> Vec<Type> {
        self.params
            .iter()
            .map(|v| match v {
                SqlValue::Null | SqlValue::Text(_) => Type::TEXT,
                SqlValue::Bool(_) => Type::BOOL,
                SqlValue::Int(_) => Type::INT8,
                SqlValue::Real(_) => Type::FLOAT8,
                SqlValue::Blob(_) => Type::BYTEA,
            })
            .collect()
    }

    /// The values as statement parameters (the placeholders carry their types).
    pub fn bind(&self) -> Vec<Box<dyn ToSql + Sync + Send>> {
        self.params
            .iter()
            .map(|v| -> Box<dyn ToSql + Sync + Send> {
                match v {
                    SqlValue::Null => Box::new(None::<String>),
                    SqlValue::Bool(b) => Box::new(*b),
                    SqlValue::Int(i) => Box::new(*i),
                    SqlValue::Real(f) => Box::new(*f),
                    SqlValue::Text(s) => Box::new(s.clone()),
                    SqlValue::Blob(b) => Box::new(b.clone()),
                }
            })
            .collect()
    }
}

/// Parameters as the driver takes them.
pub(super) fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl Dialect for PgSql {
    fn param(&mut self, value: SqlValue) -> String {
        let cast = match &value {
            SqlValue::Null | SqlValue::Text(_) => "text",
            SqlValue::Bool(_) => "boolean",
            SqlValue::Int(_) => "int8",
            SqlValue::Real(_) => "float8",
            SqlValue::Blob(_) => "bytea",
        };
        let geometry = matches!(value, SqlValue::Blob(_));
        self.params.push(value);
        let n = self.params.len();
        if geometry {
            // Bytes are only ever WKB footprints.
            format!("ST_GeomFromWKB(${n}::bytea, 4326)")
        } else {
            format!("${n}::{cast}")
        }
    }

    fn column(&mut self, column: Column) -> String {
        match column {
            Column::Id => "i.id",
            Column::Collection => "i.collection",
            Column::Datetime => "i.datetime",
            Column::Start => "i.start_dt",
            Column::End => "i.end_dt",
            Column::Geometry => "i.geom",
        }
        .into()
    }

    fn property(&mut self, name: &str) -> String {
        if name == "eo:cloud_cover" {
            // Kept in a column of its own.
            return "i.cloud_cover".into();
        }
        // The name is written as a literal, not bound: an index on the
        // property (`tuilerie:indexes`) matches only the same expression
        // with the same constant key. Names are those of known properties,
        // quoted by `literal`; values are still bound.
        let types = self.kinds.types(name);
        let only = |allowed: &[JsonType]| {
            types.is_some_and(|t| !t.is_empty() && t.iter().all(|k| allowed.contains(k)))
        };
        if only(&[JsonType::Number, JsonType::Null]) {
            super::schema::number_property("i.", name)
        } else if types
            .is_some_and(|t| t.contains(&JsonType::Array) || t.contains(&JsonType::Object))
        {
            format!("((i.properties->{})::jsonb)", super::schema::literal(name))
        } else {
            super::schema::text_property("i.", name)
        }
    }

    fn property_micros(&mut self, name: &str) -> String {
        format!("tl_micros(i.properties->>{})", super::schema::literal(name))
    }

    fn like(&mut self, value: &str, pattern: &str) -> String {
        format!("(({value})::text LIKE {pattern} ESCAPE '\\')")
    }

    fn casei(&mut self, inner: &str) -> String {
        format!("lower(({inner})::text COLLATE \"und-x-icu\")")
    }

    fn accenti(&mut self, inner: &str) -> String {
        format!("unaccent(({inner})::text)")
    }

    fn spatial(&mut self, op: &str, left: &str, right: &str) -> String {
        let f = match op {
            "s_equals" => "ST_Equals",
            "s_disjoint" => "ST_Disjoint",
            "s_touches" => "ST_Touches",
            "s_within" => "ST_Within",
            "s_overlaps" => "ST_Overlaps",
            "s_crosses" => "ST_Crosses",
            "s_contains" => "ST_Contains",
            _ => "ST_Intersects",
        };
        format!("{f}({left}, {right})")
    }

    fn array(&mut self, op: &str, left: &str, right: &str) -> String {
        match op {
            "a_equals" => {
                format!(
                    "(tl_array_contains({left}, {right}) AND tl_array_contains({right}, {left}))"
                )
            }
            "a_containedby" => format!("tl_array_contains({right}, {left})"),
            "a_overlaps" => format!("tl_array_overlaps({left}, {right})"),
            _ => format!("tl_array_contains({left}, {right})"),
        }
    }

    fn array_literal(&mut self, json: String) -> String {
        let p = self.param(SqlValue::Text(json));
        format!("({p})::jsonb")
    }

    fn arithmetic(&mut self, op: &str, left: &str, right: &str) -> String {
        match op {
            "/" => format!("(({left})::float8 / NULLIF(({right})::float8, 0))"),
            "^" => format!("power(({left})::float8, ({right})::float8)"),
            "div" => format!("trunc(({left})::float8 / NULLIF(({right})::float8, 0))"),
            "%" => format!("mod(({left})::numeric, NULLIF(({right})::numeric, 0))"),
            _ => format!("({left} {op} {right})"),
        }
    }

    fn truth(&mut self, value: bool) -> String {
        if value { "TRUE" } else { "FALSE" }.into()
    }
}

/// The text query as a `tsquery` over the folded words the store indexes:
/// phrases with `<->`, exclusions with `!`. Words are letters and digits only,
/// quoted as lexemes, so user text is never read as operators.
/// PostgreSQL's limits on a `tsvector`: a lexeme under 2 KiB, the whole
/// under 1 MiB.
const MAX_LEXEME: usize = 2046;
const MAX_LEXEMES_BYTES: usize = 1 << 19;

/// The folded words of a text that a `tsvector` can hold, numbered from 1:
/// words too long for a lexeme are left out (they cannot be searched for
/// either, see [`tsquery`]), and so are new words once the lexemes would
/// pass PostgreSQL's size limit.
fn indexable_words(text: &str) -> std::collections::BTreeMap<String, Vec<u16>> {
    let mut positions: std::collections::BTreeMap<String, Vec<u16>> = Default::default();
    let mut bytes = 0;
    for (i, w) in crate::catalog::text::words(text).into_iter().enumerate() {
        if w.len() > MAX_LEXEME {
            continue;
        }
        let p = (i + 1).min(16383) as u16;
        if let Some(ps) = positions.get_mut(&w) {
            if ps.len() < 256 && ps.last() != Some(&p) {
                ps.push(p);
            }
        } else if bytes + w.len() + 64 < MAX_LEXEMES_BYTES {
            bytes += w.len() + 64;
            positions.insert(w, vec![p]);
        }
    }
    positions
}

pub(super) fn tsquery(text: &TextQuery) -> String {
    let lexeme = |w: &str| format!("'{w}'");
    let term = |words: &[String]| {
        let parts: Vec<String> = words.iter().map(|w| lexeme(w)).collect();
        format!("({})", parts.join(" <-> "))
    };
    let alternatives: Vec<String> = text
        .any_of
        .iter()
        .map(|terms| {
            let mut parts = Vec::new();
            for t in terms {
                let words = crate::catalog::text::words(&t.words.join(" "));
                if words.is_empty() || words.iter().any(|w| w.len() > MAX_LEXEME) {
                    // Nothing indexable: a required term cannot match.
                    if !t.excluded {
                        parts.push("(!'' & '')".to_string());
                    }
                    continue;
                }
                let s = term(&words);
                parts.push(if t.excluded { format!("!{s}") } else { s });
            }
            format!("({})", parts.join(" & "))
        })
        .collect();
    alternatives.join(" | ")
}

/// The folded words of an item's text as a `tsvector` literal, with positions
/// (so that phrases match consecutive words).
pub(super) fn tsvector(text: &str) -> String {
    let positions = indexable_words(text);
    let mut out = String::new();
    for (w, ps) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&w.replace('\'', "''").replace('\\', "\\\\"));
        out.push_str("':");
        let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
        out.push_str(&ps.join(","));
    }
    out
}

/// The same `tsvector` in PostgreSQL's binary format (for a binary COPY):
/// the number of lexemes, then each lexeme (NUL-terminated), its number of
/// positions and the positions (strictly increasing, at most 256).
pub(super) fn tsvector_binary(text: &str) -> Vec<u8> {
    let positions = indexable_words(text);
    let mut out = Vec::with_capacity(4 + text.len() * 2);
    out.extend_from_slice(&(positions.len() as i32).to_be_bytes());
    for (w, ps) in positions {
        out.extend_from_slice(w.as_bytes());
        out.push(0);
        out.extend_from_slice(&(ps.len() as u16).to_be_bytes());
        for p in ps {
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
    out
}

/// The known property names (and types) of each of these collections.
pub(super) async fn property_kinds(
    client: &impl GenericClient,
    memo: &Memo,
    collections: &[&CollectionMeta],
) -> Result<Vec<Arc<PropertyKinds>>> {
    let stale = memo.properties.stale(collections);
    if !stale.is_empty() {
        let rows = client
            .query(
                "SELECT collection, name, type FROM collection_properties WHERE collection = ANY($1)",
                &[&stale],
            )
            .await
            .map_err(pg)?;
        let mut fresh: HashMap<String, PropertyKinds> = HashMap::new();
        for row in rows {
            let collection: String = row.try_get(0).map_err(pg)?;
            let name: String = row.try_get(1).map_err(pg)?;
            let kind: String = row.try_get(2).map_err(pg)?;
            if let Some(kind) = JsonType::from_name(&kind) {
                fresh.entry(collection).or_default().add(&name, kind);
            }
        }
        memo.properties.store(collections, &stale, fresh);
    }
    Ok(memo.properties.get(collections))
}

/// A sort value read from a page row.
fn sort_value(row: &Row, idx: usize) -> Result<SortValue> {
    let ty = row.columns()[idx].type_().clone();
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(idx)
            .map_err(pg)?
            .map_or(SortValue::Null, SortValue::Int)
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(idx)
            .map_err(pg)?
            .map_or(SortValue::Null, SortValue::Real)
    } else if ty == Type::JSONB {
        row.try_get::<_, Option<serde_json::Value>>(idx)
            .map_err(pg)?
            .map_or(SortValue::Null, |v| SortValue::Text(v.to_string()))
    } else {
        row.try_get::<_, Option<String>>(idx)
            .map_err(pg)?
            .map_or(SortValue::Null, SortValue::Text)
    })
}

/// Runs a search.
pub(super) async fn search(
    client: &mut deadpool_postgres::Object,
    memo: &Memo,
    dictionaries: &Dictionaries,
    scope: &Scope,
    query: &SearchQuery,
    count: CountPolicy,
) -> Result<ItemPage> {
    let carried = query.cursor.as_ref().and_then(|c| c.matched);
    let (visible, total) = visible_collections(client, scope).await?;
    let collections: Vec<&CollectionMeta> = if query.collections.is_empty() {
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
    let keys = query.effective_sort();
    let needs_kinds = query.filter.is_some()
        || keys
            .iter()
            .any(|k| matches!(k.field, crate::catalog::query::SortField::Property(_)));
    // A filter that compares properties is never true in a collection that
    // has none of them: such collections are left out (when some remain).
    let mut required = Vec::new();
    if let Some(filter) = &query.filter {
        required_properties(filter, &mut required);
    }
    let (kinds, collections) = if needs_kinds || !required.is_empty() {
        let each = property_kinds(&***client, memo, &collections).await?;
        let mut kinds = PropertyKinds::default();
        for one in &each {
            kinds.merge(one);
        }
        let having: Vec<bool> = each
            .iter()
            .map(|k| required.iter().all(|name| k.types(name).is_some()))
            .collect();
        let kept = having.iter().filter(|h| **h).count();
        let collections = if collections.len() < 2 || kept == 0 || kept == collections.len() {
            collections
        } else {
            collections
                .into_iter()
                .zip(&having)
                .filter(|(_, h)| **h)
                .map(|(c, _)| c)
                .collect()
        };
        (kinds, collections)
    } else {
        (PropertyKinds::default(), collections)
    };
    let ids: Vec<String> = collections.iter().map(|c| c.id.clone()).collect();
    let mut sql = PgSql::new(kinds.clone());
    // Conditions an index walk in datetime order answers itself (collections,
    // the time range), and the others, tested on the rows it reaches.
    let mut walk_conditions = Vec::new();
    let mut conditions = Vec::new();
    let mut collection_condition = None;
    let mut geometry = None;
    let items_in_scope: u64 = collections.iter().map(|c| c.item_count.max(0) as u64).sum();

    if !query.collections.is_empty() || collections.len() != total {
        // A few collections (ids the store holds, quoted) are written into
        // the statement, so that its plan — cached, generic — reads only
        // their partitions; more are bound (fewer statement variants).
        let inline = ids.len() <= 3;
        let ps: Vec<String> = ids
            .iter()
            .map(|id| {
                if inline {
                    super::schema::literal(id)
                } else {
                    sql.param(SqlValue::Text(id.clone()))
                }
            })
            .collect();
        let c = format!("i.collection IN ({})", ps.join(", "));
        collection_condition = Some(c.clone());
        walk_conditions.push(c);
    }
    let mut trivial_count = true;
    if !query.ids.is_empty() {
        let ps: Vec<String> = query
            .ids
            .iter()
            .map(|id| sql.param(SqlValue::Text(id.clone())))
            .collect();
        conditions.push(format!("i.id IN ({})", ps.join(", ")));
        trivial_count = false;
    }
    // The search boxes' bounds, bound once: compared with the items' box
    // columns, which the datetime index carries (`box_overlap`).
    let mut envelopes = Vec::new();
    if let Some(spatial) = &query.spatial {
        let (condition, g) = spatial_condition(&mut sql, spatial)?;
        envelopes = envelope_params(&mut sql, spatial);
        conditions.push(box_overlap("i", &envelopes));
        conditions.push(condition);
        geometry = Some(g);
        trivial_count = false;
    }
    let max_before = collections.iter().map(|c| c.max_before).max().unwrap_or(0);
    let max_after = collections.iter().map(|c| c.max_after).max().unwrap_or(0);
    if let Some(interval) = &query.datetime {
        // Without spans (start = end = datetime in every collection), the
        // span tests repeat the datetime range: left out, they would only
        // make the planner's estimates of the range far too low.
        let spans = max_before > 0 || max_after > 0;
        if let Some(s) = interval.start {
            if spans {
                let p = sql.param(SqlValue::Int(s));
                walk_conditions.push(format!("i.end_dt >= {p}"));
            }
            let lo = sql.param(SqlValue::Int(s.saturating_sub(max_after)));
            walk_conditions.push(format!("i.datetime >= {lo}"));
        }
        if let Some(e) = interval.end {
            if spans {
                let p = sql.param(SqlValue::Int(e));
                walk_conditions.push(format!("i.start_dt <= {p}"));
            }
            let hi = sql.param(SqlValue::Int(e.saturating_add(max_before)));
            walk_conditions.push(format!("i.datetime <= {hi}"));
        }
        trivial_count = false;
    }
    if let Some(text) = &query.text {
        let p = sql.param(SqlValue::Text(tsquery(text)));
        conditions.push(format!("i.words @@ ({p})::tsquery"));
        trivial_count = false;
    }
    // Conditions the datetime index's entries can test (they carry the
    // cloud cover): tested there as well, so that only their rows are read.
    let mut key_conditions = Vec::new();
    if let Some(filter) = &query.filter {
        for part in conjuncts(filter) {
            let condition = format!("({})", Translator::new(&mut sql, &kinds).predicate(part)?);
            if on_cloud_cover_only(part) {
                key_conditions.push(condition.clone());
            }
            conditions.push(condition);
        }
        trivial_count = false;
    }
    // Parameters of the statement without sort, cursor and limit (counting).
    let count_params = sql.params.len();

    let exprs = keys
        .iter()
        .map(|k| keyset::sort_expr(&mut sql, k, &kinds))
        .collect::<Result<Vec<_>>>()?;
    let sig = keyset::signature(&keys);
    // The time-range conditions without the cursor (for counting).
    let range_conditions = walk_conditions.clone();
    let mut after = None;
    if let Some(cursor) = &query.cursor {
        keyset::check_cursor(cursor, &keys)?;
        let condition = keyset::after(&mut sql, &exprs, &keys, &cursor.values);
        walk_conditions.push(condition.clone());
        after = Some(condition);
    }
    let order: Vec<String> = keys
        .iter()
        .zip(&exprs)
        .map(|(k, (e, nullable))| {
            let dir = if k.descending { "DESC" } else { "ASC" };
            if *nullable {
                format!("{e} {dir} NULLS LAST")
            } else {
                format!("{e} {dir}")
            }
        })
        .collect();
    let select: Vec<String> = exprs.iter().map(|(e, _)| e.clone()).collect();
    let limit = sql.param(SqlValue::Int(query.limit as i64 + 1));

    // How many items the search may match, from the histograms: decides
    // whether counting is cheap and how to reach the page.
    let wanted = count != CountPolicy::Never;
    let needs_count = wanted && carried.is_none() && !trivial_count;
    // Newest (or oldest) first, the order of the (datetime, collection, id)
    // indexes: the page can be read by walking them, testing each row.
    let walkable = query.spatial.is_some()
        && query.ids.is_empty()
        && query.text.is_none()
        && keys.len() == 3
        && keys[0].field == SortField::Datetime
        && keys[1].field == SortField::Collection
        && keys[2].field == SortField::Id
        && keys.iter().all(|k| k.descending == keys[0].descending);
    let estimate = if walkable || (needs_count && matches!(count, CountPolicy::Auto(_))) {
        let hs = histograms(&***client, memo, &collections).await?;
        let boxes = query.spatial.as_ref().map(|s| s.envelopes());
        let (t0, t1) = match &query.datetime {
            Some(i) => (
                i.start.map_or(i64::MIN, |s| s.saturating_sub(max_after)),
                i.end.map_or(i64::MAX, |e| e.saturating_add(max_before)),
            ),
            None => (i64::MIN, i64::MAX),
        };
        // The walk starts at the cursor, if any.
        let walk = walkable.then(|| {
            let descending = keys[0].descending;
            let at = query.cursor.as_ref().and_then(|c| match c.values.first() {
                Some(SortValue::Int(t)) => Some(*t),
                _ => None,
            });
            let (lo, hi) = match (at, descending) {
                (Some(t), true) => (t0, t1.min(t)),
                (Some(t), false) => (t0.max(t), t1),
                (None, _) => (t0, t1),
            };
            (descending, lo, hi, query.limit + 1)
        });
        Some(estimate(
            &collections,
            &hs,
            boxes.as_deref(),
            (t0, t1),
            walk,
        ))
    } else {
        None
    };
    let est_matches = match &estimate {
        _ if !query.ids.is_empty() => query.ids.len() as u64,
        Some(e) => e.matches,
        None => items_in_scope,
    };
    // How to reach the page: a walk of the datetime indexes in sort order
    // reads index entries until the page is full; the boxes' candidates come
    // from the GiST indexes, each a row read from the table (then sorted);
    // the time range's entries from the datetime indexes, whose box columns
    // leave few keys whose rows are read; otherwise the planner chooses. The
    // walk stops after a budget of entries, so that a wrong estimate costs
    // little, and the page is then read the other way. (Costs in µs, as
    // measured at 1M items: see `cost`.)
    let mut walk_budget = None;
    let mut access = Access::Planner;
    // What counting the matches would add to reading the page (µs), when
    // known: nothing when the page's statement reads every match anyway.
    let mut count_extra = None;
    if let (Some(e), Some(_)) = (&estimate, &geometry) {
        count_extra = Some(0.0);
        let box_cost = e.in_space as f64 * cost::BOX_CANDIDATE;
        let time_cost = if query.datetime.is_some() {
            e.in_time as f64 * cost::INDEX_ENTRY + e.matches as f64 * cost::KEY_ROW
        } else {
            f64::INFINITY
        };
        // (Boxes over much of the scope: the planner may know better, e.g. an
        // index in the sort order.)
        if box_cost <= time_cost && e.in_space.saturating_mul(4) < items_in_scope {
            access = Access::Boxes;
        } else if time_cost < box_cost {
            access = Access::Time;
        }
        let other = box_cost.min(time_cost);
        if let Some(rows) = e.walk_rows {
            let walk_cost = rows * cost::INDEX_ENTRY + (query.limit + 1) as f64 * cost::KEY_ROW;
            // Filters the histograms know nothing of (e.g. on cloud cover)
            // make the walk longer than estimated: a budget of 8 times the
            // estimate, or a third of the other way's cost.
            if walk_cost * 2.0 < other {
                let budget = (rows * 8.0).max(other / 3.0 / cost::INDEX_ENTRY);
                walk_budget = Some(budget.max(1_000.0) as i64);
                count_extra = Some(other - walk_cost);
            }
        }
        tracing::trace!(target: "tuilerie::sql", in_space = e.in_space, in_time = e.in_time, matches = e.matches, walk_rows = ?e.walk_rows, ?walk_budget, ?access, ?count_extra, "plan");
    }
    // Few matches to count: one statement counts them and returns the page,
    // reaching them the cheaper way (no walk: every match is read anyway).
    let cap = match count {
        CountPolicy::Auto(limit) => Some(limit),
        _ => None,
    };
    // Counting reads every candidate (items in the boxes' cells or the time
    // range): with `Auto`, only when they are few as well as the matches.
    let candidates = match &estimate {
        _ if !query.ids.is_empty() => query.ids.len() as u64,
        Some(e) => e.in_space.min(e.in_time),
        None => items_in_scope,
    };
    // ... and when counting them costs little more than the page (a walk
    // that stops early would otherwise read the whole range to count).
    let cheap = match cap {
        Some(cap) => {
            est_matches <= cap
                && candidates <= cap
                && count_extra.is_none_or(|extra| extra <= cost::COUNT_EXTRA)
        }
        None => true,
    };
    let needs_count = needs_count && cheap;
    let combined = needs_count && est_matches <= cap.unwrap_or(2_000).min(2_000);
    #[cfg(test)]
    if let Some(path) = tests::FORCED.with(|f| f.get()) {
        walk_budget = match path {
            tests::Path::Walk(budget) if walkable => Some(budget),
            _ => None,
        };
        access = match path {
            tests::Path::Boxes if geometry.is_some() => Access::Boxes,
            tests::Path::Time if query.datetime.is_some() => Access::Time,
            _ => Access::Planner,
        };
    }
    #[cfg(test)]
    let combined =
        combined && !matches!(tests::FORCED.with(|f| f.get()), Some(tests::Path::Walk(_)));
    if combined {
        walk_budget = None;
    }

    // Where the rows come from, for each access (a FROM clause whose rows
    // are `i`), and the conditions left to test on them (`with_cursor`: the
    // cursor among them).
    // The one collection searched, if so: every key is of it.
    let only = match collections.as_slice() {
        [one] => Some(one.id.as_str()),
        _ => None,
    };
    let source = |with_cursor: bool| -> (String, Vec<String>) {
        let range = if with_cursor {
            &walk_conditions
        } else {
            &range_conditions
        };
        match (access, &geometry) {
            (Access::Boxes, Some(g)) => (
                format!(
                    "(SELECT * FROM items i WHERE {}i.geom && {g} OFFSET 0) i",
                    collection_condition
                        .as_ref()
                        .map(|c| format!("{c} AND "))
                        .unwrap_or_default()
                ),
                range
                    .iter()
                    .chain(&conditions)
                    .filter(|c| Some(*c) != collection_condition.as_ref())
                    .cloned()
                    .collect(),
            ),
            // The time range's keys from the datetime index alone, those
            // whose boxes meet the search's, then their rows. (A page in
            // sort order is better left to the planner, which may read the
            // datetime index in that order and stop early.)
            (Access::Time, _) if !with_cursor => {
                let mut keys_where = range.clone();
                keys_where.push(box_overlap("i", &envelopes));
                keys_where.extend(key_conditions.iter().cloned());
                (
                    format!(
                        "(SELECT i.collection, i.id, i.datetime FROM items i{} OFFSET 0) k {}",
                        where_clause(&keys_where),
                        rows_of_keys(only)
                    ),
                    conditions.clone(),
                )
            }
            _ => (
                "items i".to_string(),
                range.iter().chain(&conditions).cloned().collect(),
            ),
        }
    };
    // The sort keys, selected as k0, k1… (the page statements' outer
    // selects name them so).
    let keys_out: Vec<String> = (0..exprs.len()).map(|n| format!("k{n}")).collect();
    let select_as: Vec<String> = select
        .iter()
        .enumerate()
        .map(|(n, e)| format!("{e} AS k{n}"))
        .collect();
    let page_sql = if combined {
        let (from, rest) = source(false);
        let order_out: Vec<String> = keys
            .iter()
            .zip(&exprs)
            .enumerate()
            .map(|(n, (k, (_, nullable)))| {
                let dir = if k.descending { "DESC" } else { "ASC" };
                if *nullable {
                    format!("k{n} {dir} NULLS LAST")
                } else {
                    format!("k{n} {dir}")
                }
            })
            .collect();
        format!(
            "SELECT collection, id, updated, doc, props::text, links, {keys}, total FROM (
               SELECT collection, id, updated, doc, props, links, {keys}, total FROM (
                 SELECT i.collection, i.id, i.updated, i.doc, i.properties AS props, i.links, {select},
                        count(*) OVER () AS total, ({after}) AS after_cursor
                 FROM {from}{where_}) s
               WHERE after_cursor ORDER BY {order} LIMIT {limit}) p",
            keys = keys_out.join(", "),
            select = select_as.join(", "),
            after = after.as_deref().unwrap_or("TRUE"),
            where_ = where_clause(&rest),
            order = order_out.join(", "),
        )
    } else {
        let (from, rest) = source(true);
        format!(
            "SELECT collection, id, updated, doc, props::text, links, {keys} FROM (
               SELECT i.collection, i.id, i.updated, i.doc, i.properties AS props, i.links, {select}
               FROM {from}{where_} ORDER BY {order} LIMIT {limit}) p",
            keys = keys_out.join(", "),
            select = select_as.join(", "),
            where_ = where_clause(&rest),
            order = order.join(", "),
        )
    };
    let types = sql.types();
    let mut rows = None;
    if let Some(budget) = walk_budget {
        // The walk: the inner statement reads the datetime index in order
        // (at most `budget` entries, so a wrong estimate costs little) and
        // keeps the keys whose boxes meet the search's, from the index
        // alone; the outer one reads those rows and keeps the matches, in
        // the inner order.
        let mut walk = PgSql {
            params: sql.params.clone(),
            kinds: kinds.clone(),
        };
        let budget = walk.param(SqlValue::Int(budget));
        let walk_sql = format!(
            "SELECT i.collection, i.id, i.updated, i.doc, i.properties::text, i.links, {select}
             FROM (SELECT i.collection, i.id, i.datetime FROM (
                     SELECT i.collection, i.id, i.datetime, i.minx, i.miny, i.maxx, i.maxy, i.cloud_cover
                     FROM items i{inner} ORDER BY {order} LIMIT {budget}) i
                   {keys_where}) k {rows}{where_}
             LIMIT {limit}",
            select = select.join(", "),
            inner = where_clause(&walk_conditions),
            order = order.join(", "),
            keys_where = where_clause(
                &std::iter::once(box_overlap("i", &envelopes))
                    .chain(key_conditions.iter().cloned())
                    .collect::<Vec<_>>()
            ),
            rows = rows_of_keys(only),
            where_ = where_clause(&conditions),
        );
        let params = walk.bind();
        tracing::trace!(target: "tuilerie::sql", sql = %walk_sql, params = ?walk.params, "statement");
        // The walk must read the indexes in order: the planner, misled by
        // its estimate of the time range, could otherwise sort the range.
        // The settings for that, the statement and their reset go in one
        // round trip (pipelined: the three requests are queued on the
        // connection when first polled, so the reset runs even if this
        // request is dropped meanwhile). Only plans depend on them.
        let stmt = client
            .prepare_typed_cached(&walk_sql, &walk.types())
            .await
            .map_err(pg)?;
        let bound = refs(&params);
        let (_, found, _) = tokio::try_join!(
            client.batch_execute(
                "SET enable_sort = off; SET enable_bitmapscan = off; SET plan_cache_mode = force_generic_plan"
            ),
            client.query(&stmt, &bound),
            client.batch_execute("RESET enable_sort; RESET enable_bitmapscan; RESET plan_cache_mode"),
        )
        .map_err(pg)?;
        // Fewer rows than asked: the budget may have run out first.
        if found.len() > query.limit {
            rows = Some(found);
        }
    }
    let params = sql.bind();
    let rows = match rows {
        Some(rows) => rows,
        None => {
            tracing::trace!(target: "tuilerie::sql", sql = %page_sql, params = ?sql.params, "statement");
            let stmt = client
                .prepare_typed_cached(&page_sql, &types)
                .await
                .map_err(pg)?;
            client.query(&stmt, &refs(&params)).await.map_err(pg)?
        }
    };

    let window_total = match rows.first() {
        Some(row) if combined => Some(row.try_get::<_, i64>(6 + keys.len()).map_err(pg)?),
        // No match at all.
        None if combined && after.is_none() => Some(0),
        _ => None,
    };
    let number_matched = if !wanted {
        None
    } else if carried.is_some() {
        carried
    } else if trivial_count {
        Some(items_in_scope)
    } else if let Some(total) = window_total {
        Some(total.max(0) as u64)
    } else {
        match cap {
            // Too many to count cheaply.
            Some(_) if !cheap => None,
            _ => {
                // Counted apart, the cheaper way (without the cursor).
                let (from, rest) = source(false);
                let count_sql = match cap {
                    Some(cap) => format!(
                        "SELECT count(*) FROM (SELECT 1 FROM {from}{} LIMIT {}) s",
                        where_clause(&rest),
                        cap.saturating_add(1)
                    ),
                    None => format!("SELECT count(*) FROM {from}{}", where_clause(&rest)),
                };
                let stmt = client
                    .prepare_typed_cached(&count_sql, &types[..count_params])
                    .await
                    .map_err(pg)?;
                let row = client
                    .query_one(&stmt, &refs(&params[..count_params]))
                    .await
                    .map_err(pg)?;
                let n: i64 = row.try_get(0).map_err(pg)?;
                let n = n.max(0) as u64;
                match cap {
                    Some(cap) if n > cap => None,
                    _ => Some(n),
                }
            }
        }
    };

    let has_more = rows.len() > query.limit;
    let page = &rows[..rows.len().min(query.limit)];
    let stored = page
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<_, &str>(0).map_err(pg)?,
                row.try_get::<_, &str>(1).map_err(pg)?,
                row.try_get::<_, &[u8]>(3).map_err(pg)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let docs = unpack_all(&***client, dictionaries, &stored).await?;
    let mut items = Vec::with_capacity(page.len());
    let mut last_values = None;
    for (row, doc) in page.iter().zip(docs) {
        items.push(StoredItem {
            collection: row.try_get(0).map_err(pg)?,
            id: row.try_get(1).map_err(pg)?,
            updated: row.try_get(2).map_err(pg)?,
            doc,
            properties: row.try_get(4).map_err(pg)?,
            links: row.try_get(5).map_err(pg)?,
        });
        if has_more {
            last_values = Some(
                (0..keys.len())
                    .map(|n| sort_value(row, 6 + n))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
    }
    let next = if has_more {
        last_values.map(|values| Cursor {
            signature: sig,
            values,
            matched: number_matched,
        })
    } else {
        None
    };
    Ok(ItemPage {
        items,
        number_matched,
        next,
    })
}

/// Properties a filter cannot be true without: those compared with `=`,
/// `<>`, `<`, `<=`, `>`, `>=` at the top level of a conjunction (a missing
/// property makes the comparison NULL).
fn required_properties(expr: &cql2::Expr, out: &mut Vec<String>) {
    if let cql2::Expr::Operation { op, args } = expr {
        match op.to_ascii_lowercase().as_str() {
            "and" => {
                for a in args {
                    required_properties(a, out);
                }
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                for a in args {
                    if let cql2::Expr::Property { property } = a.as_ref() {
                        let bare = property.strip_prefix("properties.").unwrap_or(property);
                        if !matches!(
                            bare,
                            "id" | "collection"
                                | "geometry"
                                | "datetime"
                                | "start_datetime"
                                | "end_datetime"
                        ) {
                            out.push(bare.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The parts of a filter that must all hold (the operands of its top-level
/// `and`s; the filter itself otherwise).
fn conjuncts(expr: &cql2::Expr) -> Vec<&cql2::Expr> {
    match expr {
        cql2::Expr::Operation { op, args }
            if op.eq_ignore_ascii_case("and") && !args.is_empty() =>
        {
            args.iter().flat_map(|a| conjuncts(a)).collect()
        }
        _ => vec![expr],
    }
}

/// Whether a condition reads no property but the cloud cover (with
/// comparisons, lists, ranges, null tests and logic), which the datetime
/// index's entries carry: it can be tested on them, without the row.
fn on_cloud_cover_only(expr: &cql2::Expr) -> bool {
    use cql2::Expr;
    match expr {
        Expr::Operation { op, args } => {
            matches!(
                op.to_ascii_lowercase().as_str(),
                "=" | "<>"
                    | "<"
                    | "<="
                    | ">"
                    | ">="
                    | "between"
                    | "in"
                    | "isnull"
                    | "not"
                    | "and"
                    | "or"
            ) && args.iter().all(|a| on_cloud_cover_only(a))
        }
        Expr::Property { property } => {
            property.strip_prefix("properties.").unwrap_or(property) == "eo:cloud_cover"
        }
        Expr::Array(items) => items.iter().all(|a| on_cloud_cover_only(a)),
        Expr::Float(_) | Expr::Null => true,
        _ => false,
    }
}

/// What each way of reaching items costs, in µs of the server's time, as
/// measured on 1M items (pgbench, cached data, 2-core machine): only their
/// ratios matter.
mod cost {
    /// An entry of a datetime index read without its row (its box columns
    /// tested), or of a GiST index.
    pub const INDEX_ENTRY: f64 = 0.45;
    /// A candidate of the boxes from a GiST index: the entry and its row,
    /// read from the table in no useful order, tested.
    pub const BOX_CANDIDATE: f64 = 3.9;
    /// The row of a key found in a datetime index, read through the
    /// collection's primary key.
    pub const KEY_ROW: f64 = 10.0;
    /// The most counting may add to a search with `store.count = auto`.
    pub const COUNT_EXTRA: f64 = 1_000.0;
}

/// How a page statement reaches the items.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// Let PostgreSQL choose among the indexes.
    Planner,
    /// The boxes' candidates from the GiST indexes.
    Boxes,
    /// The time range's rows from the datetime indexes.
    Time,
}

/// ` WHERE a AND b …`, or nothing.
fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// What the histograms say of a search.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    /// Items in the boxes' cells (all items in scope without a spatial filter).
    in_space: u64,
    /// Items in the time range (all items in scope without one).
    in_time: u64,
    /// Items in both, taking space and time as independent in each collection.
    matches: u64,
    /// Rows a walk of the datetime indexes reads to fill the page.
    walk_rows: Option<f64>,
}

/// A datetime bucket of the histograms: 2^41 µs (about 25 days).
const TIME_SHIFT: u32 = 41;

/// The histogram cell of a box centre (1°), as `tl_space_bucket` computes it.
pub(super) fn space_bucket(b: &Bounds) -> i64 {
    let x = ((b.minx + b.maxx) / 2.0 + 180.0).floor().clamp(0.0, 359.0) as i64;
    let y = ((b.miny + b.maxy) / 2.0 + 90.0).floor().clamp(0.0, 179.0) as i64;
    y * 360 + x
}

/// A box's width and height in millidegrees, as the histograms sum them.
pub(super) fn box_size(b: &Bounds) -> [i64; 2] {
    [
        ((b.maxx - b.minx) * 1000.0).round() as i64,
        ((b.maxy - b.miny) * 1000.0).round() as i64,
    ]
}

/// The histogram bucket of a datetime.
pub(super) fn time_bucket(t: i64) -> i64 {
    t >> TIME_SHIFT
}

/// A collection's search histograms.
#[derive(Debug, Default)]
pub(super) struct Histograms {
    /// Items by 1° cell of their box centre.
    space: BTreeMap<i64, f64>,
    /// Items by datetime bucket.
    time: BTreeMap<i64, f64>,
    /// Sums of the footprints' box widths and heights (millidegrees).
    sizes: [f64; 2],
}

impl Histograms {
    /// Items whose box meets one of `boxes`: those whose centre lies in the
    /// boxes widened by half the mean item box, cells counted in proportion
    /// to their overlap. `None` when the boxes cover too many cells.
    fn in_boxes(&self, boxes: &[Bounds]) -> Option<f64> {
        let n: f64 = self.space.values().sum();
        if n <= 0.0 {
            return Some(0.0);
        }
        let (half_w, half_h) = (self.sizes[0] / n / 2000.0, self.sizes[1] / n / 2000.0);
        let mut total = 0.0;
        let mut cells = 0;
        for b in boxes {
            let (w, e) = (b.minx - half_w + 180.0, b.maxx + half_w + 180.0);
            let (s, north) = (b.miny - half_h + 90.0, b.maxy + half_h + 90.0);
            let x0 = w.floor().clamp(0.0, 359.0) as i64;
            let x1 = e.floor().clamp(0.0, 359.0) as i64;
            let y0 = s.floor().clamp(0.0, 179.0) as i64;
            let y1 = north.floor().clamp(0.0, 179.0) as i64;
            cells += (x1 - x0 + 1).max(0) * (y1 - y0 + 1).max(0);
            if cells > 400 {
                return None;
            }
            let part = |cell: i64, lo: f64, hi: f64| {
                let (a, b) = (cell as f64, cell as f64 + 1.0);
                (hi.min(b) - lo.max(a)).clamp(0.0, 1.0)
            };
            for y in y0..=y1 {
                let fy = part(y, s, north);
                for (&cell, count) in self.space.range(y * 360 + x0..=y * 360 + x1) {
                    total += count * fy * part(cell - y * 360, w, e);
                }
            }
        }
        Some(total)
    }
}

/// What searches keep in memory of each collection.
#[derive(Debug, Default)]
pub(super) struct Memo {
    histograms: PerCollection<Histograms>,
    properties: PerCollection<PropertyKinds>,
}

/// The histograms of these collections, from memory or the database.
async fn histograms(
    client: &impl GenericClient,
    memo: &Memo,
    collections: &[&CollectionMeta],
) -> Result<Vec<Arc<Histograms>>> {
    let stale = memo.histograms.stale(collections);
    if !stale.is_empty() {
        let rows = client
            .query(
                "SELECT collection, kind, bucket, count FROM item_histogram WHERE collection = ANY($1)",
                &[&stale],
            )
            .await
            .map_err(pg)?;
        let mut fresh: HashMap<String, Histograms> = HashMap::new();
        for row in rows {
            let collection: String = row.try_get(0).map_err(pg)?;
            let kind: i16 = row.try_get(1).map_err(pg)?;
            let bucket: i64 = row.try_get(2).map_err(pg)?;
            let count: i64 = row.try_get(3).map_err(pg)?;
            let h = fresh.entry(collection).or_default();
            let count = count.max(0) as f64;
            match kind {
                0 => {
                    h.space.insert(bucket, count);
                }
                1 => {
                    h.time.insert(bucket, count);
                }
                _ => h.sizes[bucket.clamp(0, 1) as usize] = count,
            }
        }
        memo.histograms.store(collections, &stale, fresh);
    }
    Ok(memo.histograms.get(collections))
}

/// Estimates a search from the histograms: items in the boxes' cells, in
/// the time range `[t0, t1]` (datetimes), matches (space and time taken as
/// independent within each collection), and how many rows a walk of the
/// datetime indexes in sort order, from `walk_from` on, reads to find
/// `wanted` matches (it reads every collection's items in datetime order).
fn estimate(
    collections: &[&CollectionMeta],
    histograms: &[Arc<Histograms>],
    boxes: Option<&[Bounds]>,
    (t0, t1): (i64, i64),
    walk: Option<(bool, i64, i64, usize)>,
) -> Estimate {
    let bucket_len = (1i64 << TIME_SHIFT) as f64;
    // The share of a bucket inside [lo, hi].
    let overlap = |b: i64, lo: i64, hi: i64| -> f64 {
        let start = b << TIME_SHIFT;
        let end = ((b + 1) << TIME_SHIFT) - 1;
        let n = hi.min(end).saturating_sub(lo.max(start)).saturating_add(1);
        (n.max(0) as f64 / bucket_len).min(1.0)
    };
    let (mut in_space, mut in_time, mut matches) = (0f64, 0f64, 0f64);
    // Each collection's share of items in the boxes, for the walk (none
    // for a collection without items).
    let mut shares = vec![None; histograms.len()];
    for ((c, h), share_of) in collections.iter().zip(histograms).zip(&mut shares) {
        let all = c.item_count.max(0) as f64;
        if all == 0.0 {
            continue;
        }
        let space = match boxes {
            Some(boxes) => h.in_boxes(boxes).unwrap_or(all).min(all),
            None => all,
        };
        let share = space / all;
        let time: f64 = if t0 == i64::MIN && t1 == i64::MAX {
            all
        } else {
            h.time
                .range(time_bucket(t0)..=time_bucket(t1))
                .map(|(&b, n)| n * overlap(b, t0, t1))
                .sum::<f64>()
                .min(all)
        };
        in_space += space;
        in_time += time;
        matches += time * share;
        *share_of = Some(share);
    }
    let walk_rows = walk.map(|(descending, lo, hi, wanted)| {
        // The collections' time buckets merged in the walk's order, lazily:
        // the walk usually ends within a few buckets.
        type Buckets<'a> = Box<dyn Iterator<Item = (&'a i64, &'a f64)> + 'a>;
        let mut lanes: Vec<(f64, std::iter::Peekable<Buckets>)> = histograms
            .iter()
            .zip(&shares)
            .filter_map(|(h, &share)| {
                let range = h.time.range(time_bucket(lo)..=time_bucket(hi));
                let buckets: Buckets = if descending {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                };
                Some((share?, buckets.peekable()))
            })
            .collect();
        let wanted = wanted as f64;
        let (mut rows, mut found) = (0f64, 0f64);
        loop {
            let next = lanes
                .iter_mut()
                .filter_map(|(_, it)| it.peek().map(|(b, _)| **b))
                .reduce(|a, b| if descending { a.max(b) } else { a.min(b) });
            let Some(bucket) = next else {
                return rows;
            };
            let (mut n, mut m) = (0f64, 0f64);
            for (share, it) in &mut lanes {
                if let Some((_, count)) = it.next_if(|(b, _)| **b == bucket) {
                    let count = count * overlap(bucket, lo, hi);
                    n += count;
                    m += count * *share;
                }
            }
            if found + m >= wanted && m > 0.0 {
                return rows + n * (wanted - found) / m;
            }
            rows += n;
            found += m;
        }
    });
    Estimate {
        in_space: in_space.round() as u64,
        in_time: in_time.round() as u64,
        matches: matches.ceil() as u64,
        walk_rows,
    }
}

/// Joins the rows of the keys `k` (collection, id, datetime), one at a time
/// in the keys' order (a subquery per key, which the planner cannot turn
/// into a hash join over a whole partition; the datetime leads it to the
/// one time partition of a collection split in time). Keys all of `one`
/// collection (an id the store holds) read it alone, without choosing
/// among the partitions for each key.
fn rows_of_keys(one: Option<&str>) -> String {
    let collection = match one {
        Some(id) => format!("i.collection = {} AND ", super::schema::literal(id)),
        None => String::new(),
    };
    format!(
        "CROSS JOIN LATERAL (SELECT * FROM items i WHERE {collection}i.collection = k.collection AND i.id = k.id AND i.datetime = k.datetime OFFSET 0) i"
    )
}

/// The search boxes' bounds as parameters, `[west, south, east, north]`
/// for each box (a box across the antimeridian is two).
fn envelope_params(sql: &mut PgSql, spatial: &Spatial) -> Vec<[String; 4]> {
    spatial
        .envelopes()
        .iter()
        .map(|b| [b.minx, b.miny, b.maxx, b.maxy].map(|v| sql.param(SqlValue::Real(v))))
        .collect()
}

/// The items of `alias` whose box (`minx`… columns, the footprint's bounds)
/// meets one of the search boxes: every item the exact test can keep, and
/// few others; testable on the datetime index's entries, which carry the
/// box columns.
fn box_overlap(alias: &str, envelopes: &[[String; 4]]) -> String {
    if envelopes.is_empty() {
        return "TRUE".into();
    }
    let tests: Vec<String> = envelopes
        .iter()
        .map(|[w, s, e, n]| {
            format!(
                "({alias}.maxx >= {w} AND {alias}.minx <= {e} AND {alias}.maxy >= {s} AND {alias}.miny <= {n})"
            )
        })
        .collect();
    format!("({})", tests.join(" OR "))
}

/// The spatial filter: the exact intersection, which PostGIS answers from the
/// GiST index (box overlap) before testing the footprints.
fn spatial_condition(sql: &mut PgSql, spatial: &Spatial) -> Result<(String, String)> {
    let wkb = match spatial {
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
            crate::catalog::geometry::Footprint::from_geo(geo::Geometry::MultiPolygon(
                geo::MultiPolygon(polygons),
            ))?
            .wkb
        }
        Spatial::Geometry(fp) => fp.wkb.clone(),
    };
    let g = sql.param(SqlValue::Blob(wkb));
    Ok((format!("ST_Intersects(i.geom, {g})"), g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::catalog::item::{ItemContext, parse_item};
    use crate::catalog::query::Limits;
    use std::cell::Cell;

    #[test]
    fn conditions_on_the_cloud_cover_alone_are_found_among_the_conjuncts() {
        let filter = |text: &str| -> cql2::Expr { text.parse().unwrap() };
        let f = filter(
            "\"eo:cloud_cover\" < 20 AND (platform = 'S2A' OR \"eo:cloud_cover\" IS NULL) \
             AND \"eo:cloud_cover\" BETWEEN 1 AND 5 AND NOT \"eo:cloud_cover\" IN (3, 4)",
        );
        let parts = conjuncts(&f);
        assert_eq!(parts.len(), 4);
        let testable: Vec<bool> = parts.iter().map(|p| on_cloud_cover_only(p)).collect();
        assert_eq!(testable, [true, false, true, true]);
        for text in [
            "\"eo:cloud_cover\" < gsd",
            "\"eo:cloud_cover\" = '20'",
            "S_INTERSECTS(geometry, POINT(1 2))",
            "datetime > TIMESTAMP('2020-01-01T00:00:00Z')",
        ] {
            assert!(!on_cloud_cover_only(&filter(text)), "{text}");
        }
    }

    /// An access path a test imposes on the searches of its thread.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(super) enum Path {
        /// The walk, with this budget of rows (then the planner's way).
        Walk(i64),
        Boxes,
        Time,
        Planner,
    }

    thread_local! {
        pub(super) static FORCED: Cell<Option<Path>> = const { Cell::new(None) };
    }

    #[test]
    fn tsvectors_stay_within_postgresql_limits() {
        let text = format!(
            "{} short {}",
            "y".repeat(MAX_LEXEME + 1),
            (0..200_000)
                .map(|n| format!("mot{n:07}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let words = indexable_words(&text);
        assert!(words.keys().all(|w| w.len() <= MAX_LEXEME));
        assert!(words.contains_key("short"));
        let bytes: usize = words.keys().map(|w| w.len()).sum();
        assert!(bytes < 1 << 20, "{bytes} bytes of lexemes");
        assert!(words.len() > 1000);
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    struct Item {
        collection: String,
        id: String,
        bbox: [f64; 4],
        start: i64,
        datetime: i64,
        end: i64,
        cloud: Option<f64>,
    }

    fn micros(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    /// A right triangle over the "dense" and "wide" collections' region.
    const TRIANGLE: [[[f64; 2]; 4]; 1] = [[[1.0, 41.0], [7.0, 41.0], [1.0, 47.0], [1.0, 41.0]]];

    /// Every access path (the walk with a large and a tiny budget, the GiST
    /// boxes, the planner) gives the same pages as a scan of the items in
    /// Rust, on collections whose places, dates and cloud covers differ.
    #[tokio::test]
    async fn access_paths_agree_with_a_scan() {
        let Some(cat) = super::super::test_catalog("tl_paths").await else {
            return;
        };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut all = Vec::new();
        // (collection, items, region [w, s, e, n], box size, years, cloud cover, spans)
        type Spec = (&'static str, usize, [f64; 4], f64, (i32, i32), bool, bool);
        let specs: [Spec; 3] = [
            (
                "dense",
                3000,
                [0.0, 40.0, 8.0, 48.0],
                1.0,
                (2018, 2024),
                true,
                false,
            ),
            (
                "wide",
                300,
                [-10.0, 30.0, 20.0, 60.0],
                8.0,
                (2020, 2030),
                false,
                false,
            ),
            (
                "weekly",
                600,
                [-55.0, 2.0, -51.0, 6.0],
                0.5,
                (2019, 2023),
                false,
                true,
            ),
        ];
        for (c, n, region, size, (y0, y1), cloudy, spans) in specs {
            let doc = serde_json::json!({
                "type": "Collection", "stac_version": "1.0.0", "id": c, "description": c,
                "license": "proprietary", "links": [],
                "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                           "temporal": {"interval": [[null, null]]}}
            });
            let collection =
                crate::catalog::collection::parse_collection(&doc.to_string(), None).unwrap();
            cat.put_collection(collection, crate::catalog::WriteMode::Upsert)
                .await
                .unwrap();
            let t0 = micros(&format!("{y0}-01-01T00:00:00Z"));
            let t1 = micros(&format!("{y1}-01-01T00:00:00Z"));
            let mut docs = Vec::new();
            for k in 0..n {
                let w = region[0] + rng.next() * (region[2] - region[0]);
                let s = region[1] + rng.next() * (region[3] - region[1]);
                let bbox = [
                    w,
                    s,
                    w + size * (0.5 + rng.next()),
                    s + size * (0.5 + rng.next()),
                ];
                let datetime = t0 + ((t1 - t0) as f64 * rng.next()) as i64 / 1_000_000 * 1_000_000;
                let (start, end) = if spans {
                    (datetime - 3 * 86_400_000_000, datetime + 4 * 86_400_000_000)
                } else {
                    (datetime, datetime)
                };
                let cloud = cloudy.then(|| (rng.next() * 100.0).round());
                let stamp = |t: i64| {
                    chrono::DateTime::from_timestamp_micros(t)
                        .unwrap()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                let mut properties = serde_json::json!({"datetime": stamp(datetime)});
                if spans {
                    properties["start_datetime"] = stamp(start).into();
                    properties["end_datetime"] = stamp(end).into();
                }
                if let Some(cc) = cloud {
                    properties["eo:cloud_cover"] = cc.into();
                }
                let id = format!("{c}-{k:05}");
                let [w, s, e, n] = bbox;
                let item = serde_json::json!({
                    "type": "Feature", "stac_version": "1.0.0", "id": id, "collection": c,
                    "bbox": bbox,
                    "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                    "properties": properties, "assets": {}, "links": []
                });
                docs.push(parse_item(&item.to_string(), &ItemContext::default()).unwrap());
                all.push(Item {
                    collection: c.into(),
                    id,
                    bbox,
                    start,
                    datetime,
                    end,
                    cloud,
                });
            }
            cat.put_items(docs, crate::catalog::WriteMode::Upsert)
                .await
                .unwrap();
        }
        cat.analyze().await.unwrap();

        let bodies = [
            serde_json::json!({"bbox": [2.2, 43.1, 3.2, 44.1]}),
            serde_json::json!({"bbox": [2.2, 43.1, 3.2, 44.1], "filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}}),
            serde_json::json!({"bbox": [-54.0, 3.0, -53.0, 4.0], "filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}}),
            // The same filter in parts: those on the cloud cover alone are
            // tested on the datetime index's entries, the spatial one on rows.
            serde_json::json!({"bbox": [2.2, 43.1, 3.2, 44.1], "filter": {"op": "and", "args": [
                {"op": "between", "args": [{"property": "eo:cloud_cover"}, 0, 19]},
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "eo:cloud_cover"}]}]},
                {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[[-180, -80], [180, -80], [180, 80], [-180, 80], [-180, -80]]]}]}
            ]}}),
            serde_json::json!({"bbox": [-54.0, 3.0, -52.5, 4.5], "datetime": "2021-03-01T00:00:00Z/2021-09-30T00:00:00Z"}),
            serde_json::json!({"collections": ["dense", "wide"], "bbox": [5.0, 45.0, 7.0, 47.0], "datetime": "2022-01-01T00:00:00Z/2023-06-30T00:00:00Z"}),
            serde_json::json!({"bbox": [-20.0, 20.0, 30.0, 70.0], "datetime": "../2019-06-01T00:00:00Z", "sortby": [{"field": "datetime", "direction": "asc"}]}),
            serde_json::json!({"bbox": [1.0, 41.0, 1.5, 41.5], "sortby": [{"field": "properties.eo:cloud_cover", "direction": "asc"}]}),
            serde_json::json!({"bbox": [100.0, 10.0, 101.0, 11.0]}),
            // Across the antimeridian: two boxes (east of 7.5°, west of -9°).
            serde_json::json!({"bbox": [7.5, 41.0, -9.0, 47.0]}),
            serde_json::json!({"bbox": [7.5, 2.0, -52.0, 47.0], "datetime": "2021-01-01T00:00:00Z/2021-12-31T00:00:00Z"}),
            // A triangle: many boxes meet its bounds but not the triangle.
            serde_json::json!({"intersects": {"type": "Polygon", "coordinates": TRIANGLE}}),
            serde_json::json!({"intersects": {"type": "Polygon", "coordinates": TRIANGLE}, "datetime": "2020-01-01T00:00:00Z/2020-12-31T00:00:00Z"}),
        ];
        let paths = [
            None,
            Some(Path::Walk(1_000_000)),
            Some(Path::Walk(3)),
            Some(Path::Boxes),
            Some(Path::Time),
            Some(Path::Planner),
        ];
        for body in bodies {
            let mut body = body;
            body["limit"] = 7.into();
            let query = SearchQuery::from_json_body(body.clone(), Limits::default()).unwrap();
            // The expected ids, by a scan.
            let envelopes = query.spatial.as_ref().unwrap().envelopes();
            let triangle = geo::Polygon::new(
                TRIANGLE[0]
                    .iter()
                    .map(|&[x, y]| geo::coord! { x: x, y: y })
                    .collect(),
                vec![],
            );
            let wants_triangle = body.get("intersects").is_some();
            let wants_cloud = body.get("filter").is_some();
            let mut expected: Vec<&Item> = all
                .iter()
                .filter(|i| {
                    query.collections.is_empty() || query.collections.contains(&i.collection)
                })
                .filter(|i| {
                    if wants_triangle {
                        use geo::Intersects;
                        let [w, s, e, n] = i.bbox;
                        geo::Rect::new(geo::coord! { x: w, y: s }, geo::coord! { x: e, y: n })
                            .to_polygon()
                            .intersects(&triangle)
                    } else {
                        envelopes.iter().any(|b| {
                            i.bbox[0] <= b.maxx
                                && i.bbox[2] >= b.minx
                                && i.bbox[1] <= b.maxy
                                && i.bbox[3] >= b.miny
                        })
                    }
                })
                .filter(|i| {
                    query.datetime.as_ref().is_none_or(|d| {
                        d.start.is_none_or(|s| i.end >= s) && d.end.is_none_or(|e| i.start <= e)
                    })
                })
                .filter(|i| !wants_cloud || i.cloud.is_some_and(|c| c < 20.0))
                .collect();
            let keys = query.effective_sort();
            let by_cloud = matches!(keys[0].field, SortField::Property(_));
            expected.sort_by(|a, b| {
                let order = if by_cloud {
                    let (x, y) = (a.cloud.unwrap_or(f64::MAX), b.cloud.unwrap_or(f64::MAX));
                    x.total_cmp(&y)
                        .then(a.collection.cmp(&b.collection))
                        .then(a.id.cmp(&b.id))
                } else {
                    a.datetime
                        .cmp(&b.datetime)
                        .then(a.collection.cmp(&b.collection))
                        .then(a.id.cmp(&b.id))
                };
                if keys[0].descending {
                    order.reverse()
                } else {
                    order
                }
            });
            let expected: Vec<String> = expected.iter().map(|i| i.id.clone()).collect();
            // (The boxes across the antimeridian and the triangle do match.)
            if wants_triangle || envelopes.len() > 1 {
                assert!(!expected.is_empty(), "{body}");
            }
            for path in paths {
                FORCED.with(|f| f.set(path));
                let mut got = Vec::new();
                let mut q = query.clone();
                loop {
                    let page = cat.search(&Scope::All, &q).await.unwrap();
                    if let Some(n) = page.number_matched {
                        assert_eq!(
                            n as usize,
                            expected.len(),
                            "numberMatched of {body} through {path:?}"
                        );
                    }
                    got.extend(page.items.iter().map(|i| i.id.clone()));
                    match page.next {
                        Some(next) if got.len() <= expected.len() => q.cursor = Some(next),
                        _ => break,
                    }
                }
                FORCED.with(|f| f.set(None));
                assert_eq!(got, expected, "{body} through {path:?}");
            }
        }
    }

    #[test]
    fn tsvector_and_tsquery_are_quoted_words() {
        assert_eq!(
            tsvector("Été, été: S2A l'eau"),
            "'eau':5 'ete':1,2 'l':4 's2a':3"
        );
        let q = TextQuery::parse("\"été s2a\" -nuage, x'); DROP")
            .unwrap()
            .unwrap();
        assert_eq!(
            tsquery(&q),
            "(('ete' <-> 's2a') & !('nuage')) | (('x') & ('drop'))"
        );
    }
}
