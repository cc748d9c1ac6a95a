"""Python SDK of Switchboard, the self-hosted integration gateway.

::

    from switchboard import Switchboard

    sb = Switchboard(base_url="http://127.0.0.1:8080", api_key="sb_...")
    conn = sb.connections.create(provider="notes")
    account = sb.accounts.create(connection_id=conn.id, identifier="user-42")
    sb.accounts.set_credentials(account.id, api_key="demo-key")
    result = sb.tools.execute(connected_account_id=account.id, tool="create_note", parameters={"title": "Hi"})

:class:`AsyncSwitchboard` has the same methods, awaitable. Errors are raised
as :class:`SwitchboardError` subclasses, one per error code. Webhook
deliveries are checked with :func:`switchboard.webhooks.verify`.
"""

from ._client import AsyncSwitchboard, Switchboard
from ._errors import (
    AccountCandidate,
    ConflictError,
    FieldError,
    ForbiddenError,
    InternalError,
    InvalidParametersError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    ReauthorizationRequiredError,
    SwitchboardConnectionError,
    SwitchboardError,
    SwitchboardTimeoutError,
    UnauthenticatedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ._models import (
    AuditEvent,
    AuthMethod,
    AuthUrl,
    ConfigSetting,
    ConnectedAccount,
    Connection,
    ConnectSession,
    CredentialField,
    DeletedAccount,
    DeletedConnection,
    DeletedMcpLink,
    DeletedWebhook,
    ExecuteResult,
    ExecutionMeta,
    McpLink,
    Page,
    Provider,
    Tool,
    Webhook,
    WebhookCreated,
    WebhookDelivery,
    WebhookEventData,
    WebhookPayload,
)
from ._pagination import AsyncPaginator, SyncPaginator
from ._tool_calls import AnthropicToolResult, OpenAIFunctionCallOutput, OpenAIToolMessage, ToolResultMessage
from ._version import __version__
from .resources.audit_logs import TimeBound
from .resources.tools import ToolFormat
from .webhooks import WebhookVerificationError

__all__ = [
    "__version__",
    # clients
    "Switchboard",
    "AsyncSwitchboard",
    # models
    "AuditEvent",
    "AuthMethod",
    "AuthUrl",
    "ConfigSetting",
    "ConnectedAccount",
    "Connection",
    "ConnectSession",
    "CredentialField",
    "DeletedAccount",
    "DeletedConnection",
    "DeletedMcpLink",
    "DeletedWebhook",
    "ExecuteResult",
    "ExecutionMeta",
    "McpLink",
    "Page",
    "Provider",
    "TimeBound",
    "Tool",
    "ToolFormat",
    "Webhook",
    "WebhookCreated",
    "WebhookDelivery",
    "WebhookEventData",
    "WebhookPayload",
    "SyncPaginator",
    "AsyncPaginator",
    # LLM tool results
    "OpenAIToolMessage",
    "OpenAIFunctionCallOutput",
    "AnthropicToolResult",
    "ToolResultMessage",
    # errors
    "SwitchboardError",
    "SwitchboardConnectionError",
    "SwitchboardTimeoutError",
    "InvalidRequestError",
    "UnauthenticatedError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "ReauthorizationRequiredError",
    "InvalidParametersError",
    "RateLimitedError",
    "ProviderError",
    "UpstreamUnavailableError",
    "UpstreamTimeoutError",
    "InternalError",
    "FieldError",
    "AccountCandidate",
    # webhook deliveries (verify() is in switchboard.webhooks)
    "WebhookVerificationError",
]
