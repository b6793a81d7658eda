//! Users, their sessions, and the department table mirrored from `dispatch_rules/`.

use super::{get_i64, get_opt_string, get_string, millis, Result, Store};
use crate::domain::types::Role;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub password_hash: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub password_hash: String,
}

/// A department as mirrored into the database (so SQL reports can join on it).
#[derive(Debug, Clone)]
pub struct DepartmentRow {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub kind: String,
    pub parent: Option<String>,
    pub email: String,
    pub phone: String,
}

pub(super) fn decode_user(row: &AnyRow) -> Result<User> {
    let role = get_string(row, "role")?;
    Ok(User {
        id: get_i64(row, "id")?,
        username: get_string(row, "username")?,
        display_name: get_string(row, "display_name")?,
        role: role.parse().map_err(super::StoreError::Corrupt)?,
        department: get_opt_string(row, "department")?,
        password_hash: get_string(row, "password_hash")?,
        active: get_i64(row, "active")? != 0,
    })
}

pub(super) const USER_COLUMNS: &str = "id, username, display_name, role, department, password_hash, active";

/// Inserts accounts in the caller's transaction; ids come from the `user_id` counter.
pub(super) async fn insert_users(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    users: &[NewUser],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let now = millis(now);
    let mut ids = Vec::with_capacity(users.len());
    for u in users {
        let row = sqlx::query(
            "INSERT INTO counters (name, value) VALUES ('user_id', 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        )
        .fetch_one(&mut **tx)
        .await?;
        let id = get_i64(&row, "value")?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, department, password_hash, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
        )
        .bind(id)
        .bind(u.username.as_str())
        .bind(u.display_name.as_str())
        .bind(u.role.as_str())
        .bind(u.department.as_deref())
        .bind(u.password_hash.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

impl Store {
    pub async fn create_users(&self, users: &[NewUser]) -> Result<Vec<i64>> {
        let mut tx = self.writer.begin().await?;
        let ids = insert_users(&mut tx, users, self.now()).await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode_user(&r)).transpose()
    }

    pub async fn user_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await?;
        get_i64(&row, "n")
    }

    pub async fn create_session(&self, token_hash: &str, user_id: i64, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(millis(self.now()))
            .bind(millis(expires_at))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The active user behind a live, unrevoked session, and when the session expires.
    pub async fn session_user(&self, token_hash: &str) -> Result<Option<(User, DateTime<Utc>)>> {
        let row = sqlx::query(&format!(
            "SELECT {}, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.active = 1",
            USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(token_hash)
        .bind(millis(self.now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((decode_user(&r)?, super::from_millis(get_i64(&r, "expires_at")?)))).transpose()
    }

    /// Logs a session out; the revocation is logged for every instance (`revocations`).
    pub async fn revoke_session(&self, token_hash: &str) -> Result<bool> {
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(millis(now))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let revocation =
            super::revocations::Revocation { user_id: get_i64(&row, "user_id")?, token_hash: Some(token_hash.into()) };
        super::revocations::log_revocation(self, &mut tx, &revocation, "logout", now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Mirrors the department files into the database: adds and updates, never deletes
    /// (old tickets keep pointing at a unit that was merged away).
    pub async fn sync_departments(&self, departments: &[DepartmentRow]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for d in departments {
            sqlx::query(
                "INSERT INTO departments (code, name, short_name, kind, parent, email, phone) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 short_name = excluded.short_name, kind = excluded.kind, parent = excluded.parent, \
                 email = excluded.email, phone = excluded.phone",
            )
            .bind(d.code.as_str())
            .bind(d.name.as_str())
            .bind(d.short_name.as_str())
            .bind(d.kind.as_str())
            .bind(d.parent.as_deref())
            .bind(d.email.as_str())
            .bind(d.phone.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
