-- Failed logins, per username (`user:NAME`) and per client address (`address:IP`): kept in
-- the database so a lockout holds on every instance. A subject is locked out while it has
-- too many failures within the window (configuration: login_*). Times are Unix ms, UTC.
CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- Who did what to an account, and every lockout: read by admins (GET /api/v1/admin/audit).
CREATE TABLE account_audit (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    -- user_added, password_set, user_disabled, user_enabled, locked_out
    action  TEXT NOT NULL,
    -- the username or client address concerned
    subject TEXT NOT NULL,
    -- an admin's username, "cli" for the command line, "system" for lockouts
    actor   TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX account_audit_at ON account_audit (at);
