-- Login attempts, counted BEFORE the password is checked, one row per username (`user:NAME`)
-- and per client address (`address:IP`). An attempt is admitted only by the statement that
-- raises `attempts` (INSERT … ON CONFLICT DO UPDATE … RETURNING, which takes the row's lock),
-- so parallel guesses, on any number of instances, cannot all be checked before the first
-- failure is written (login_failures, which this replaces, was read, then checked, then
-- written). The window starts at the subject's first attempt; once it is older than
-- login_lockout_minutes the next attempt starts a new one. Times are Unix ms, UTC.
CREATE TABLE login_attempts (
    subject      TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    -- admitted attempts in the window: failed ones plus those being checked now
    attempts     BIGINT NOT NULL,
    -- failed ones; reaching the limit is the lockout (audited once)
    failures     BIGINT NOT NULL
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);

DROP TABLE login_failures;
