-- Knowledge base (知识库, issue 7): answers operators give on the spot (直接办结). Each article
-- belongs to a department, which keeps it current; past `valid_to` it is flagged expired to
-- that department. Times are Unix milliseconds, UTC.
CREATE TABLE kb_articles (
    id         BIGSERIAL PRIMARY KEY,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    category   TEXT NOT NULL,
    department TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to   BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX kb_articles_department ON kb_articles (department);
CREATE INDEX kb_articles_category ON kb_articles (category);
