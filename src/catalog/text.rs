//! Free-text search (`q`), as the STAC API free-text extension defines it.
//!
//! `q` is a list of alternatives (comma-separated in a URL, an array in JSON):
//! an item matches when one of them matches. Inside an alternative, words must
//! all appear, `"quoted phrases"` must appear as written, `+word` is required
//! and `-word` excluded. Matching ignores case and accents.

use super::error::{CatalogError, Result};
use serde_json::Value;

/// One word or phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The words, in order (a phrase when more than one).
    pub words: Vec<String>,
    /// True for `-term`.
    pub excluded: bool,
}

/// A parsed free-text query: any of the alternatives, each all of its terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// Alternatives (OR), each a conjunction of terms (AND / NOT).
    pub any_of: Vec<Vec<Term>>,
}

impl TextQuery {
    /// Parses a `q` value from a URL (`a,b "c d"`).
    pub fn parse(q: &str) -> Result<Option<TextQuery>> {
        Self::from_alternatives(split_outside_quotes(q, ',').iter().map(String::as_str))
    }

    /// Parses a `q` value from a JSON body: a string or an array of strings.
    pub fn from_json(v: &Value) -> Result<Option<TextQuery>> {
        match v {
            Value::String(s) => Self::parse(s),
            Value::Array(items) => {
                let mut alternatives = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => alternatives.push(s.as_str()),
                        other => {
                            return Err(CatalogError::query(format!(
                                "q: expected strings, got {other}"
                            )));
                        }
                    }
                }
                Self::from_alternatives(alternatives.into_iter())
            }
            Value::Null => Ok(None),
            other => Err(CatalogError::query(format!(
                "q must be a string or an array of strings, got {other}"
            ))),
        }
    }

    fn from_alternatives<'a>(
        alternatives: impl Iterator<Item = &'a str>,
    ) -> Result<Option<TextQuery>> {
        let mut any_of = Vec::new();
        for alt in alternatives {
            let terms = parse_terms(alt);
            if terms.is_empty() {
                continue;
            }
            if terms.iter().all(|t| t.excluded) {
                return Err(CatalogError::query(format!(
                    "q: '{}' only excludes words; add at least one word to look for",
                    alt.trim()
                )));
            }
            any_of.push(terms);
        }
        if any_of.len() > 64 {
            return Err(CatalogError::query("q: more than 64 alternatives"));
        }
        Ok((!any_of.is_empty()).then_some(TextQuery { any_of }))
    }

    /// Renders the query in SQLite FTS5 syntax. Every word is quoted, so the
    /// user's text can never be read as FTS5 operators.
    pub fn to_fts5(&self) -> String {
        let quote = |t: &Term| {
            let words: Vec<String> = t.words.iter().map(|w| w.replace('"', "\"\"")).collect();
            format!("\"{}\"", words.join(" "))
        };
        let alternatives: Vec<String> = self
            .any_of
            .iter()
            .map(|terms| {
                let required: Vec<String> =
                    terms.iter().filter(|t| !t.excluded).map(quote).collect();
                let mut s = format!("({})", required.join(" AND "));
                for t in terms.iter().filter(|t| t.excluded) {
                    s = format!("({s} NOT {})", quote(t));
                }
                s
            })
            .collect();
        alternatives.join(" OR ")
    }
}

impl TextQuery {
    /// True when a text matches (used where there is no full-text index,
    /// e.g. over the few collections).
    pub fn matches(&self, text: &str) -> bool {
        let words = words(text);
        let has = |seq: &[String]| !seq.is_empty() && words.windows(seq.len()).any(|w| w == seq);
        self.any_of
            .iter()
            .any(|terms| terms.iter().all(|t| has(&t.words) != t.excluded))
    }
}

/// Splits on `sep` except inside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// Lower-cases and strips accents, as the index does.
pub fn fold(s: &str) -> String {
    unaccent::unaccent(s.to_lowercase())
}

/// The folded words of a text (letters and digits), as the indexes see them.
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_terms(alt: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    for (i, chunk) in alt.split('"').enumerate() {
        if i % 2 == 1 {
            let words = words(chunk);
            if !words.is_empty() {
                // A sign right before the opening quote applies to the phrase.
                let excluded = alt.split('"').nth(i - 1).is_some_and(|p| p.ends_with('-'));
                terms.push(Term { words, excluded });
            }
            continue;
        }
        for token in chunk.split_whitespace() {
            let (excluded, token) = match token.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, token.strip_prefix('+').unwrap_or(token)),
            };
            if matches!(token, "AND" | "OR" | "") {
                continue;
            }
            for w in words(token) {
                terms.push(Term {
                    words: vec![w],
                    excluded,
                });
            }
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_and_phrases() {
        let q = TextQuery::parse(r#"forêt,"forest loss" -cloud"#)
            .unwrap()
            .unwrap();
        assert_eq!(q.any_of.len(), 2);
        assert_eq!(q.any_of[0][0].words, vec!["foret"]);
        assert_eq!(q.any_of[1][0].words, vec!["forest", "loss"]);
        assert!(q.any_of[1][1].excluded);
        assert_eq!(q.to_fts5(), r#"("foret") OR (("forest loss") NOT "cloud")"#);
    }

    #[test]
    fn injection_is_quoted() {
        let q = TextQuery::parse(r#"a" OR NEAR(x"#).unwrap().unwrap();
        assert!(!q.to_fts5().contains("NEAR("));
    }

    #[test]
    fn matching() {
        let q = TextQuery::parse(r#""forest loss",pleiades -spot"#)
            .unwrap()
            .unwrap();
        assert!(q.matches("Weekly forest loss maps"));
        assert!(!q.matches("forest and loss"));
        assert!(q.matches("Pléiades imagery"));
        assert!(!q.matches("Pléiades and SPOT imagery"));
    }

    #[test]
    fn empty_and_negative_only() {
        assert!(TextQuery::parse(" , ").unwrap().is_none());
        assert!(TextQuery::parse("-cloud").is_err());
    }
}
