-- PostgreSQL's 0050 indexes the facet sample's hash bucket (see migrations/postgres/0050). SQLite
-- keeps no statistics (it is never ANALYZEd), so it could not tell when such an index is the
-- cheaper way in; it tests the bucket of each hit as before. Kept so the two lists stay parallel.
SELECT 1;
