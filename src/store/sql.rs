//! Dynamic SQL with numbered placeholders, for the queries whose filters vary.
//!
//! sqlx's `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL rejects; this
//! writes `$1…$N`, which both databases accept.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone)]
pub enum Value {
    I64(i64),
    Text(String),
    OptText(Option<String>),
    OptI64(Option<i64>),
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), values: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push_str(&format!("${}", self.values.len()));
        self
    }

    /// Appends `(\$a, \$b, …)` for an `IN` list; an empty list becomes `(NULL)`, which matches nothing.
    pub fn bind_list<V: Into<Value> + Clone>(&mut self, values: &[V]) -> &mut Self {
        if values.is_empty() {
            return self.push("(NULL)");
        }
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v.clone());
        }
        self.push(")")
    }

    /// Appends `(\$a, \$b, …)` for one row of a multi-row `INSERT … VALUES`.
    pub fn row(&mut self, values: Vec<Value>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// Appends rows separated by commas, for `INSERT … VALUES`.
    pub fn rows(&mut self, rows: Vec<Vec<Value>>) -> &mut Self {
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.row(row);
        }
        self
    }

    /// The same statement with `prefix` before it (`EXPLAIN …`), with the same values.
    pub fn prefixed(&self, prefix: &str) -> Sql {
        Sql { text: format!("{prefix}{}", self.text), values: self.values.clone() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for v in &self.values {
            q = match v {
                Value::I64(i) => q.bind(*i),
                Value::Text(s) => q.bind(s.as_str()),
                Value::OptText(s) => q.bind(s.as_deref()),
                Value::OptI64(i) => q.bind(*i),
            };
        }
        q
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::OptText(v)
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::OptI64(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM tickets WHERE status = ");
        sql.bind("accepted").push(" AND lead IN ").bind_list(&["a", "b"]).push(" AND id < ").bind(9i64);
        assert_eq!(sql.text(), "SELECT * FROM tickets WHERE status = $1 AND lead IN ($2, $3) AND id < $4");
        let mut empty = Sql::new("x IN ");
        empty.bind_list::<&str>(&[]);
        assert_eq!(empty.text(), "x IN (NULL)");
    }
}
