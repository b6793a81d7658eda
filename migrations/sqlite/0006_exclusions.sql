-- 核减: a supervisor's ruling that a ticket must not count against a department in the
-- monthly assessment (考评). `id` is the sequence number of the `assessment_exclusion_added`
-- event written in the same transaction, which is the audit record. Times are Unix
-- milliseconds, UTC. A ticket is excluded at most once per department.
CREATE TABLE assessment_exclusions (
    id          BIGINT PRIMARY KEY,
    ticket_id   BIGINT NOT NULL,
    department  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    excluded_by TEXT NOT NULL,
    at          BIGINT NOT NULL,
    UNIQUE (ticket_id, department)
);

-- The assessment reads the events of a period by time.
CREATE INDEX events_at ON events (at);
