//! User accounts: what a new account must contain, what a password must be, and when
//! repeated failed logins lock a username or a client address out.

use super::district::District;
use super::lifecycle::DecisionError;
use super::types::Role;

/// The shortest password an administrator may set.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn invalid(field: &'static str, message: impl Into<String>) -> DecisionError {
    DecisionError::Invalid { field, message: message.into() }
}

/// A username is what people type at login: lower-case letters, digits, `-`, `_`, `.`;
/// 2 to 64 characters. A department account must name a unit of the district; a centre
/// account must not.
pub fn check_new_user(
    username: &str,
    role: Role,
    department: Option<&str>,
    district: &District,
) -> Result<(), DecisionError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    if !(2..=64).contains(&username.chars().count()) || !username.chars().all(allowed) {
        return Err(invalid(
            "username",
            format!("{username:?} is not a username: 2 to 64 lower-case letters, digits, '-', '_' or '.'"),
        ));
    }
    match (role, department) {
        (Role::Department, None) => Err(invalid("department", "a department account needs its unit's code")),
        (Role::Department, Some(code)) if district.department(code).is_none() => {
            Err(invalid("department", format!("no department with the code {code:?}")))
        }
        (Role::Department, Some(_)) => Ok(()),
        (_, Some(_)) => Err(invalid("department", format!("a {} account belongs to no department", role.as_str()))),
        (_, None) => Ok(()),
    }
}

pub fn check_password(password: &str) -> Result<(), DecisionError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid("password", format!("a password needs at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// How many failed logins within the window lock a username, or a client address, out
/// until the failures age out of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_username: i64,
    pub per_address: i64,
    pub window_minutes: i64,
}

/// What a login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LoginSubject {
    Username(String),
    Address(String),
}

impl LoginSubject {
    /// The stored key: `user:NAME` or `address:IP`.
    pub fn key(&self) -> String {
        match self {
            LoginSubject::Username(u) => format!("user:{u}"),
            LoginSubject::Address(a) => format!("address:{a}"),
        }
    }

    pub fn limit(&self, limits: &LoginLimits) -> i64 {
        match self {
            LoginSubject::Username(_) => limits.per_username,
            LoginSubject::Address(_) => limits.per_address,
        }
    }

    /// Said to the person locked out.
    pub fn describe(&self) -> &'static str {
        match self {
            LoginSubject::Username(_) => "this account",
            LoginSubject::Address(_) => "this address",
        }
    }
}

/// The subject that refuses an attempt, given the attempts each has admitted within the
/// window counting this one; the username first, as that is what the person can do
/// something about. Attempts are counted before the password is checked, so no more than
/// the limit are ever checked, however many arrive at once.
pub fn refused_by<'a>(attempts: &'a [(LoginSubject, i64)], limits: &LoginLimits) -> Option<&'a LoginSubject> {
    attempts.iter().find(|(s, n)| *n > s.limit(limits)).map(|(s, _)| s)
}

/// Whether this failure is the one that locks the subject out (audited once per lockout).
pub fn locks_now(subject: &LoginSubject, failures_including_this: i64, limits: &LoginLimits) -> bool {
    failures_including_this == subject.limit(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_accounts_name_a_known_unit_and_centre_accounts_none() {
        let d = District::demo();
        let unit = d.departments.iter().find(|x| x.parent.is_some()).unwrap().code.clone();
        assert!(check_new_user("cgw-li", Role::Department, Some(&unit), &d).is_ok());
        assert!(check_new_user("zhang.min", Role::Operator, None, &d).is_ok());
        let field = |r: Result<(), DecisionError>| match r {
            Err(DecisionError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_new_user("li", Role::Department, None, &d)), "department");
        assert_eq!(field(check_new_user("li", Role::Department, Some("nowhere"), &d)), "department");
        assert_eq!(field(check_new_user("li", Role::Operator, Some(&unit), &d)), "department");
        assert_eq!(field(check_new_user("Li Ming", Role::Operator, None, &d)), "username");
        assert_eq!(field(check_new_user("x", Role::Operator, None, &d)), "username");
        assert_eq!(field(check_password("short")), "password");
        assert!(check_password("long enough!").is_ok());
    }

    #[test]
    fn the_attempt_past_the_limit_is_refused_and_the_username_is_named_first() {
        let limits = LoginLimits { per_username: 5, per_address: 20, window_minutes: 15 };
        let user = LoginSubject::Username("operator".into());
        let addr = LoginSubject::Address("10.0.0.7".into());
        assert_eq!(refused_by(&[(user.clone(), 5), (addr.clone(), 20)], &limits), None);
        assert_eq!(refused_by(&[(user.clone(), 6), (addr.clone(), 25)], &limits), Some(&user));
        assert_eq!(refused_by(&[(user.clone(), 1), (addr.clone(), 21)], &limits), Some(&addr));
        assert!(locks_now(&user, 5, &limits) && !locks_now(&user, 6, &limits) && !locks_now(&addr, 5, &limits));
        assert_eq!(user.key(), "user:operator");
        assert_eq!(addr.key(), "address:10.0.0.7");
    }
}
