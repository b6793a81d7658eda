-- The search drain claims the oldest due entries in (next_attempt_at, ticket_id) order. With
-- the index on next_attempt_at alone, a full reindex (every entry due at 0) made each claim
-- read and sort every waiting entry: indexing 1,000,000 tickets slowed as it went, to a few
-- hundred a second on PostgreSQL. With the order in the index a claim reads only its batch.
DROP INDEX search_outbox_due;
CREATE INDEX search_outbox_due ON search_outbox (next_attempt_at, ticket_id);
