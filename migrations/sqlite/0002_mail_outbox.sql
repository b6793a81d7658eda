-- The mail outbox: a row is written in the same transaction as the event that causes the
-- mail, and a drain job sends it. An SMTP outage delays mail; it never loses it.
-- Times are Unix milliseconds, UTC. A row is pending until `sent_at` or `failed_at` is set.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- dispatch_notice, urge, overdue, digest
    kind            TEXT NOT NULL,
    ticket_id       BIGINT,
    event_seq       BIGINT,
    -- Makes queueing idempotent: a job that fires twice, or two instances firing the same
    -- timer, queue one mail. NULLs never collide.
    dedupe_key      TEXT UNIQUE,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- Every try, whatever became of it.
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- Tries the server answered with a 4xx refusal; only these count toward giving up, so
    -- an outage of any length delays mail without failing it.
    rejections      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at         BIGINT,
    -- Permanent failure (5xx, bad address, too many refusals): shown to admins.
    failed_at       BIGINT,
    last_error      TEXT,
    -- A lease: the instance sending the row holds it until then, so two never send it.
    locked_until    BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_failed ON mail_outbox (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id);
