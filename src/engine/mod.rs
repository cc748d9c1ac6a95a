//! The engine: a unified tool call in, the provider's exact HTTP request out;
//! the provider's response in, the unified output (or error) out.
//!
//! Architecture invariant: the engine does no IO. [`execute`] drives a call
//! (with its pages) through a `send` function that the caller provides: the
//! gateway's upstream client in production, a closure in tests. Retries,
//! timeouts and rate limits live around `send`, not here.

mod paginate;
mod render;
mod response;

use std::future::Future;

use serde_json::{Map, Value};

pub use paginate::Pager;
pub use render::{
    CallContext, REDACTED, RenderedRequest, RequestBody, api_origin, render, render_auth_url,
    render_proxy, render_step, validate_parameters,
};
pub use response::{ProviderResponse, check, content_output, map_output};

use crate::error::Error;
use crate::registry::{Provider, Tool};

/// The result of a successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub output: Value,
    /// The status of the last provider response.
    pub upstream_status: u16,
    /// Pages fetched (1 without pagination).
    pub pages: u32,
}

/// Runs one tool call: render, send, check, follow pages (or steps), map
/// the output.
pub async fn execute<S, F>(
    provider: &Provider,
    tool: &Tool,
    params: &Value,
    ctx: &CallContext<'_>,
    mut send: S,
) -> Result<Execution, Error>
where
    S: FnMut(RenderedRequest) -> F,
    F: Future<Output = Result<ProviderResponse, Error>>,
{
    if tool.steps.len() > 1 || tool.steps[0].name.is_some() {
        return execute_steps(provider, tool, params, ctx, send).await;
    }
    let request = render(provider, tool, params, ctx)?;
    // A call of one request does not need it again: sent without a copy.
    if !tool.content && tool.pagination.is_none() {
        let response = send(request).await?;
        return single(provider, tool, &response);
    }
    let mut response = send(request.clone()).await?;
    if tool.content {
        // Providers hand out file content from a short-lived signed URL on
        // another host: one redirect is followed, without credentials.
        if let Some(location) = redirect_target(&request, &response) {
            response = send(location).await?;
        }
        if (200..300).contains(&response.status) {
            return Ok(Execution {
                output: content_output(&response),
                upstream_status: response.status,
                pages: 1,
            });
        }
    }
    let Some(pagination) = &tool.pagination else {
        return single(provider, tool, &response);
    };
    let body = check(provider, &response)?;
    let max_items = render::max_items(provider, tool, pagination.max_items, params, ctx)?;
    let mut pager = Pager::new(provider, pagination, &request, max_items);
    let mut status = response.status;
    let mut next = pager.next(&request, &response.headers, body)?;
    while let Some(request) = next {
        let response = send(request.clone()).await?;
        status = response.status;
        let body = check(provider, &response)?;
        next = pager.next(&request, &response.headers, body)?;
    }
    let pages = pager.pages();
    let merged = pager.finish();
    Ok(Execution {
        output: map_output(provider, tool, &merged),
        upstream_status: status,
        pages,
    })
}

/// The output of a call that made one request.
fn single(
    provider: &Provider,
    tool: &Tool,
    response: &ProviderResponse,
) -> Result<Execution, Error> {
    let body = check(provider, response)?;
    Ok(Execution {
        output: map_output(provider, tool, &body),
        upstream_status: response.status,
        pages: 1,
    })
}

/// The request that follows a redirect answer: a plain GET of its
/// `Location` (resolved against the request), which must be https (or http
/// on loopback). It carries no credentials and no headers of the original.
fn redirect_target(
    request: &RenderedRequest,
    response: &ProviderResponse,
) -> Option<RenderedRequest> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response
        .headers
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    let url = request.url.join(location).ok()?;
    let url = crate::url_policy::check_base(url.as_str()).ok()?;
    Some(RenderedRequest {
        method: http::Method::GET,
        url,
        headers: http::HeaderMap::new(),
        body: None,
        secret_query: Vec::new(),
    })
}

/// A multi-step tool: each step that runs sees the answers before it, and
/// the output maps an object of every answer by step name.
async fn execute_steps<S, F>(
    provider: &Provider,
    tool: &Tool,
    params: &Value,
    ctx: &CallContext<'_>,
    mut send: S,
) -> Result<Execution, Error>
where
    S: FnMut(RenderedRequest) -> F,
    F: Future<Output = Result<ProviderResponse, Error>>,
{
    validate_parameters(tool, params)?;
    let mut answers = Map::new();
    let mut status = 0;
    let mut sent = 0;
    for step in &tool.steps {
        if !render::step_runs(provider, tool, step, params, ctx, &answers)? {
            continue;
        }
        let request = render::render_step(provider, tool, step, params, ctx, &answers)?;
        let response = send(request).await?;
        status = response.status;
        sent += 1;
        let body = check(provider, &response)?;
        answers.insert(step.name.clone().unwrap_or_default(), body);
    }
    Ok(Execution {
        output: map_output(provider, tool, &Value::Object(answers)),
        upstream_status: status,
        pages: sent,
    })
}
