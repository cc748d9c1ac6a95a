"""The API's resources, each as a synchronous and an asynchronous class.

Each module builds its calls once (``_calls`` functions returning
:class:`~switchboard._http.Call`), and its two classes only send them, so the
clients cannot drift apart.
"""

from .accounts import Accounts, AsyncAccounts
from .audit_logs import AsyncAuditLogs, AuditLogs
from .connect_sessions import AsyncConnectSessions, ConnectSessions
from .connections import AsyncConnections, Connections
from .mcp_links import AsyncMcpLinks, McpLinks
from .providers import AsyncProviders, Providers
from .tools import AsyncTools, Tools
from .webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "Accounts",
    "AsyncAccounts",
    "AsyncAuditLogs",
    "AsyncConnectSessions",
    "AsyncConnections",
    "AsyncMcpLinks",
    "AsyncProviders",
    "AsyncTools",
    "AsyncWebhooks",
    "AuditLogs",
    "ConnectSessions",
    "Connections",
    "McpLinks",
    "Providers",
    "Tools",
    "Webhooks",
]
