//! Following pages and concatenating their items.
//!
//! A [`Pager`] sees each page's body in turn and says which request fetches
//! the next one, or that there is none: the cursor is empty, `has_more` is
//! false, there is no next link, a page came back short or empty, or a limit
//! (`max_pages`, `max_items`) is reached. When it is done, the first page's
//! body is returned with the node at `items` replaced by every page's items,
//! so `response.output` maps a paginated call exactly like a single page.

use http::HeaderMap;
use serde_json::Value;
use url::Url;

use super::render::{RenderedRequest, RequestBody, set_json_pointer};
use crate::error::{Error, ErrorCode};
use crate::registry::{PageTarget, Pagination, Provider};
use crate::spec::PaginationType;

/// Pagination state across the pages of one call.
#[derive(Debug)]
pub struct Pager<'a> {
    provider: &'a Provider,
    spec: &'a Pagination,
    first: Option<Value>,
    items_pointer: Option<String>,
    items: Vec<Value>,
    /// The most items to gather, across pages.
    max_items: Option<u32>,
    pages: u32,
    /// The page number or offset of the request just answered.
    position: u64,
}

impl<'a> Pager<'a> {
    pub fn new(
        provider: &'a Provider,
        spec: &'a Pagination,
        first_request: &RenderedRequest,
        max_items: Option<u32>,
    ) -> Pager<'a> {
        let default = match spec.kind {
            PaginationType::Page => spec.start,
            _ => 0,
        };
        let position = spec
            .target
            .as_ref()
            .and_then(|t| read_position(first_request, t))
            .unwrap_or(default);
        Pager {
            provider,
            spec,
            first: None,
            items_pointer: None,
            items: Vec::new(),
            max_items,
            pages: 0,
            position,
        }
    }

    /// Takes the body of the page `request` fetched; returns the request for
    /// the next page, if there is one.
    pub fn next(
        &mut self,
        request: &RenderedRequest,
        headers: &HeaderMap,
        body: Value,
    ) -> Result<Option<RenderedRequest>, Error> {
        let page_items = match self.spec.items.select(&body) {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let count = page_items.len() as u64;
        self.pages += 1;
        self.items.extend(page_items);
        let full = self
            .max_items
            .is_some_and(|max| self.items.len() >= max as usize);
        if let Some(max) = self.max_items {
            self.items.truncate(max as usize);
        }
        let decision = self.decide(request, headers, &body, count);
        if self.first.is_none() {
            self.items_pointer = self.spec.items.locate(&body);
            self.first = Some(body);
        }
        if full || self.pages >= self.spec.max_pages {
            return Ok(None);
        }
        decision
    }

    fn decide(
        &mut self,
        request: &RenderedRequest,
        headers: &HeaderMap,
        body: &Value,
        count: u64,
    ) -> Result<Option<RenderedRequest>, Error> {
        let short = |size: Option<u64>| count == 0 || size.is_some_and(|s| count < s);
        let value = match self.spec.kind {
            PaginationType::Cursor => {
                let more = self
                    .spec
                    .has_more
                    .as_ref()
                    .and_then(|p| p.first(body))
                    .is_none_or(|v| v.as_bool() != Some(false));
                let cursor = self.spec.cursor.as_ref().and_then(|p| p.first(body));
                match cursor {
                    Some(Value::String(s)) if more && !s.is_empty() => Value::String(s.clone()),
                    Some(Value::Number(n)) if more => Value::Number(n.clone()),
                    _ => return Ok(None),
                }
            }
            PaginationType::Page => {
                if short(self.spec.page_size) {
                    return Ok(None);
                }
                self.position += 1;
                Value::from(self.position)
            }
            PaginationType::Offset => {
                if short(self.spec.page_size) {
                    return Ok(None);
                }
                self.position += count;
                let total = self
                    .spec
                    .total
                    .as_ref()
                    .and_then(|p| p.first(body))
                    .and_then(Value::as_u64);
                if total.is_some_and(|t| self.position >= t) {
                    return Ok(None);
                }
                Value::from(self.position)
            }
            PaginationType::NextUrl => {
                let link = self
                    .spec
                    .next_url
                    .as_ref()
                    .and_then(|p| p.first(body))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| self.spec.link_header.then(|| next_link(headers)).flatten());
                return match link.filter(|l| !l.is_empty()) {
                    Some(link) => self.follow(request, &link).map(Some),
                    None => Ok(None),
                };
            }
        };
        let mut next = request.clone();
        match self.spec.target.as_ref() {
            Some(PageTarget::Query(name)) => set_query(&mut next.url, name, &json_text(&value)),
            Some(PageTarget::Body(pointer)) => {
                if let Some(RequestBody::Json(json)) = next.body.as_mut() {
                    set_json_pointer(json, pointer, value);
                }
            }
            None => return Ok(None),
        }
        Ok(Some(next))
    }

    /// The request for a next-page link, which must stay on the same origin.
    fn follow(&self, request: &RenderedRequest, link: &str) -> Result<RenderedRequest, Error> {
        let url = request.url.join(link).map_err(|_| self.bad_link())?;
        let same_origin = url.scheme() == request.url.scheme()
            && url.host_str() == request.url.host_str()
            && url.port_or_known_default() == request.url.port_or_known_default();
        if !same_origin {
            return Err(self.bad_link());
        }
        let mut next = request.clone();
        next.url = url;
        // Credentials sent in the query are not part of the provider's link.
        for name in &request.secret_query {
            let value = request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned());
            if let Some(value) = value {
                set_query(&mut next.url, name, &value);
            }
        }
        Ok(next)
    }

    fn bad_link(&self) -> Error {
        Error::new(
            ErrorCode::ProviderError,
            "the provider's next-page link points outside its API host",
        )
        .with_provider(&self.provider.key)
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// The first page's body with every page's items at `items`.
    pub fn finish(self) -> Value {
        let Some(mut body) = self.first else {
            return Value::Null;
        };
        // Where the first page had no list at all (some providers leave the
        // key out when nothing matched), the list is created: an empty result
        // is `[]`, never a missing field.
        let pointer = self
            .items_pointer
            .or_else(|| self.spec.items.member_pointer());
        match pointer.as_deref() {
            Some("") => body = Value::Array(self.items),
            Some(pointer) if body.pointer(pointer).is_some() => {
                if let Some(slot) = body.pointer_mut(pointer) {
                    *slot = Value::Array(self.items);
                }
            }
            Some(pointer) if body.is_object() => {
                set_json_pointer(&mut body, pointer, Value::Array(self.items));
            }
            Some(_) => {}
            None => {}
        }
        body
    }
}

