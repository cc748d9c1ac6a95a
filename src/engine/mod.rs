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

use serde_json::Value;

pub use paginate::Pager;
pub use render::{
    CallContext, REDACTED, RenderedRequest, RequestBody, render, render_auth_url,
    validate_parameters,
};
pub use response::{ProviderResponse, check, map_output};

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

/// Runs one tool call: render, send, check, follow pages, map the output.
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
    let request = render(provider, tool, params, ctx)?;
    let response = send(request.clone()).await?;
    let body = check(provider, &response)?;
    let Some(pagination) = &tool.pagination else {
        return Ok(Execution {
            output: map_output(tool, &body),
            upstream_status: response.status,
            pages: 1,
        });
    };
    let mut pager = Pager::new(provider, pagination, &request);
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
        output: map_output(tool, &merged),
        upstream_status: status,
        pages,
    })
}
