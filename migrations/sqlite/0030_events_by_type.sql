-- The dispatch statistics count emergency proposals (`emergency_proposed` events) per rule
-- and decision over a time window: read by type and time, not by walking the whole log.
CREATE INDEX events_type_at ON events (type, at);
