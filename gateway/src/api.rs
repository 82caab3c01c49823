//! The JSON API: entries of a feed (keyset pages by seq) and single entries, with stable
//! error names (`{"error": "not_found", "message": "…"}`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use feeds::{FeedName, IdentityKey};
use http_server::{ApiError, ErrorCode};
use seeder::node::api::read::EntryPage;
use seeder::node::{parse_feed, parse_identity};
use serde::Serialize;

use crate::Gateway;
use crate::view::{EntryView, status_name};

/// The most entries one page holds, whatever `limit` asks.
const MAX_LIMIT: u32 = 1000;

/// A page of a feed, newest first.
#[derive(Serialize)]
pub struct EntriesPage {
    pub identity: String,
    pub feed: String,
    /// The seq of the newest signed head held.
    pub head_seq: Option<u64>,
    /// Entries `1..=verified_seq` are verified and held.
    pub verified_seq: u64,
    /// `ok`, `frozen` (a fork proof exists) or `error` (the last update failed).
    pub status: &'static str,
    pub entries: Vec<EntryView>,
    /// The next (older) page, when there is one.
    pub next: Option<String>,
}

/// `GET /api/v1/feeds/{identity}/{feed}/entries?before=SEQ&limit=N`.
pub async fn entries(
    State(gateway): State<Gateway>,
    Path((identity, feed)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<EntriesPage>, ApiError> {
    let (identity, feed) = (parse_identity(&identity)?, parse_feed(&feed)?);
    let before = query.get("before").map(|v| parse_seq(v)).transpose()?;
    let limit = match query.get("limit") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::BadLimit,
                    format!("limit must be 1 to {MAX_LIMIT}"),
                )
            })?,
        None => gateway.config.page_size,
    };
    Ok(Json(
        gateway
            .entries_page(&identity, &feed, before, limit)
            .await?,
    ))
}

/// `GET /api/v1/entries/{identity}/{feed}/{seq}`.
pub async fn entry(
    State(gateway): State<Gateway>,
    Path((identity, feed, seq)): Path<(String, String, String)>,
) -> Result<Json<EntryView>, ApiError> {
    let (identity, feed, seq) = (
        parse_identity(&identity)?,
        parse_feed(&feed)?,
        parse_seq(&seq)?,
    );
    Ok(Json(gateway.entry(&identity, &feed, seq).await?))
}

impl Gateway {
    /// Entries before `before` (or the newest), newest first, with where the next page is.
    pub async fn entries_page(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<EntriesPage, ApiError> {
        let state = self.feed_state(identity, feed).await?;
        let limit = limit.clamp(1, MAX_LIMIT);
        let page = match before {
            Some(seq) => EntryPage::before(seq, limit),
            None => EntryPage::newest(limit),
        };
        let stored = self.node.entries(identity, feed, page).await?;
        // Seqs are contiguous from 1, so entries older than the last one exist exactly when
        // its seq is above 1 (a page may hold fewer than `limit`: the store cuts pages at
        // `PAGE_BYTES` of entries).
        let last = stored.last().map(|e| e.entry.seq());
        let next = match last {
            Some(seq) if seq > 1 => Some(format!(
                "{}/api/v1/feeds/{identity}/{feed}/entries?before={seq}&limit={limit}",
                self.node.public_url()
            )),
            _ => None,
        };
        Ok(EntriesPage {
            identity: identity.to_string(),
            feed: feed.to_string(),
            head_seq: state.head.as_ref().map(|h| h.head().seq),
            verified_seq: state.verified_seq,
            status: status_name(&state.status),
            entries: self.entry_views(&stored).await?,
            next,
        })
    }

    /// One entry, or `404 not_found`.
    pub async fn entry(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        seq: u64,
    ) -> Result<EntryView, ApiError> {
        let stored = self.node.entry(identity, feed, seq).await?;
        self.entry_view(&stored).await
    }
}

/// A seq from a path or query: a positive decimal number.
pub fn parse_seq(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::BadSeq, format!("{text:?} is not a seq")))
}
