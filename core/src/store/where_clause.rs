//! A WHERE clause built from optional filters, with numbered placeholders (`$1`, `$2`, …) and
//! the values to bind, in order: the lists of agents and people add a condition per filter set.

/// A value to bind.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

#[derive(Default)]
pub(crate) struct WhereClause {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl WhereClause {
    /// Registers a value; returns its placeholder.
    pub fn value(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Adds a condition (AND).
    pub fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// `WHERE a AND b …`, or nothing.
    pub fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Binds the values to `query` in placeholder order.
    pub fn bind_to<'q, O>(
        self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for b in self.binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        query
    }
}
