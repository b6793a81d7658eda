-- Attachments (issue 20): every stored file an `attachment_added` event names, written in
-- the event's transaction. The cleanup job removes stored objects that have no row here
-- (an upload stored its file, then its request failed) once they are old enough.
CREATE TABLE attachments (
    storage_key   TEXT PRIMARY KEY,
    thumbnail_key TEXT,
    ticket_id     BIGINT NOT NULL,
    event_seq     BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    added_at      BIGINT NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id);
CREATE UNIQUE INDEX attachments_thumbnail ON attachments (thumbnail_key);
