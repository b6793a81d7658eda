-- The assessment reads a month as one range of sequence numbers: the first and the last
-- event of the month are found by time in this index alone, without reading the table.
CREATE INDEX events_at_seq ON events (at, seq);
DROP INDEX events_at;

-- From this sequence number on, replies, returns and re-dispatches carry the verdicts the
-- assessment needs (`replied.late`, `returned.back_to`, `redispatched.return_of`); a period
-- that starts earlier is judged from each ticket's history instead.
INSERT INTO counters (name, value) SELECT 'assessment_facts_from', COALESCE(MAX(seq), 0) + 1 FROM events;
