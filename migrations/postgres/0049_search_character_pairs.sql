-- The embedded index on PostgreSQL gains every pair of adjacent Chinese characters as a lexeme,
-- at the position of its first character, beside the single characters it held. A two-character
-- word (物业, 井盖) is then one posting list of the GIN index, exact, instead of two
-- single-character lists (物 and 业 are each in a large share of a year's tickets) intersected and
-- rechecked against every candidate's positions; a longer word is a phrase of pairs. At 1,000,000
-- tickets 物业 took 867 ms (p50) on single characters (ops/bench/RESULTS.md, issue 23).
--
-- The lexemes are the index tokens (`domain::search::index_tokens`: each Chinese character, each
-- run of letters or digits, lower-cased), already separated by spaces in `words`; queries are
-- built the same way in Rust (`domain::search::tsquery_terms`) and cast, not parsed, so neither
-- side depends on a text-search parser. The function is immutable: a generated column is
-- recomputed for every existing row by this migration, so search is complete once it ran and
-- nothing needs re-indexing. It costs about 0.2 ms per document (100,000 in 18 s on 2 vCPUs), so
-- at 1,000,000 tickets the migration takes several minutes, and indexing by the search drain is
-- slower than on single characters (886 tickets/s against 1,349: ops/bench/RESULTS.md).
CREATE FUNCTION search_lexemes(words TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    WITH token AS (
        SELECT tok, n, lead(tok) OVER (ORDER BY n) AS next_tok
        FROM unnest(string_to_array(words, ' ')) WITH ORDINALITY AS t(tok, n)
        WHERE tok <> ''
    )
    SELECT COALESCE(string_agg(lexeme, ' '), '')::tsvector FROM (
        SELECT '''' || replace(replace(tok, '\', '\\'), '''', '''''') || ''':' || LEAST(n, 16383) AS lexeme
        FROM token
        UNION ALL
        SELECT '''' || tok || next_tok || ''':' || LEAST(n, 16383)
        FROM token
        WHERE tok ~ '^[㐀-䶿一-鿿豈-﫿]$' AND next_tok ~ '^[㐀-䶿一-鿿豈-﫿]$'
    ) lexemes
$$;

DROP INDEX search_docs_tsv;
ALTER TABLE search_docs DROP COLUMN tsv;
ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS (search_lexemes(words)) STORED;
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);

-- The street's index carries the columns a street's search filters and counts by, so a
-- supervisor's "this street, this category" is counted from the index instead of reading every
-- ticket row of the street (63,500 of 1,000,000), as on SQLite (its 0049).
DROP INDEX tickets_street;
CREATE INDEX tickets_street ON tickets (street, id) INCLUDE (category, status, lead, kind);
