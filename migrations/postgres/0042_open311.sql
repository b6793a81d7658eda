-- Open311 GeoReport v2 (issue 22): partners' keys and what each partner filed. Times are Unix
-- milliseconds, UTC.

-- One api_key per partner platform, issued by an admin. Only the key's SHA-256 is kept (the key
-- is shown once); a revoked key answers 403 from then on.
CREATE TABLE open311_keys (
    id           BIGSERIAL PRIMARY KEY,
    partner      TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

-- A ticket filed through the façade: the partner's key, the token answered with it and what the
-- standard's reads give back of the submission (the location as sent, the media link). The
-- ticket's history holds the same in its `partner_filed` event.
CREATE TABLE open311_requests (
    ticket_id      BIGINT PRIMARY KEY,
    token          TEXT NOT NULL UNIQUE,
    key_id         BIGINT NOT NULL,
    partner        TEXT NOT NULL,
    lat            TEXT,
    lon            TEXT,
    address_string TEXT,
    media_url      TEXT,
    created_at     BIGINT NOT NULL
);
