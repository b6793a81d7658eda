//! Account administration (add, set a password, disable, enable) with its audit trail, and
//! the login attempts lockouts are decided on. Each change and its audit row are one
//! transaction; disabling an account or setting its password ends its sessions.

use super::users::{decode_user, USER_COLUMNS};
use super::{from_millis, get_i64, get_string, millis, NewUser, Result, Store, StoreError, User};
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

/// One line of the account audit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// user_added, password_set, user_disabled, user_enabled, locked_out
    pub action: String,
    /// The username, or `user:NAME` / `address:IP` for a lockout.
    pub subject: String,
    /// An admin's username, `cli`, or `system` for lockouts.
    pub actor: String,
    pub detail: String,
}

async fn audit(
    tx: &mut Transaction<'_, Any>,
    at: DateTime<Utc>,
    action: &str,
    subject: &str,
    actor: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO account_audit (at, action, subject, actor, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(millis(at))
        .bind(action)
        .bind(subject)
        .bind(actor)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Every account, by username.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows =
            sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")).fetch_all(&self.pool).await?;
        rows.iter().map(decode_user).collect()
    }

    /// Adds one account; a taken username is a `Conflict`.
    pub async fn add_user(&self, user: &NewUser, actor: &str) -> Result<User> {
        if self.user_by_username(&user.username).await?.is_some() {
            return Err(StoreError::Conflict(format!("the username {:?} is taken", user.username)));
        }
        let detail = match &user.department {
            Some(d) => format!("role {}, department {d}", user.role.as_str()),
            None => format!("role {}", user.role.as_str()),
        };
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        // Two admins adding the same name at once: the second meets the unique index.
        super::users::insert_users(&mut tx, std::slice::from_ref(user), now).await.map_err(|e| match e {
            StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                StoreError::Conflict(format!("the username {:?} is taken", user.username))
            }
            other => other,
        })?;
        audit(&mut tx, now, "user_added", &user.username, actor, &detail).await?;
        tx.commit().await?;
        self.user_by_username(&user.username).await?.ok_or(StoreError::NotFound)
    }

    /// Sets an account's password and ends its sessions. `NotFound` for an unknown username.
    pub async fn set_password(&self, username: &str, password_hash: &str, actor: &str) -> Result<User> {
        self.change_account(
            username,
            actor,
            "password_set",
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            Some(password_hash),
        )
        .await
    }

    /// Disables or enables an account; disabling ends its sessions.
    pub async fn set_active(&self, username: &str, active: bool, actor: &str) -> Result<User> {
        let (action, sql) = if active {
            ("user_enabled", "UPDATE users SET active = 1 WHERE id = $1")
        } else {
            ("user_disabled", "UPDATE users SET active = 0 WHERE id = $1")
        };
        self.change_account(username, actor, action, sql, None).await
    }

    async fn change_account(
        &self,
        username: &str,
        actor: &str,
        action: &str,
        sql: &str,
        value: Option<&str>,
    ) -> Result<User> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let user = decode_user(&row)?;
        let query = match value {
            Some(v) => sqlx::query(sql).bind(v).bind(user.id),
            None => sqlx::query(sql).bind(user.id),
        };
        query.execute(&mut *tx).await?;
        let now = self.now();
        if action != "user_enabled" {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(millis(now))
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            let revocation = super::revocations::Revocation { user_id: user.id, token_hash: None };
            super::revocations::log_revocation(self, &mut tx, &revocation, actor, now).await?;
        }
        audit(&mut tx, now, action, username, actor, "").await?;
        tx.commit().await?;
        self.user_by_username(username).await?.ok_or(StoreError::NotFound)
    }

    /// The account audit, newest first.
    pub async fn account_audit(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows =
            sqlx::query("SELECT id, at, action, subject, actor, detail FROM account_audit ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: get_i64(r, "id")?,
                    at: from_millis(get_i64(r, "at")?),
                    action: get_string(r, "action")?,
                    subject: get_string(r, "subject")?,
                    actor: get_string(r, "actor")?,
                    detail: get_string(r, "detail")?,
                })
            })
            .collect()
    }

    /// Counts a login attempt against each subject (keys `user:…`, `address:…`, each with its
    /// limit) before the password is checked, in one transaction whose upserts hold each
    /// subject's row until it ends, so concurrent attempts, on every instance, are counted
    /// one after another. A window older than `since` starts again. Returns the attempts
    /// each subject has admitted in its window, this one included; when one is past its
    /// limit nothing is counted and `Err(index)` names it.
    pub async fn admit_login_attempt(
        &self,
        subjects: &[(String, i64)],
        since: DateTime<Utc>,
    ) -> Result<std::result::Result<Vec<i64>, usize>> {
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        let mut counts = Vec::with_capacity(subjects.len());
        for (i, (subject, limit)) in subjects.iter().enumerate() {
            let row = sqlx::query(
                "INSERT INTO login_attempts (subject, window_start, attempts, failures) VALUES ($1, $2, 1, 0) \
                 ON CONFLICT (subject) DO UPDATE SET \
                 attempts = CASE WHEN login_attempts.window_start < $3 THEN 1 ELSE login_attempts.attempts + 1 END, \
                 failures = CASE WHEN login_attempts.window_start < $3 THEN 0 ELSE login_attempts.failures END, \
                 window_start = CASE WHEN login_attempts.window_start < $3 THEN $2 ELSE login_attempts.window_start END \
                 RETURNING attempts",
            )
            .bind(subject.as_str())
            .bind(millis(now))
            .bind(millis(since))
            .fetch_one(&mut *tx)
            .await?;
            let attempts = get_i64(&row, "attempts")?;
            if attempts > *limit {
                tx.rollback().await?;
                return Ok(Err(i));
            }
            counts.push(attempts);
        }
        tx.commit().await?;
        Ok(Ok(counts))
    }

    /// The admitted attempt failed: counted as a failure against each subject. `lockout`
    /// is asked, with the subject's index and its failures in the window, whether this one
    /// locks it out, and with what detail: such a lockout is audited in the same
    /// transaction, once. Rows of windows older than `since` are forgotten.
    pub async fn login_failed(
        &self,
        subjects: &[String],
        since: DateTime<Utc>,
        lockout: impl Fn(usize, i64) -> Option<String>,
    ) -> Result<Vec<String>> {
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        let mut locked = Vec::new();
        for (i, subject) in subjects.iter().enumerate() {
            let row =
                sqlx::query("UPDATE login_attempts SET failures = failures + 1 WHERE subject = $1 RETURNING failures")
                    .bind(subject.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row else { continue };
            if let Some(detail) = lockout(i, get_i64(&row, "failures")?) {
                audit(&mut tx, now, "locked_out", subject, "system", &detail).await?;
                locked.push(subject.clone());
            }
        }
        sqlx::query("DELETE FROM login_attempts WHERE window_start < $1").bind(millis(since)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(locked)
    }

    /// The admitted attempt succeeded (`user`) or was never checked: each subject gets its
    /// attempt back, and with `forget_failures` the username's completed failures are
    /// forgotten too (attempts being checked at this moment stay counted).
    pub async fn give_back_login_attempt(&self, subjects: &[String], forget_failures: Option<&str>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for subject in subjects {
            let sql = if forget_failures == Some(subject.as_str()) {
                "UPDATE login_attempts SET attempts = CASE WHEN attempts - 1 - failures > 0 \
                 THEN attempts - 1 - failures ELSE 0 END, failures = 0 WHERE subject = $1"
            } else {
                "UPDATE login_attempts SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
                 WHERE subject = $1"
            };
            sqlx::query(sql).bind(subject.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
