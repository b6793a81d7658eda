-- Search (issue 7). The search outbox holds the tickets whose index entry is stale: a row is
-- written (or refreshed) in the same transaction as the ticket change, and the search drain
-- re-indexes the ticket and deletes the row once the index holds that version. An index
-- outage (Meilisearch down) delays indexing; it never loses an update.
CREATE TABLE search_outbox (
    ticket_id       BIGINT PRIMARY KEY,
    -- The ticket version that made the entry stale; the drain deletes the row only when it
    -- indexed this version or a later one.
    version         BIGINT NOT NULL,
    queued_at       BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A lease: the instance indexing the row holds it until then.
    locked_until    BIGINT,
    last_error      TEXT
);
CREATE INDEX search_outbox_due ON search_outbox (next_attempt_at);

-- The embedded index on SQLite: FTS5 over words segmented by jieba (space-separated), one
-- row per ticket with the ticket id as rowid. Filters and facets join the tickets table.
CREATE VIRTUAL TABLE search_fts USING fts5(words, tokenize = 'unicode61');

-- Tickets that exist before this migration are indexed by the drain.
INSERT INTO search_outbox (ticket_id, version, queued_at, attempts, next_attempt_at)
SELECT id, version, updated_at, 0, 0 FROM tickets;
