-- A common word's total and facet counts are estimated from a sample of its hits (over 20,000 hits,
-- about 10,000 of them: domain::search::facet_sample, estimate_total): the index entries whose
-- ticket id's hash bucket is below a bound. The word index holds no ids, so testing each hit's
-- bucket read every hit's document (物业's 92,500 at 1,000,000 tickets, 67,600 pages, 380 ms); this
-- index is on the bucket, and the planner intersects its range with the word's bitmap, reading the
-- sample's documents alone (ops/bench/RESULTS.md). The expression must stay exactly
-- domain::search::SAMPLE_BUCKET_SQL over ticket_id (a unit test checks), as tickets_sample's (0050).
CREATE INDEX search_docs_sample ON search_docs ((((ticket_id) * 2654435761) % 4294967291 % 4096));
