-- The duplicate finder looks up a community's open tickets while the operator types.
CREATE INDEX tickets_community ON tickets (community, id);
