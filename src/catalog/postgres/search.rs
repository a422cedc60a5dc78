//! Item search on PostgreSQL: SQL built from a [`SearchQuery`] with every
//! value bound as a typed parameter, PostGIS for the spatial tests, keyset
//! paging, and counts as the embedded store makes them.

use super::{CollectionMeta, pg, visible_collections};
use crate::catalog::error::Result;
use crate::catalog::filter::{Column, Dialect, SqlValue, Translator};
use crate::catalog::item::JsonType;
use crate::catalog::keyset;
use crate::catalog::query::{SearchQuery, Spatial};
use crate::catalog::queryables::PropertyKinds;
use crate::catalog::scope::Scope;
use crate::catalog::sqlite::CountPolicy;
use crate::catalog::text::TextQuery;
use crate::catalog::token::{Cursor, SortValue};
use crate::catalog::{ItemPage, StoredItem};
use postgres_types::{ToSql, Type};
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
        let key = self.param(SqlValue::Text(name.to_string()));
        let types = self.kinds.types(name);
        let only = |allowed: &[JsonType]| {
            types.is_some_and(|t| !t.is_empty() && t.iter().all(|k| allowed.contains(k)))
        };
        if only(&[JsonType::Number, JsonType::Null]) {
            format!("((i.properties->>{key})::float8)")
        } else if types
            .is_some_and(|t| t.contains(&JsonType::Array) || t.contains(&JsonType::Object))
        {
            format!("(i.properties->{key})")
        } else {
            format!("((i.properties->>{key}) COLLATE \"C\")")
        }
    }

    fn property_micros(&mut self, name: &str) -> String {
        let key = self.param(SqlValue::Text(name.to_string()));
        format!("tl_micros(i.properties->>{key})")
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
                if words.is_empty() {
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
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, w) in crate::catalog::text::words(text).into_iter().enumerate() {
        positions.entry(w).or_default().push((i + 1).min(16383));
    }
    let mut out = String::new();
    for (w, ps) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&w.replace('\'', "''").replace('\\', "\\\\"));
        out.push_str("':");
        let ps: Vec<String> = ps.iter().take(256).map(|p| p.to_string()).collect();
        out.push_str(&ps.join(","));
    }
    out
}

