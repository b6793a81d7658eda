-- The embedded index holds each ticket's keys beside its words: its units (`u` and the
-- department code in hex) and its status (`s` and the word in hex), space-separated
-- (`domain::search::index_keys`), with a GIN index on them as an array. A search with words
-- under a department's scope or a status then intersects the words' bitmap with the keys' in
-- the index (`string_to_array(d.keys, ' ') && ARRAY[…]`), instead of reading the scope's
-- tickets and checking each one's document (垃圾 in 城管委's scope at 1,000,000 tickets: 68,000
-- tickets read for 11,000 results, p99 648 ms: ops/bench/RESULTS.md). The ticket rows still
-- decide every filter; the keys narrow, and lag behind a change as the words do.
--
-- The keys of the tickets already indexed are written here from the ticket rows, as the search
-- drain writes them for later changes; nothing is re-indexed. Every row of the index is
-- rewritten once (minutes at 1,000,000 tickets; autovacuum reclaims the old versions).
ALTER TABLE search_docs ADD COLUMN keys TEXT NOT NULL DEFAULT '';

UPDATE search_docs d SET keys = k.keys
FROM (
    SELECT t.id,
           COALESCE((SELECT string_agg(DISTINCT 'u' || encode(convert_to(u.department, 'UTF8'), 'hex'), ' ')
                     FROM ticket_units u WHERE u.ticket_id = t.id) || ' ', '')
           || ('s' || encode(convert_to(t.status, 'UTF8'), 'hex')) AS keys
    FROM tickets t
) k
WHERE k.id = d.ticket_id;

CREATE INDEX search_docs_keys ON search_docs USING GIN (string_to_array(keys, ' '));
