//! `/v1/webhooks`: endpoints told of account events (see `crate::webhooks`).
//! A signing secret is shown once, when its endpoint is created.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{ApiResult, Json, Path, Query, invalid, not_found};
use super::lists::{page, page_request};
use super::{SharedState, new_id, now};
use crate::audit::Event;
use crate::spec::suggestion;
use crate::store::{AccountNotice, Webhook};
use crate::vault::Place;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    crate::url_policy::check_base(&body.url).map_err(|e| invalid(format!("url: {e}")))?;
    let all: Vec<&str> = AccountNotice::ALL.iter().map(|n| n.as_str()).collect();
    let events = match body.events {
        None => all.iter().map(|e| (*e).to_owned()).collect(),
        Some(list) if list.is_empty() => {
            return Err(invalid(
                "events must name at least one event (or be left out for all)",
            ));
        }
        Some(list) => {
            for e in &list {
                if AccountNotice::parse(e).is_none() {
                    return Err(invalid(format!(
                        "unknown event `{e}`{}; events are {}",
                        suggestion(e, all.iter().copied()),
                        all.join(", ")
                    )));
                }
            }
            let mut list = list;
            list.sort();
            list.dedup();
            list
        }
    };
    let id = new_id("wh");
    let secret = crate::webhooks::new_secret();
    let webhook = Webhook {
        secret: state
            .vault
            .seal(Place::webhook_secret(&id), secret.as_bytes()),
        id,
        url: body.url,
        events,
        created_at: now(),
    };
    state.store.insert_webhook(&webhook).await?;
    let mut event = Event::new("webhook.created");
    event.reason = Some(format!("{} for {}", webhook.url, webhook.events.join(", ")));
    state.store.audit().record(event);
    let mut answer = to_json(&webhook);
    answer["secret"] = json!(secret);
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

pub async fn list(
    State(state): State<SharedState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<Value>> {
    let (request, limit) = page_request(q.limit, q.cursor.as_deref())?;
    let rows = state.store.list_webhooks(request).await?;
    Ok(axum::Json(page(rows, limit, |w| &w.id, to_json)))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let webhook = state
        .store
        .get_webhook(&id)
        .await?
        .ok_or_else(|| missing(&id))?;
    Ok(axum::Json(to_json(&webhook)))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let Some(webhook) = state.store.get_webhook(&id).await? else {
        return Err(missing(&id));
    };
    if !state.store.delete_webhook(&id).await? {
        return Err(missing(&id));
    }
    let mut event = Event::new("webhook.deleted");
    event.reason = Some(webhook.url);
    state.store.audit().record(event);
    Ok(axum::Json(json!({"id": id, "deleted": true})))
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first, each with its attempts'
/// outcome.
pub async fn deliveries(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<Value>> {
    if state.store.get_webhook(&id).await?.is_none() {
        return Err(missing(&id));
    }
    let (request, limit) = page_request(q.limit, q.cursor.as_deref())?;
    let rows = state
        .store
        .list_deliveries(&id, request.limit, request.after)
        .await?;
    Ok(axum::Json(page(rows, limit, |d| &d.id, |d| d.to_json())))
}

fn to_json(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "created_at": w.created_at,
    })
}

fn missing(id: &str) -> super::envelope::ApiError {
    not_found(format!("no webhook `{id}`"))
}
