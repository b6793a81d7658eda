-- Counters hand out gap-free numbers. Writers lock the `event_seq` row first, which orders
-- every write transaction: sequence numbers are committed in the order they are given.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('event_seq', 0), ('ticket_id', 0);

CREATE TABLE departments (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    short_name TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent     TEXT,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL
);

CREATE TABLE users (
    id            BIGINT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    department    TEXT,
    password_hash TEXT NOT NULL,
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);

-- Bearer tokens are stored as SHA-256 hashes: a leaked table grants no access.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- The event log: the truth. Times are Unix milliseconds, UTC.
CREATE TABLE events (
    seq       BIGINT PRIMARY KEY,
    ticket_id BIGINT,
    type      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    actor_id  BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    data      TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, seq);

-- The ticket row is a projection of its events, rebuilt by `hotline rebuild`. The columns
-- are what lists filter on; `body` holds the whole projection as JSON.
CREATE TABLE tickets (
    id            BIGINT PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    category      TEXT NOT NULL,
    street        TEXT,
    community     TEXT,
    caller_phone  TEXT NOT NULL,
    lead          TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    accept_due_at BIGINT,
    reply_due_at  BIGINT,
    version       BIGINT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_phone ON tickets (caller_phone, id);
CREATE INDEX tickets_street ON tickets (street, id);
CREATE INDEX tickets_category ON tickets (category, id);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_reply_due ON tickets (reply_due_at);

-- The units a ticket is assigned to now (lead and assisting): department scope is a join.
CREATE TABLE ticket_units (
    department TEXT NOT NULL,
    ticket_id  BIGINT NOT NULL,
    PRIMARY KEY (department, ticket_id)
);
CREATE INDEX ticket_units_ticket ON ticket_units (ticket_id);
