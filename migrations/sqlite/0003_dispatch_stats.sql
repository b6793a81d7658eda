-- What the dispatch statistics group by: the rule that routed a ticket, and whether the
-- department returned it or the centre sent it elsewhere. Existing rows are filled in by
-- `hotline rebuild`.
ALTER TABLE tickets ADD COLUMN rule_id TEXT;
ALTER TABLE tickets ADD COLUMN returns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN redispatches BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tickets_rule ON tickets (rule_id);
