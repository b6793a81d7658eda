-- Facet counts (search, issue 7) group the matching tickets by status, lead, street,
-- category and kind. Ticket rows are wide (the JSON body), so counting from them reads far
-- more than the counts need; this index holds exactly what a facet count reads.
CREATE INDEX tickets_facets ON tickets (status, lead, street, category, kind, created_at, id);
