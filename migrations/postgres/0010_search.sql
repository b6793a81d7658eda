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

-- The embedded index on PostgreSQL: words segmented by jieba (space-separated), a 'simple'
-- tsvector over them (no stemming, no stop words: the segmentation did the language work)
-- and a GIN index. Filters and facets join the tickets table.
CREATE TABLE search_docs (
    ticket_id BIGINT PRIMARY KEY,
    words     TEXT NOT NULL,
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED
);
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);

-- Tickets that exist before this migration are indexed by the drain.
INSERT INTO search_outbox (ticket_id, version, queued_at, attempts, next_attempt_at)
SELECT id, version, updated_at, 0, 0 FROM tickets;
