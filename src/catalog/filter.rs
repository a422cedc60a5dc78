//! CQL2 to SQL, with every value bound as a parameter.
//!
//! The walk over the `cql2` crate's expression tree, the type rules and the
//! error messages are shared by every store; what differs between SQL engines
//! (placeholders, JSON access, spatial predicates) is behind [`Dialect`].

use super::error::{CatalogError, Result};
use super::geometry::Footprint;
use super::queryables::PropertyKinds;
use cql2::Expr;

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (instants are microseconds since the epoch).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (WKB geometries).
    Blob(Vec<u8>),
}

/// Item attributes stored in typed columns rather than in the properties JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Item id.
    Id,
    /// Collection id.
    Collection,
    /// `datetime` (or `start_datetime`), microseconds.
    Datetime,
    /// Start of the item's span, microseconds.
    Start,
    /// End of the item's span, microseconds.
    End,
    /// Footprint, WKB.
    Geometry,
}

/// The engine-specific renderings the translator needs.
pub trait Dialect {
    /// Binds a value and returns its placeholder (which may be used several times).
    fn param(&mut self, value: SqlValue) -> String;
    /// A typed column.
    fn column(&mut self, column: Column) -> String;
    /// A property read from the properties JSON, as a scalar SQL value
    /// (arrays and objects as JSON).
    fn property(&mut self, name: &str) -> String;
    /// A property holding an RFC 3339 string, as microseconds (NULL when not a date-time).
    fn property_micros(&mut self, name: &str) -> String;
    /// `value LIKE pattern`, case-sensitive, with `\` as the escape character.
    fn like(&mut self, value: &str, pattern: &str) -> String;
    /// Case folding of a text expression.
    fn casei(&mut self, inner: &str) -> String;
    /// Accent stripping of a text expression.
    fn accenti(&mut self, inner: &str) -> String;
    /// A spatial predicate (`s_intersects`, …) between two WKB expressions.
    fn spatial(&mut self, op: &str, left: &str, right: &str) -> String;
    /// An array predicate (`a_contains`, …) between two JSON-array expressions.
    fn array(&mut self, op: &str, left: &str, right: &str) -> String;
    /// A literal array, from its JSON text.
    fn array_literal(&mut self, json: String) -> String;
    /// Arithmetic between two numeric expressions (`+ - * / % ^ div`).
    fn arithmetic(&mut self, op: &str, left: &str, right: &str) -> String;
    /// A literal boolean as a predicate.
    fn truth(&mut self, value: bool) -> String;
}

/// What a translated sub-expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    Text,
    /// An instant in microseconds.
    Time,
    Geometry,
    Array,
    /// A property whose type is only known at run time.
    Json,
    Null,
}

/// A translated sub-expression.
#[derive(Debug, Clone)]
struct Sql {
    text: String,
    kind: Kind,
    /// For a string literal: its value, so it can become an instant when
    /// compared with a date-time.
    literal: Option<String>,
    /// For a `datetime` property: the item's span, for temporal operators.
    span: Option<(String, String)>,
    /// For a property read from the JSON: its name.
    property: Option<String>,
}

impl Sql {
    fn new(text: String, kind: Kind) -> Sql {
        Sql {
            text,
            kind,
            literal: None,
            span: None,
            property: None,
        }
    }
}