/// Reads the known property names (and types) of some collections.
pub(super) async fn property_kinds(
    client: &impl GenericClient,
    collections: &[String],
) -> Result<PropertyKinds> {
    let rows = client
        .query(
            "SELECT name, type FROM collection_properties WHERE collection = ANY($1)",
            &[&collections],
        )
        .await
        .map_err(pg)?;
    let mut kinds = PropertyKinds::default();
    for row in rows {
        let name: String = row.try_get(0).map_err(pg)?;
        let kind: String = row.try_get(1).map_err(pg)?;
        if let Some(kind) = JsonType::from_name(&kind) {
            kinds.add(&name, kind);
        }
    }
    Ok(kinds)
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
    client: &deadpool_postgres::Object,
    scope: &Scope,
    query: &SearchQuery,
    count: CountPolicy,
) -> Result<ItemPage> {
    let carried = query.cursor.as_ref().and_then(|c| c.matched);
    let (visible, total) = visible_collections(&***client, scope).await?;
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
    let ids: Vec<String> = collections.iter().map(|c| c.id.clone()).collect();
    let kinds = if needs_kinds {
        property_kinds(&***client, &ids).await?
    } else {
        PropertyKinds::default()
    };
    let mut sql = PgSql::new(kinds.clone());
    let mut conditions = Vec::new();
    let items_in_scope: u64 = collections.iter().map(|c| c.item_count.max(0) as u64).sum();

    if !query.collections.is_empty() || collections.len() != total {
        let ps: Vec<String> = ids
            .iter()
            .map(|id| sql.param(SqlValue::Text(id.clone())))
            .collect();
        conditions.push(format!("i.collection IN ({})", ps.join(", ")));
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
    if let Some(spatial) = &query.spatial {
        conditions.push(spatial_condition(&mut sql, spatial)?);
        trivial_count = false;
    }
    if let Some(interval) = &query.datetime {
        let max_before = collections.iter().map(|c| c.max_before).max().unwrap_or(0);
        let max_after = collections.iter().map(|c| c.max_after).max().unwrap_or(0);
        if let Some(s) = interval.start {
            let p = sql.param(SqlValue::Int(s));
            conditions.push(format!("i.end_dt >= {p}"));
            let lo = sql.param(SqlValue::Int(s.saturating_sub(max_after)));
            conditions.push(format!("i.datetime >= {lo}"));
        }
        if let Some(e) = interval.end {
            let p = sql.param(SqlValue::Int(e));
            conditions.push(format!("i.start_dt <= {p}"));
            let hi = sql.param(SqlValue::Int(e.saturating_add(max_before)));
            conditions.push(format!("i.datetime <= {hi}"));
        }
        trivial_count = false;
    }
    if let Some(text) = &query.text {
        let p = sql.param(SqlValue::Text(tsquery(text)));
        conditions.push(format!("i.words @@ ({p})::tsquery"));
        trivial_count = false;
    }
    if let Some(filter) = &query.filter {
        let predicate = Translator::new(&mut sql, &kinds).predicate(filter)?;
        conditions.push(format!("({predicate})"));
        trivial_count = false;
    }
    // The statement without cursor and limit, for counting.
    let where_all = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let count_params = sql.params.len();

    let exprs = keys
        .iter()
        .map(|k| keyset::sort_expr(&mut sql, k, &kinds))
        .collect::<Result<Vec<_>>>()?;
    let sig = keyset::signature(&keys);
    let mut page_conditions = conditions.clone();
    if let Some(cursor) = &query.cursor {
        keyset::check_cursor(cursor, &keys)?;
        page_conditions.push(keyset::after(&mut sql, &exprs, &keys, &cursor.values));
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
    let page_sql = format!(
        "SELECT i.collection, i.id, i.updated, i.doc, i.props_text, i.links, {select}
         FROM items i{where_} ORDER BY {order} LIMIT {limit}",
        select = select.join(", "),
        where_ = if page_conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", page_conditions.join(" AND "))
        },
        order = order.join(", "),
    );
    let params = sql.bind();
    tracing::trace!(target: "tuilerie::sql", sql = %page_sql, params = ?sql.params, "statement");
    let types = sql.types();
    let stmt = client
        .prepare_typed_cached(&page_sql, &types)
        .await
        .map_err(pg)?;
    let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;

    let wanted = count != CountPolicy::Never;
    let number_matched = if !wanted {
        None
    } else if carried.is_some() {
        carried
    } else if trivial_count {
        Some(items_in_scope)
    } else {
        let cap = match count {
            CountPolicy::Auto(limit) => Some(limit),
            _ => None,
        };
        let count_sql = match cap {
            Some(cap) => format!(
                "SELECT count(*) FROM (SELECT 1 FROM items i{where_all} LIMIT {}) s",
                cap.saturating_add(1)
            ),
            None => format!("SELECT count(*) FROM items i{where_all}"),
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
    };

    let has_more = rows.len() > query.limit;
    let mut items = Vec::with_capacity(rows.len().min(query.limit));
    let mut last_values = None;
    for row in rows.iter().take(query.limit) {
        items.push(StoredItem {
            collection: row.try_get(0).map_err(pg)?,
            id: row.try_get(1).map_err(pg)?,
            updated: row.try_get(2).map_err(pg)?,
            doc: row.try_get(3).map_err(pg)?,
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

/// The spatial filter: the exact intersection, which PostGIS answers from the
/// GiST index (box overlap) before testing the footprints.
fn spatial_condition(sql: &mut PgSql, spatial: &Spatial) -> Result<String> {
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
    Ok(format!("ST_Intersects(i.geom, {g})"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
