-- A file sent with a mail (the monthly ranking's CSV), stored with the mail so that a retry
-- sends the same bytes. All three are set or none.
ALTER TABLE mail_outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE mail_outbox ADD COLUMN attachment_type TEXT;
ALTER TABLE mail_outbox ADD COLUMN attachment_body TEXT;
