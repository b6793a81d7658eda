-- Timers are a projection of each open ticket's stage clocks (warning, overdue,
-- auto-acceptance, late list), rewritten with the ticket row. The scheduler asks only for
-- the earliest one and for those due: waiting costs the same however many tickets are open.
CREATE TABLE timers (
    ticket_id  BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    stage      TEXT NOT NULL,
    department TEXT,
    fire_at    BIGINT NOT NULL
);
CREATE INDEX timers_fire ON timers (fire_at);
CREATE INDEX timers_ticket ON timers (ticket_id);
