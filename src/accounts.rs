//! Account administration as the command line and the admin API share it: check (domain),
//! hash, store with its audit row. A password left out is generated and handed back once.

use crate::domain::accounts::{check_new_user, check_password};
use crate::domain::district::District;
use crate::domain::types::Role;
use crate::store::{NewUser, Store, StoreError, User};
use rand::distributions::{Alphanumeric, DistString};

/// An account to add (also the body of `POST /api/v1/admin/users`).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// The unit's code; department accounts only.
    pub department: Option<String>,
    /// At least 10 characters; left out, one is generated and answered once.
    pub password: Option<String>,
}

/// 20 letters and digits from the operating system's generator (~119 bits).
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20)
}

/// The password to set (given, checked; or generated) and whether it was generated.
fn choose_password(given: Option<String>) -> Result<(String, bool), StoreError> {
    match given {
        Some(p) => {
            check_password(&p)?;
            Ok((p, false))
        }
        None => Ok((generate_password(), true)),
    }
}

async fn hash(password: &str) -> Result<String, StoreError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || crate::http::auth::hash_password(&password))
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Adds an account; returns it and the generated password, if one was.
pub async fn add(
    store: &Store,
    district: &District,
    account: NewAccount,
    actor: &str,
) -> Result<(User, Option<String>), StoreError> {
    let username = account.username.trim().to_string();
    check_new_user(&username, account.role, account.department.as_deref(), district)?;
    let (password, generated) = choose_password(account.password)?;
    let user = NewUser {
        display_name: account.display_name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| username.clone()),
        username,
        role: account.role,
        department: account.department,
        password_hash: hash(&password).await?,
    };
    let user = store.add_user(&user, actor).await?;
    Ok((user, generated.then_some(password)))
}

/// Sets a password (ending the account's sessions); returns the generated one, if it was.
pub async fn set_password(
    store: &Store,
    username: &str,
    password: Option<String>,
    actor: &str,
) -> Result<(User, Option<String>), StoreError> {
    let (password, generated) = choose_password(password)?;
    let user = store.set_password(username, &hash(&password).await?, actor).await?;
    Ok((user, generated.then_some(password)))
}
