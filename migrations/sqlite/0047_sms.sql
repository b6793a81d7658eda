-- 短信 (issue 21). The SMS outbox: like mail_outbox, a row is written in the transaction of
-- the event that causes the text, and a drain sends it through the gateway (Kannel). An
-- outage delays texts, never loses them. Times are Unix milliseconds, UTC.
CREATE TABLE sms_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- receipt, reply_notice, callback, accept_reminder, urgent_alert
    kind            TEXT NOT NULL,
    ticket_id       BIGINT,
    event_seq       BIGINT,
    dedupe_key      TEXT UNIQUE,
    -- 11-digit mainland mobile
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- message parts the text costs (UCS-2: 70 in one, 67 per part)
    parts           BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    rejections      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- handed to the gateway (it accepted the text)
    sent_at         BIGINT,
    -- given up on (refused for good, or TD): shown to admins
    failed_at       BIGINT,
    last_error      TEXT,
    locked_until    BIGINT,
    -- delivery report: delivered, failed, buffered, submitted (last one wins), and when
    delivery        TEXT,
    delivery_at     BIGINT
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX sms_outbox_failed ON sms_outbox (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX sms_outbox_ticket ON sms_outbox (ticket_id);
CREATE INDEX sms_outbox_recipient ON sms_outbox (recipient, sent_at);

-- 退订: numbers that replied TD get no non-essential text.
CREATE TABLE sms_optouts (
    phone      TEXT PRIMARY KEY,
    at         BIGINT NOT NULL
);

-- Texts residents sent back. `ticket_id` is the ticket it was matched to; `state` is
-- `rating` (recorded as the callback), `opt_out`, `attached` (added to the ticket's history),
-- `queued` (unclear: an operator decides) or `handled` (an operator took it off the queue).
-- `gateway_id` makes a repeated delivery of one message harmless.
CREATE TABLE sms_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id  TEXT UNIQUE,
    phone       TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    ticket_id   BIGINT,
    state       TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX sms_inbox_state ON sms_inbox (state, id);
