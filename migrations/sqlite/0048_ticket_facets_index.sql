-- PostgreSQL's 0048 adds an index of the filter and facet columns by (status, id). The same index
-- made no SQLite search faster at 1,000,000 tickets and one slower (ops/bench/RESULTS.md), so
-- SQLite gets none; this keeps both databases at the same schema version, which backups,
-- restores and `migrate-store` compare.
SELECT 1;
