//! Attachments: which stored objects an event names (the `attachments` rows are written with
//! their `attachment_added` events, in `tickets::insert_events`).

use super::{get_i64, get_string, Result, Sql, Store};
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
        Ok(self.attachment_objects().await?.into_iter().map(|(key, _)| key).collect())
    }

    /// Every stored object an event names, with the size and SHA-256 its event recorded
    /// (`None` for thumbnails, which are made here and not recorded): what migrate-store copies.
    pub async fn attachment_objects(&self) -> Result<Vec<(String, Option<(u64, String)>)>> {
        let rows = sqlx::query("SELECT storage_key, thumbnail_key, size, sha256 FROM attachments ORDER BY event_seq")
            .fetch_all(&self.pool)
            .await?;
        let mut objects = Vec::with_capacity(rows.len() * 2);
        for row in &rows {
            let recorded = (get_i64(row, "size")? as u64, get_string(row, "sha256")?);
            objects.push((get_string(row, "storage_key")?, Some(recorded)));
            if let Some(thumb) = sqlx::Row::try_get::<Option<String>, _>(row, "thumbnail_key")? {
                objects.push((thumb, None));
            }
        }
        Ok(objects)
    }
}
