-- CTI (issue 19): the telephone side of the centre. Times are Unix milliseconds, UTC.

-- Every call event a PBX posted, once: (call, event, extension) is what makes two deliveries
-- the same event, so a retry or a resent day of events inserts nothing.
CREATE TABLE cti_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pbx         TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    event       TEXT NOT NULL,
    extension   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (call_id, event, extension)
);

-- The call record folded from its events (a projection: `body` is the whole record as JSON,
-- the columns are what lists and statistics filter on).
CREATE TABLE cti_calls (
    call_id     TEXT PRIMARY KEY,
    caller      TEXT,
    started_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT,
    outcome     TEXT NOT NULL,
    operator    TEXT,
    updated_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX cti_calls_started ON cti_calls (started_at);
CREATE INDEX cti_calls_caller ON cti_calls (caller, started_at);

-- Tickets logged during a call (the ticket's `received` event carries the call id too).
CREATE TABLE cti_call_tickets (
    call_id   TEXT NOT NULL,
    ticket_id BIGINT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (call_id, ticket_id)
);
CREATE INDEX cti_call_tickets_ticket ON cti_call_tickets (ticket_id);

-- One row per extension ever signed in at (a known extension); who sits there and its state.
CREATE TABLE cti_seats (
    extension    TEXT PRIMARY KEY,
    user_id      BIGINT,
    username     TEXT,
    state        TEXT NOT NULL,
    since        BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX cti_seats_user ON cti_seats (user_id);

-- 漏接回拨: one open entry per calling number.
CREATE TABLE cti_missed (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    caller     TEXT NOT NULL,
    status     TEXT NOT NULL,
    last_at    BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE UNIQUE INDEX cti_missed_open ON cti_missed (caller) WHERE status = 'open';
CREATE INDEX cti_missed_status ON cti_missed (status, last_at);
