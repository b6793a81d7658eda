-- 停用: an article its department (or an admin) takes out of use, with who, when and why.
-- It stays stored: tickets resolved with it still name it.
ALTER TABLE kb_articles ADD COLUMN retired_at BIGINT;
ALTER TABLE kb_articles ADD COLUMN retired_by TEXT;
ALTER TABLE kb_articles ADD COLUMN retired_reason TEXT;
