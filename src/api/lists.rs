//! List pages: `limit` and `cursor` in, `{data, next_cursor}` out.

use serde_json::{Value, json};

use super::envelope::{ApiResult, invalid};
use crate::store::PageRequest;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The store request for a page: one more row than asked, to know whether
/// another page follows.
pub fn page_request<'a>(
    limit: Option<u32>,
    cursor: Option<&'a str>,
) -> ApiResult<(PageRequest<'a>, u32)> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = cursor.filter(|c| !c.is_empty());
    Ok((
        PageRequest {
            limit: limit + 1,
            after,
        },
        limit,
    ))
}

/// `{data, next_cursor}` from rows fetched with [`page_request`].
pub fn page<T>(
    mut rows: Vec<T>,
    limit: u32,
    id: impl Fn(&T) -> &str,
    json: impl Fn(&T) -> Value,
) -> Value {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| id(r).to_owned()))
        .flatten();
    json!({"data": rows.iter().map(json).collect::<Vec<_>>(), "next_cursor": next_cursor})
}