/// Translates CQL2 expressions for one statement.
pub struct Translator<'a, D: Dialect> {
    dialect: &'a mut D,
    properties: &'a PropertyKinds,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl<'a, D: Dialect> Translator<'a, D> {
    /// A translator binding into `dialect` and checking names against `properties`.
    pub fn new(dialect: &'a mut D, properties: &'a PropertyKinds) -> Self {
        Translator {
            dialect,
            properties,
            depth: 0,
        }
    }

    /// Translates a filter into a SQL boolean expression.
    pub fn predicate(&mut self, expr: &Expr) -> Result<String> {
        let sql = self.expr(expr)?;
        match sql.kind {
            Kind::Bool => Ok(sql.text),
            _ => Err(CatalogError::query(format!(
                "filter: '{}' is not a condition (did you mean a comparison?)",
                expr.to_text().unwrap_or_default()
            ))),
        }
    }

    fn expr(&mut self, expr: &Expr) -> Result<Sql> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CatalogError::query(
                "filter: expression is nested too deeply",
            ));
        }
        let out = self.expr_inner(expr);
        self.depth -= 1;
        out
    }

    fn expr_inner(&mut self, expr: &Expr) -> Result<Sql> {
        match expr {
            Expr::Bool(b) => Ok(Sql::new(self.dialect.truth(*b), Kind::Bool)),
            Expr::Float(f) => {
                let value = if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    SqlValue::Int(*f as i64)
                } else {
                    SqlValue::Real(*f)
                };
                Ok(Sql::new(self.dialect.param(value), Kind::Number))
            }
            Expr::Literal(s) => {
                let mut sql = Sql::new(self.dialect.param(SqlValue::Text(s.clone())), Kind::Text);
                sql.literal = Some(s.clone());
                Ok(sql)
            }
            Expr::Null => Ok(Sql::new(self.dialect.param(SqlValue::Null), Kind::Null)),
            Expr::Timestamp { timestamp } => self.instant(timestamp, false),
            Expr::Date { date } => self.instant(date, true),
            Expr::Property { property } => self.property(property),
            Expr::Geometry(g) => {
                let json = serde_json::to_string(g)
                    .map_err(|e| CatalogError::query(format!("filter: bad geometry: {e}")))?;
                let fp = Footprint::from_geojson(&json)
                    .map_err(|e| CatalogError::query(format!("filter: {e}")))?;
                Ok(Sql::new(
                    self.dialect.param(SqlValue::Blob(fp.wkb)),
                    Kind::Geometry,
                ))
            }
            Expr::BBox { bbox } => {
                let values = bbox
                    .iter()
                    .map(|b| match **b {
                        Expr::Float(f) => Ok(f),
                        _ => Err(CatalogError::query("filter: BBOX takes numbers")),
                    })
                    .collect::<Result<Vec<f64>>>()?;
                let [w, s, e, n] = super::geometry::Bounds::from_stac_bbox(&values)
                    .map_err(|e| CatalogError::query(format!("filter: BBOX: {e}")))?;
                let fp = Footprint::from_geo(
                    super::geometry::Bounds {
                        minx: w,
                        miny: s,
                        maxx: e,
                        maxy: n,
                    }
                    .to_geo(),
                )?;
                Ok(Sql::new(
                    self.dialect.param(SqlValue::Blob(fp.wkb)),
                    Kind::Geometry,
                ))
            }
            Expr::Array(items) => {
                let values = items
                    .iter()
                    .map(|e| literal_json(e))
                    .collect::<Result<Vec<_>>>()?;
                let json = serde_json::Value::Array(values).to_string();
                Ok(Sql::new(self.dialect.array_literal(json), Kind::Array))
            }
            Expr::Interval { .. } => Err(CatalogError::query(
                "filter: an INTERVAL can only be used with a temporal operator (t_intersects, …)",
            )),
            Expr::Operation { op, args } => self.operation(op, args),
        }
    }

    fn instant(&mut self, inner: &Expr, is_date: bool) -> Result<Sql> {
        let Expr::Literal(s) = inner else {
            return Err(CatalogError::query("filter: TIMESTAMP/DATE takes a string"));
        };
        let micros = parse_instant(s, is_date)?;
        Ok(Sql::new(
            self.dialect.param(SqlValue::Int(micros)),
            Kind::Time,
        ))
    }

    fn property(&mut self, name: &str) -> Result<Sql> {
        let bare = name.strip_prefix("properties.").unwrap_or(name);
        let column = |d: &mut D, c: Column, kind: Kind| Sql::new(d.column(c), kind);
        Ok(match bare {
            "id" => column(self.dialect, Column::Id, Kind::Text),
            "collection" => column(self.dialect, Column::Collection, Kind::Text),
            "geometry" => column(self.dialect, Column::Geometry, Kind::Geometry),
            "datetime" => {
                let mut sql = column(self.dialect, Column::Datetime, Kind::Time);
                let start = self.dialect.column(Column::Start);
                let end = self.dialect.column(Column::End);
                sql.span = Some((start, end));
                sql
            }
            "start_datetime" => column(self.dialect, Column::Start, Kind::Time),
            "end_datetime" => column(self.dialect, Column::End, Kind::Time),
            other => {
                if !self.properties.contains(other) {
                    return Err(CatalogError::query(format!(
                        "filter: unknown property '{other}'; the queryables (/queryables) list those that can be used"
                    )));
                }
                if self.properties.is_datetime(other) {
                    Sql::new(self.dialect.property_micros(other), Kind::Time)
                } else {
                    let mut sql = Sql::new(self.dialect.property(other), Kind::Json);
                    sql.property = Some(other.to_string());
                    sql
                }
            }
        })
    }

    /// Turns a string literal into an instant when compared with a date-time.
    fn as_time(&mut self, sql: Sql) -> Result<Sql> {
        match (&sql.kind, &sql.literal) {
            (Kind::Time | Kind::Null, _) => Ok(sql),
            (Kind::Text, Some(s)) => {
                let micros = parse_instant(s, false)?;
                Ok(Sql::new(
                    self.dialect.param(SqlValue::Int(micros)),
                    Kind::Time,
                ))
            }
            (Kind::Json, _) => Err(CatalogError::query(
                "filter: cannot compare a date-time with a property that is not one",
            )),
            _ => Err(CatalogError::query(
                "filter: a date-time can only be compared with a TIMESTAMP, a DATE or an RFC 3339 string",
            )),
        }
    }

    fn args(&mut self, op: &str, args: &[Box<Expr>], n: usize) -> Result<Vec<Sql>> {
        if args.len() != n {
            return Err(CatalogError::query(format!(
                "filter: '{op}' takes {n} argument(s), got {}",
                args.len()
            )));
        }
        args.iter().map(|a| self.expr(a)).collect()
    }

    fn operation(&mut self, op: &str, args: &[Box<Expr>]) -> Result<Sql> {
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "and" | "or" => {
                if args.is_empty() {
                    return Err(CatalogError::query(format!(
                        "filter: '{op}' needs arguments"
                    )));
                }
                let mut parts = Vec::with_capacity(args.len());
                for a in args {
                    let sql = self.expr(a)?;
                    if sql.kind != Kind::Bool {
                        return Err(CatalogError::query(format!(
                            "filter: the arguments of '{op}' must be conditions"
                        )));
                    }
                    parts.push(format!("({})", sql.text));
                }
                let joiner = if lower == "and" { " AND " } else { " OR " };
                Ok(Sql::new(parts.join(joiner), Kind::Bool))
            }
            "not" => {
                let [a] = <[Sql; 1]>::try_from(self.args(op, args, 1)?).map_err(|_| arity(op))?;
                if a.kind != Kind::Bool {
                    return Err(CatalogError::query("filter: 'not' takes a condition"));
                }
                Ok(Sql::new(format!("NOT ({})", a.text), Kind::Bool))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                let [a, b] =
                    <[Sql; 2]>::try_from(self.args(op, args, 2)?).map_err(|_| arity(op))?;
                let (a, b) = self.comparable(a, b)?;
                if a.kind == Kind::Null || b.kind == Kind::Null {
                    return Err(CatalogError::query(
                        "filter: comparing with NULL is never true; use IS NULL",
                    ));
                }
                Ok(Sql::new(
                    format!("({} {} {})", a.text, op, b.text),
                    Kind::Bool,
                ))
            }
            "between" => {
                // The pre-standard form `[property, [low, high]]` is still sent by some clients.
                let normalized: Vec<Box<Expr>>;
                let args = match args {
                    [a, range] => match &**range {
                        Expr::Array(bounds) if bounds.len() == 2 => {
                            normalized = vec![a.clone(), bounds[0].clone(), bounds[1].clone()];
                            &normalized[..]
                        }
                        _ => args,
                    },
                    _ => args,
                };
                let [a, lo, hi] =
                    <[Sql; 3]>::try_from(self.args(op, args, 3)?).map_err(|_| arity(op))?;
                let (a, lo) = self.comparable(a, lo)?;
                let (a, hi) = self.comparable(a, hi)?;
                Ok(Sql::new(
                    format!("({} BETWEEN {} AND {})", a.text, lo.text, hi.text),
                    Kind::Bool,
                ))
            }
            "in" => {
                if args.len() != 2 {
                    return Err(arity(op));
                }
                let a = self.expr(&args[0])?;
                let Expr::Array(list) = &*args[1] else {
                    return Err(CatalogError::query("filter: IN takes a list"));
                };
                if list.is_empty() {
                    return Ok(Sql::new(self.dialect.truth(false), Kind::Bool));
                }
                // On an array property, IN means "has any of these values".
                if a.property
                    .as_deref()
                    .is_some_and(|p| self.properties.is_array(p))
                {
                    let values = list
                        .iter()
                        .map(|e| literal_json(e))
                        .collect::<Result<Vec<_>>>()?;
                    let right = self
                        .dialect
                        .array_literal(serde_json::Value::Array(values).to_string());
                    return Ok(Sql::new(
                        self.dialect.array("a_overlaps", &a.text, &right),
                        Kind::Bool,
                    ));
                }
                let mut items = Vec::with_capacity(list.len());
                let mut a = a;
                for e in list {
                    let b = self.expr(e)?;
                    let (a2, b) = self.comparable(a, b)?;
                    a = a2;
                    items.push(b.text);
                }
                Ok(Sql::new(
                    format!("({} IN ({}))", a.text, items.join(", ")),
                    Kind::Bool,
                ))
            }
            "isnull" => {
                let [a] = <[Sql; 1]>::try_from(self.args(op, args, 1)?).map_err(|_| arity(op))?;
                Ok(Sql::new(format!("({} IS NULL)", a.text), Kind::Bool))
            }
            "like" => {
                let [a, b] =
                    <[Sql; 2]>::try_from(self.args(op, args, 2)?).map_err(|_| arity(op))?;
                for s in [&a, &b] {
                    if !matches!(s.kind, Kind::Text | Kind::Json) {
                        return Err(CatalogError::query("filter: LIKE compares text"));
                    }
                }
                Ok(Sql::new(self.dialect.like(&a.text, &b.text), Kind::Bool))
            }
            "casei" | "accenti" => {
                let [a] = <[Sql; 1]>::try_from(self.args(op, args, 1)?).map_err(|_| arity(op))?;
                if !matches!(a.kind, Kind::Text | Kind::Json) {
                    return Err(CatalogError::query(format!("filter: {op} takes text")));
                }
                let text = if lower == "casei" {
                    self.dialect.casei(&a.text)
                } else {
                    self.dialect.accenti(&a.text)
                };
                Ok(Sql::new(text, Kind::Text))
            }
            "+" | "-" | "*" | "/" | "%" | "^" | "div" => {
                if args.len() < 2 {
                    return Err(arity(op));
                }
                let mut acc = self.expr(&args[0])?;
                for arg in &args[1..] {
                    let b = self.expr(arg)?;
                    for s in [&acc, &b] {
                        if !matches!(s.kind, Kind::Number | Kind::Json) {
                            return Err(CatalogError::query(format!(
                                "filter: '{op}' takes numbers"
                            )));
                        }
                    }
                    acc = Sql::new(
                        self.dialect.arithmetic(&lower, &acc.text, &b.text),
                        Kind::Number,
                    );
                }
                Ok(acc)
            }
            op if op.starts_with("s_") => {
                const OPS: &[&str] = &[
                    "s_intersects",
                    "s_equals",
                    "s_disjoint",
                    "s_touches",
                    "s_within",
                    "s_overlaps",
                    "s_crosses",
                    "s_contains",
                ];
                if !OPS.contains(&op) {
                    return Err(unknown_function(op));
                }
                let [a, b] =
                    <[Sql; 2]>::try_from(self.args(op, args, 2)?).map_err(|_| arity(op))?;
                if a.kind != Kind::Geometry || b.kind != Kind::Geometry {
                    return Err(CatalogError::query(format!(
                        "filter: {op} compares geometries (the 'geometry' property, a GeoJSON/WKT geometry or a BBOX)"
                    )));
                }
                Ok(Sql::new(
                    self.dialect.spatial(op, &a.text, &b.text),
                    Kind::Bool,
                ))
            }
            op if op.starts_with("t_") => self.temporal(op, args),
            "a_equals" | "a_contains" | "a_containedby" | "a_overlaps" => {
                let [a, b] =
                    <[Sql; 2]>::try_from(self.args(op, args, 2)?).map_err(|_| arity(op))?;
                for s in [&a, &b] {
                    if !matches!(s.kind, Kind::Array | Kind::Json) {
                        return Err(CatalogError::query(format!("filter: {op} compares arrays")));
                    }
                }
                Ok(Sql::new(
                    self.dialect.array(&lower, &a.text, &b.text),
                    Kind::Bool,
                ))
            }
            _ => Err(unknown_function(op)),
        }
    }

    /// Brings two operands to comparable kinds.
    fn comparable(&mut self, a: Sql, b: Sql) -> Result<(Sql, Sql)> {
        if a.kind == Kind::Time || b.kind == Kind::Time {
            return Ok((self.as_time(a)?, self.as_time(b)?));
        }
        for s in [&a, &b] {
            if matches!(s.kind, Kind::Geometry | Kind::Array | Kind::Bool) {
                return Err(CatalogError::query(
                    "filter: only numbers, text and date-times can be compared",
                ));
            }
        }
        if matches!(
            (a.kind, b.kind),
            (Kind::Number, Kind::Text) | (Kind::Text, Kind::Number)
        ) {
            return Err(CatalogError::query(
                "filter: cannot compare a number with text",
            ));
        }
        let b = self.numeric_literal(b, &a);
        let a = self.numeric_literal(a, &b);
        self.check_property_type(&a, &b)?;
        self.check_property_type(&b, &a)?;
        Ok((a, b))
    }

    /// A property whose values are all numbers compared with text that does
    /// not spell one, or one that holds text compared with a number, is a
    /// mistake in the request: said as such (every store alike) rather than
    /// matching nothing.
    fn check_property_type(&self, property: &Sql, other: &Sql) -> Result<()> {
        let Some(name) = property.property.as_deref() else {
            return Ok(());
        };
        let numeric = self.properties.is_numeric(name);
        match other.kind {
            Kind::Text if numeric => Err(CatalogError::query(format!(
                "filter: property '{name}' holds numbers; {} is not a number",
                other
                    .literal
                    .as_deref()
                    .map_or_else(|| "the other operand".to_string(), |s| format!("'{s}'"))
            ))),
            Kind::Number if !numeric => Err(CatalogError::query(format!(
                "filter: property '{name}' does not hold numbers only; compare it with a string"
            ))),
            Kind::Json => match other.property.as_deref() {
                Some(second) if self.properties.is_numeric(second) != numeric => {
                    Err(CatalogError::query(format!(
                        "filter: properties '{name}' and '{second}' hold values of different types"
                    )))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// A text literal that spells a number becomes that number when compared
    /// with a numeric property (the Query extension sends `{"lt": "30.06"}`).
    fn numeric_literal(&mut self, literal: Sql, other: &Sql) -> Sql {
        let numeric_property = other
            .property
            .as_deref()
            .is_some_and(|p| self.properties.is_numeric(p));
        match (&literal.literal, numeric_property) {
            (Some(text), true) => match text.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    Sql::new(self.dialect.param(SqlValue::Real(f)), Kind::Number)
                }
                _ => literal,
            },
            _ => literal,
        }
    }

    /// Both ends of a temporal operand: `(start, end)`.
    fn span(&mut self, expr: &Expr) -> Result<(String, String)> {
        match expr {
            Expr::Interval { interval } => {
                if interval.len() != 2 {
                    return Err(CatalogError::query("filter: INTERVAL takes two bounds"));
                }
                let mut ends = Vec::with_capacity(2);
                for (i, bound) in interval.iter().enumerate() {
                    let open = matches!(&**bound, Expr::Literal(s) if s == "..");
                    ends.push(if open {
                        let v = if i == 0 { i64::MIN } else { i64::MAX };
                        self.dialect.param(SqlValue::Int(v))
                    } else {
                        let sql = self.expr(bound)?;
                        self.as_time(sql)?.text
                    });
                }
                let end = ends.pop().unwrap_or_default();
                let start = ends.pop().unwrap_or_default();
                Ok((start, end))
            }
            other => {
                let sql = self.expr(other)?;
                if let Some(span) = sql.span.clone() {
                    return Ok(span);
                }
                let t = self.as_time(sql)?;
                if t.kind == Kind::Null {
                    return Err(CatalogError::query(
                        "filter: temporal operators need instants",
                    ));
                }
                // A date covers its whole day.
                if let Expr::Date { date } = other
                    && let Expr::Literal(s) = &**date
                {
                    let start = parse_instant(s, true)?;
                    let end = start + 86_400_000_000 - 1;
                    return Ok((t.text, self.dialect.param(SqlValue::Int(end))));
                }
                Ok((t.text.clone(), t.text))
            }
        }
    }

    fn temporal(&mut self, op: &str, args: &[Box<Expr>]) -> Result<Sql> {
        if args.len() != 2 {
            return Err(arity(op));
        }
        let (a1, a2) = self.span(&args[0])?;
        let (b1, b2) = self.span(&args[1])?;
        let text = match op {
            "t_before" => format!("{a2} < {b1}"),
            "t_after" => format!("{a1} > {b2}"),
            "t_meets" => format!("{a2} = {b1}"),
            "t_metby" => format!("{a1} = {b2}"),
            "t_overlaps" => format!("{a1} < {b1} AND {a2} > {b1} AND {a2} < {b2}"),
            "t_overlappedby" => format!("{b1} < {a1} AND {b2} > {a1} AND {b2} < {a2}"),
            "t_starts" => format!("{a1} = {b1} AND {a2} < {b2}"),
            "t_startedby" => format!("{a1} = {b1} AND {a2} > {b2}"),
            "t_during" => format!("{a1} > {b1} AND {a2} < {b2}"),
            "t_contains" => format!("{a1} < {b1} AND {a2} > {b2}"),
            "t_finishes" => format!("{a1} > {b1} AND {a2} = {b2}"),
            "t_finishedby" => format!("{a1} < {b1} AND {a2} = {b2}"),
            "t_equals" => format!("{a1} = {b1} AND {a2} = {b2}"),
            "t_disjoint" => format!("({a2} < {b1} OR {a1} > {b2})"),
            "t_intersects" => format!("{a1} <= {b2} AND {a2} >= {b1}"),
            _ => return Err(unknown_function(op)),
        };
        Ok(Sql::new(format!("({text})"), Kind::Bool))
    }
}

fn arity(op: &str) -> CatalogError {
    CatalogError::query(format!("filter: wrong number of arguments for '{op}'"))
}

fn unknown_function(op: &str) -> CatalogError {
    CatalogError::query(format!(
        "filter: operator or function '{op}' is not supported (see /conformance for the CQL2 classes implemented)"
    ))
}

/// Parses a CQL2 TIMESTAMP (RFC 3339) or DATE (YYYY-MM-DD) into microseconds.
fn parse_instant(s: &str, is_date: bool) -> Result<i64> {
    if is_date {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc().timestamp_micros())
            .ok_or_else(|| CatalogError::query(format!("filter: DATE('{s}') is not YYYY-MM-DD")))
    } else {
        super::datetime::parse_rfc3339(s).ok_or_else(|| {
            CatalogError::query(format!(
                "filter: '{s}' is not an RFC 3339 date-time with a time zone"
            ))
        })
    }
}

/// A literal inside an array, as JSON.
fn literal_json(expr: &Expr) -> Result<serde_json::Value> {
    Ok(match expr {
        Expr::Float(f) => serde_json::json!(f),
        Expr::Literal(s) => serde_json::Value::String(s.clone()),
        Expr::Bool(b) => serde_json::Value::Bool(*b),
        Expr::Null => serde_json::Value::Null,
        Expr::Timestamp { timestamp } | Expr::Date { date: timestamp } => match &**timestamp {
            Expr::Literal(s) => serde_json::Value::String(s.clone()),
            _ => return Err(CatalogError::query("filter: bad TIMESTAMP in a list")),
        },
        Expr::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|e| literal_json(e))
                .collect::<Result<_>>()?,
        ),
        _ => {
            return Err(CatalogError::query(
                "filter: lists may only hold literals (numbers, strings, booleans)",
            ));
        }
    })
}
