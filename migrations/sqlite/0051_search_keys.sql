-- The embedded index holds each ticket's keys beside its words: its units (`u` and the
-- department code in hex) and its status (`s` and the word in hex), one token each
-- (`domain::search::index_keys`). A search with words under a department's scope or a status
-- then matches both in FTS5 (`words : (…) AND keys : (…)`), which intersects the two lists in
-- the index, instead of reading the scope's tickets and checking each against the words' hits
-- (垃圾 in 城管委's scope at 1,000,000 tickets: 68,000 tickets read for 11,000 results, p99
-- 451 ms: ops/bench/RESULTS.md). The ticket rows still decide every filter; the keys narrow.
--
-- FTS5 cannot add a column, so the index is copied into a table with one, the keys written from
-- the ticket rows as the search drain writes them for later changes; nothing is re-indexed.
CREATE VIRTUAL TABLE search_fts_keyed USING fts5(words, keys, tokenize = 'unicode61');

INSERT INTO search_fts_keyed (rowid, words, keys)
SELECT f.rowid, f.words,
       COALESCE((SELECT group_concat(key, ' ') FROM (
           SELECT DISTINCT 'u' || lower(hex(u.department)) AS key
           FROM ticket_units u WHERE u.ticket_id = f.rowid ORDER BY 1)) || ' ', '')
       || ('s' || lower(hex(t.status)))
FROM search_fts f JOIN tickets t ON t.id = f.rowid;

DROP TABLE search_fts;
ALTER TABLE search_fts_keyed RENAME TO search_fts;
