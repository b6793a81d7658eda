//! Open311 partners' keys (only their SHA-256 kept) and the rows a partner's filing leaves
//! beside its ticket (`crate::domain::open311`).

use super::{
    from_millis, get_i64, get_opt_i64, get_opt_string, get_string, millis, Result, Store, StoreError, TicketFilter,
};
use crate::domain::open311::{Filed, Listing, MAX_LISTED};
use crate::domain::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;

/// An issued key as the admin sees it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PartnerKey {
    pub id: i64,
    pub partner: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

fn key_row(r: &AnyRow) -> Result<PartnerKey> {
    Ok(PartnerKey {
        id: get_i64(r, "id")?,
        partner: get_string(r, "partner")?,
        created_at: from_millis(get_i64(r, "created_at")?),
        created_by: get_string(r, "created_by")?,
        revoked_at: get_opt_i64(r, "revoked_at")?.map(from_millis),
        last_used_at: get_opt_i64(r, "last_used_at")?.map(from_millis),
    })
}

const KEY_COLUMNS: &str = "id, partner, created_at, created_by, revoked_at, last_used_at";

fn filed_row(r: &AnyRow) -> Result<Filed> {
    Ok(Filed {
        ticket_id: get_i64(r, "ticket_id")?,
        token: get_string(r, "token")?,
        lat: get_opt_string(r, "lat")?,
        long: get_opt_string(r, "lon")?,
        address_string: get_opt_string(r, "address_string")?,
        media_url: get_opt_string(r, "media_url")?,
    })
}

const FILED_COLUMNS: &str = "ticket_id, token, lat, lon, address_string, media_url";

impl Store {
    pub async fn add_partner_key(&self, partner: &str, key_hash: &str, by: &str) -> Result<PartnerKey> {
        let now = millis(self.now());
        let row = sqlx::query(&format!(
            "INSERT INTO open311_keys (partner, key_hash, created_at, created_by) VALUES ($1, $2, $3, $4) \
             RETURNING {KEY_COLUMNS}"
        ))
        .bind(partner)
        .bind(key_hash)
        .bind(now)
        .bind(by)
        .fetch_one(&self.writer)
        .await?;
        key_row(&row)
    }

    pub async fn partner_keys(&self) -> Result<Vec<PartnerKey>> {
        let rows =
            sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM open311_keys ORDER BY id")).fetch_all(&self.pool).await?;
        rows.iter().map(key_row).collect()
    }

    /// Revokes a key (again: no change); `NotFound` for an unknown id.
    pub async fn revoke_partner_key(&self, id: i64) -> Result<PartnerKey> {
        sqlx::query("UPDATE open311_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(millis(self.now()))
            .bind(id)
            .execute(&self.writer)
            .await?;
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM open311_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
            .ok_or(StoreError::NotFound)?;
        key_row(&row)
    }

    /// The live (unrevoked) key with this digest, marked as used now.
    pub async fn use_partner_key(&self, key_hash: &str) -> Result<Option<PartnerKey>> {
        let row =
            sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM open311_keys WHERE key_hash = $1 AND revoked_at IS NULL"))
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
        let Some(key) = row.as_ref().map(key_row).transpose()? else { return Ok(None) };
        sqlx::query("UPDATE open311_keys SET last_used_at = $1 WHERE id = $2")
            .bind(millis(self.now()))
            .bind(key.id)
            .execute(&self.writer)
            .await?;
        Ok(Some(key))
    }

    /// Records a partner's filing beside its ticket (the `partner_filed` event in the ticket's
    /// history holds the same, so the row can be rebuilt from the log).
    pub async fn record_filing(&self, filed: &Filed, key: &PartnerKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO open311_requests (ticket_id, token, key_id, partner, lat, lon, address_string, media_url, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(filed.ticket_id)
        .bind(&filed.token)
        .bind(key.id)
        .bind(&key.partner)
        .bind(&filed.lat)
        .bind(&filed.long)
        .bind(&filed.address_string)
        .bind(&filed.media_url)
        .bind(millis(self.now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn filing_by_token(&self, token: &str) -> Result<Option<Filed>> {
        let row = sqlx::query(&format!("SELECT {FILED_COLUMNS} FROM open311_requests WHERE token = $1"))
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(filed_row).transpose()
    }

    async fn filings(&self, ticket_ids: &[i64]) -> Result<Vec<Filed>> {
        if ticket_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = super::Sql::new(&format!("SELECT {FILED_COLUMNS} FROM open311_requests WHERE ticket_id IN "));
        sql.bind_list(ticket_ids);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(filed_row).collect()
    }

    /// The requests a listing asks for, newest first, without confidential (保密) tickets, at
    /// most [`MAX_LISTED`], each with its filing when a partner filed it.
    pub async fn open311_requests(&self, listing: &Listing) -> Result<Vec<(Ticket, Option<Filed>)>> {
        let mut found = Vec::new();
        if !listing.numbers.is_empty() {
            for number in listing.numbers.iter().take(MAX_LISTED) {
                if let Some(id) = self.ticket_id_by_number(number).await? {
                    found.extend(self.ticket(id).await?.filter(|t| !t.confidential));
                }
            }
        } else {
            let codes: Vec<Option<String>> = if listing.service_codes.is_empty() {
                vec![None]
            } else {
                listing.service_codes.iter().cloned().map(Some).collect()
            };
            for category in codes {
                let mut filter = TicketFilter {
                    statuses: listing.statuses.clone(),
                    category,
                    created_from: Some(listing.from),
                    created_to: listing.to.map(|t| t + chrono::Duration::milliseconds(1)),
                    limit: 500,
                    ..TicketFilter::default()
                };
                loop {
                    let page = self.list_tickets(&filter, self.now()).await?;
                    found.extend(page.tickets.into_iter().filter(|t| !t.confidential));
                    match page.next_cursor {
                        Some(cursor) if found.len() < MAX_LISTED => filter.before_id = Some(cursor),
                        _ => break,
                    }
                }
            }
            found.sort_by_key(|t| std::cmp::Reverse(t.id));
            found.truncate(MAX_LISTED);
        }
        let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
        let mut filings = self.filings(&ids).await?;
        Ok(found
            .into_iter()
            .map(|t| {
                let filed = filings.iter().position(|f| f.ticket_id == t.id).map(|i| filings.swap_remove(i));
                (t, filed)
            })
            .collect())
    }
}
