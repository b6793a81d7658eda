//! Knowledge-base articles: stored as written, read whole (they are few; matching is the
//! domain's, `domain::kb`).

use super::{from_millis, get_i64, get_opt_i64, get_opt_string, get_string, millis, Result, Store};
use crate::domain::kb::{Article, Draft, Retirement};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, question, answer, category, department, valid_from, valid_to, updated_at, updated_by, \
                       retired_at, retired_by, retired_reason";

fn decode(row: &AnyRow) -> Result<Article> {
    Ok(Article {
        id: get_i64(row, "id")?,
        text: Draft {
            question: get_string(row, "question")?,
            answer: get_string(row, "answer")?,
            category: get_string(row, "category")?,
            department: get_string(row, "department")?,
            valid_from: from_millis(get_i64(row, "valid_from")?),
            valid_to: get_opt_i64(row, "valid_to")?.map(from_millis),
        },
        updated_at: from_millis(get_i64(row, "updated_at")?),
        updated_by: get_string(row, "updated_by")?,
        retired: match get_opt_i64(row, "retired_at")? {
            Some(at) => Some(Retirement {
                at: from_millis(at),
                by: get_opt_string(row, "retired_by")?.unwrap_or_default(),
                reason: get_opt_string(row, "retired_reason")?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

/// Binds $1…$8: the draft's fields, the time and the editor.
fn bind_draft<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    draft: &'q Draft,
    now: i64,
    by: &'q str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(draft.question.as_str())
        .bind(draft.answer.as_str())
        .bind(draft.category.as_str())
        .bind(draft.department.as_str())
        .bind(millis(draft.valid_from))
        .bind(draft.valid_to.map(millis))
        .bind(now)
        .bind(by)
}

impl Store {
    pub async fn add_article(&self, draft: &Draft, by: &str) -> Result<Article> {
        let sql = format!(
            "INSERT INTO kb_articles (question, answer, category, department, valid_from, valid_to, updated_at, \
             updated_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) RETURNING {COLUMNS}"
        );
        let row = bind_draft(sqlx::query(&sql), draft, millis(self.now()), by).fetch_one(&self.writer).await?;
        decode(&row)
    }

    /// Replaces an article's content; `None` when there is no such article.
    pub async fn update_article(&self, id: i64, draft: &Draft, by: &str) -> Result<Option<Article>> {
        let sql = format!(
            "UPDATE kb_articles SET question = $1, answer = $2, category = $3, department = $4, valid_from = $5, \
             valid_to = $6, updated_at = $7, updated_by = $8 WHERE id = $9 RETURNING {COLUMNS}"
        );
        let row =
            bind_draft(sqlx::query(&sql), draft, millis(self.now()), by).bind(id).fetch_optional(&self.writer).await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Takes an article out of use; `None` when there is no such article in use.
    pub async fn retire_article(&self, id: i64, by: &str, reason: &str) -> Result<Option<Article>> {
        let sql = format!(
            "UPDATE kb_articles SET retired_at = $1, retired_by = $2, retired_reason = $3 \
             WHERE id = $4 AND retired_at IS NULL RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(millis(self.now()))
            .bind(by)
            .bind(reason)
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    pub async fn article(&self, id: i64) -> Result<Option<Article>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM kb_articles WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Every article, or only those of these units.
    pub async fn articles(&self, departments: Option<&[String]>) -> Result<Vec<Article>> {
        let mut sql = super::Sql::new(&format!("SELECT {COLUMNS} FROM kb_articles"));
        if let Some(units) = departments {
            sql.push(" WHERE department IN ").bind_list(units);
        }
        sql.push(" ORDER BY id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }
}
