//! Attachments: which stored objects an event names (the `attachments` rows are written with
//! their `attachment_added` events, in `tickets::insert_events`).

use super::{get_string, Result, Sql, Store};
use std::collections::HashSet;

impl Store {
    /// Of these object keys, the ones an event names (as the file or its thumbnail).
    pub async fn known_attachment_keys(&self, keys: &[String]) -> Result<HashSet<String>> {
        let mut known = HashSet::new();
        for chunk in keys.chunks(500) {
            let mut sql = Sql::new("SELECT storage_key AS k FROM attachments WHERE storage_key IN ");
            sql.bind_list(chunk)
                .push(" UNION SELECT thumbnail_key AS k FROM attachments WHERE thumbnail_key IN ")
                .bind_list(chunk);
            for row in sql.query().fetch_all(&self.pool).await? {
                known.insert(get_string(&row, "k")?);
            }
        }
        Ok(known)
    }

    /// Every object key an event names, files and thumbnails: what a backup carries.
    pub async fn all_attachment_keys(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT storage_key, thumbnail_key FROM attachments ORDER BY event_seq")
            .fetch_all(&self.pool)
            .await?;
        let mut keys = Vec::with_capacity(rows.len() * 2);
        for row in &rows {
            keys.push(get_string(row, "storage_key")?);
            if let Some(thumb) = sqlx::Row::try_get::<Option<String>, _>(row, "thumbnail_key")? {
                keys.push(thumb);
            }
        }
        Ok(keys)
    }
}
