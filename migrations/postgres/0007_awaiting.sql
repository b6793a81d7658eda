-- What a supervisor or dispatcher must decide on a ticket, if anything: a return (退单),
-- an extension (延期) or a suspension (挂起) request. The live supervisor board lists them.
ALTER TABLE tickets ADD COLUMN awaiting TEXT;
CREATE INDEX tickets_awaiting ON tickets (awaiting);
