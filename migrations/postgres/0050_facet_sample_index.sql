-- The sample that estimated facet counts are taken over (over 20,000 hits, about 10,000 of them:
-- domain::search::facet_sample) is the ids whose hash bucket is below a bound; this index is on
-- that bucket, so a year-wide filter's sample reads its 10,000 entries instead of testing each of
-- a million (409–444 ms at 1,000,000 tickets: ops/bench/RESULTS.md). It carries the columns the
-- filters test and the facets count, so the sample is read from the index alone. The expression
-- must stay exactly domain::search::SAMPLE_BUCKET_SQL (a unit test checks).
CREATE INDEX tickets_sample ON tickets ((((id) * 2654435761) % 4294967291 % 4096))
    INCLUDE (id, status, lead, street, category, kind, urgency, created_at, reply_due_at);