/// Reads the current position from a rendered request.
fn read_position(request: &RenderedRequest, target: &PageTarget) -> Option<u64> {
    match target {
        PageTarget::Query(name) => request
            .url
            .query_pairs()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok()),
        PageTarget::Body(pointer) => match &request.body {
            Some(RequestBody::Json(json)) => json.pointer(pointer).and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
            _ => None,
        },
    }
}

/// Replaces (or adds) one query parameter, keeping the others in order.
fn set_query(url: &mut Url, name: &str, value: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(http::header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let is_next = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=")
                    .map(|r| r.trim_matches('"').split_whitespace().any(|r| r == "next"))
                    .unwrap_or(false)
            });
            if is_next {
                return target
                    .strip_prefix('<')
                    .and_then(|t| t.strip_suffix('>'))
                    .map(str::to_owned);
            }
        }
    }
    None
}

fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            r#"<https://api.example.com/items?page=1>; rel="prev", <https://api.example.com/items?page=3>; rel="next""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.example.com/items?page=3")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn set_query_replaces_in_place() {
        let mut url = Url::parse("https://x.example/a?limit=2&cursor=old&b=1").unwrap();
        set_query(&mut url, "cursor", "n e w");
        assert_eq!(url.as_str(), "https://x.example/a?limit=2&b=1&cursor=n+e+w");
    }
}
