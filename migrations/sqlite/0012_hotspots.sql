-- Hot spots (未诉先办, issue 7): a street × category whose intake in a trailing window rose
-- well above its own baseline. Raised once per cell, window length and period (the unique
-- key), so several instances and repeated runs raise it once. `baseline_centi` is the
-- expected count × 100; `tickets` the JSON array of the ticket ids behind it.
CREATE TABLE hotspot_alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    street         TEXT NOT NULL,
    category       TEXT NOT NULL,
    window_hours   BIGINT NOT NULL,
    period         BIGINT NOT NULL,
    count          BIGINT NOT NULL,
    baseline_centi BIGINT NOT NULL,
    raised_at      BIGINT NOT NULL,
    tickets        TEXT NOT NULL,
    UNIQUE (street, category, window_hours, period)
);
CREATE INDEX hotspot_alerts_raised ON hotspot_alerts (raised_at);
