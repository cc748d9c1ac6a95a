"""The gateway's objects, as typed dataclasses.

Each is built from the JSON the gateway answers with ``from_dict``. Fields the
SDK does not know yet are not lost: ``raw`` keeps the whole object as it came,
so a newer gateway's additions are readable before the SDK names them.
Timestamps are timezone-aware :class:`datetime.datetime` values in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Generic, Iterator, List, Mapping, Optional, TypeVar

__all__ = [
    "Connection",
    "DeletedConnection",
    "ConnectedAccount",
    "DeletedAccount",
    "AuthUrl",
    "ConnectSession",
    "Provider",
    "ConfigSetting",
    "CredentialField",
    "AuthMethod",
    "Tool",
    "ExecutionMeta",
    "ExecuteResult",
    "McpLink",
    "DeletedMcpLink",
    "Webhook",
    "WebhookCreated",
    "DeletedWebhook",
    "WebhookEventData",
    "WebhookPayload",
    "WebhookDelivery",
    "AuditEvent",
    "Page",
]

T = TypeVar("T")

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value: Any) -> Optional[datetime]:
    """An RFC 3339 timestamp as an aware datetime; ``None`` for null or text that is not one."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    # Python before 3.11 reads only 3 or 6 fractional digits.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _str_list(value: Any) -> List[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _dict(value: Any) -> Dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Connection:
    """An application's registration with one provider. Its credentials are never returned."""

    id: str
    provider: str
    auth_type: str
    scopes: List[str]
    config: Dict[str, str]
    managed: bool
    has_credentials: bool
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Connection":
        return cls(
            id=data["id"],
            provider=data.get("provider", ""),
            auth_type=data.get("auth_type", ""),
            scopes=_str_list(data.get("scopes")),
            config=_dict(data.get("config")),
            managed=bool(data.get("managed", False)),
            has_credentials=bool(data.get("has_credentials", False)),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class DeletedConnection:
    """The answer to deleting a connection, which deletes its accounts too."""

    id: str
    deleted: bool
    connected_accounts_deleted: int
    revoked_at_provider: int = 0
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeletedConnection":
        return cls(
            id=data["id"],
            deleted=bool(data.get("deleted", True)),
            connected_accounts_deleted=int(data.get("connected_accounts_deleted") or 0),
            revoked_at_provider=int(data.get("revoked_at_provider") or 0),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ConnectedAccount:
    """One end user's link to one provider through a connection.

    ``status`` is ``pending``, ``active``, ``expired`` or ``revoked``.
    """

    id: str
    connection_id: str
    provider: str
    identifier: str
    identifier_type: str
    label: str
    display_name: Optional[str]
    status: str
    status_reason: Optional[str]
    status_changed_at: Optional[datetime]
    scopes: List[str]
    metadata: Dict[str, Any]
    config: Dict[str, Any]
    has_credentials: bool
    last_used_at: Optional[datetime]
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    raw: Dict[str, Any] = _raw()

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ConnectedAccount":
        return cls(
            id=data["id"],
            connection_id=data.get("connection_id", ""),
            provider=data.get("provider", ""),
            identifier=data.get("identifier", ""),
            identifier_type=data.get("identifier_type", "user_id"),
            label=data.get("label", "default"),
            display_name=data.get("display_name"),
            status=data.get("status", ""),
            status_reason=data.get("status_reason"),
            status_changed_at=parse_timestamp(data.get("status_changed_at")),
            scopes=_str_list(data.get("scopes")),
            metadata=_dict(data.get("metadata")),
            config=_dict(data.get("config")),
            has_credentials=bool(data.get("has_credentials", False)),
            last_used_at=parse_timestamp(data.get("last_used_at")),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class DeletedAccount:
    """The answer to deleting an account; ``revoked_at_provider`` says whether its grant was revoked."""

    id: str
    deleted: bool
    revoked_at_provider: bool
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeletedAccount":
        return cls(
            id=data["id"],
            deleted=bool(data.get("deleted", True)),
            revoked_at_provider=bool(data.get("revoked_at_provider", False)),
            raw=dict(data),
        )


@dataclass(frozen=True)
class AuthUrl:
    """An authorization link to send an OAuth 2.0 account's user to; single-use, short-lived."""

    url: str
    state_expires_at: Optional[datetime]
    raw: Dict[str, Any] = _raw()

    def __str__(self) -> str:
        return self.url

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuthUrl":
        return cls(
            url=data["url"],
            state_expires_at=parse_timestamp(data.get("state_expires_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ConnectSession:
    """A link to the gateway's hosted page where a user connects accounts."""

    url: str
    expires_at: Optional[datetime]
    raw: Dict[str, Any] = _raw()

    def __str__(self) -> str:
        return self.url

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ConnectSession":
        return cls(url=data["url"], expires_at=parse_timestamp(data.get("expires_at")), raw=dict(data))


@dataclass(frozen=True)
class ConfigSetting:
    """A ``connection_config`` setting a provider declares."""

    description: Optional[str]
    required: bool
    default: Optional[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ConfigSetting":
        return cls(
            description=data.get("description"),
            required=bool(data.get("required", False)),
            default=data.get("default"),
        )


@dataclass(frozen=True)
class CredentialField:
    """A credential an account of the provider is given (``api_key``, ``token``, ...)."""

    label: Optional[str]
    description: Optional[str]
    secret: bool
    help_url: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CredentialField":
        return cls(
            label=data.get("label"),
            description=data.get("description"),
            secret=bool(data.get("secret", False)),
            help_url=data.get("help_url"),
        )


def _credential_fields(value: Any) -> Dict[str, CredentialField]:
    return {k: CredentialField.from_dict(v) for k, v in _dict(value).items() if isinstance(v, dict)}


@dataclass(frozen=True)
class AuthMethod:
    """One of the ways a connection may authenticate with the provider."""

    auth_type: str
    label: Optional[str]
    default_scopes: List[str]
    credential_fields: Dict[str, CredentialField]
    permissions: List["Permission"] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuthMethod":
        return cls(
            auth_type=data.get("auth_type", ""),
            label=data.get("label"),
            default_scopes=_str_list(data.get("default_scopes")),
            credential_fields=_credential_fields(data.get("credential_fields")),
            permissions=[
                Permission.from_dict(p) for p in data.get("permissions") or [] if isinstance(p, dict)
            ],
        )


@dataclass(frozen=True)
class Permission:
    """What an account lets the app do, in plain words, and the scopes it stands for."""

    text: str
    scopes: List[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Permission":
        return cls(text=data.get("text", ""), scopes=_str_list(data.get("scopes")))


@dataclass(frozen=True)
class Provider:
    """A loaded provider.

    ``providers.list()`` fills the summary fields only; ``providers.get()``
    also fills the details (``description`` through ``setup``), which are
    ``None`` otherwise.
    """

    provider: str
    display_name: str
    categories: List[str]
    auth_type: str
    auth_types: List[str]
    tools: List[str]
    description: Optional[str] = None
    docs_url: Optional[str] = None
    logo_url: Optional[str] = None
    connection_config: Optional[Dict[str, ConfigSetting]] = None
    credential_fields: Optional[Dict[str, CredentialField]] = None
    default_scopes: Optional[List[str]] = None
    auth_methods: Optional[List[AuthMethod]] = None
    setup: Optional[str] = None
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Provider":
        auth_type = data.get("auth_type", "")
        return cls(
            provider=data["provider"],
            display_name=data.get("display_name", data["provider"]),
            categories=_str_list(data.get("categories")),
            auth_type=auth_type,
            auth_types=_str_list(data.get("auth_types")) or ([auth_type] if auth_type else []),
            tools=_str_list(data.get("tools")),
            description=data.get("description"),
            docs_url=data.get("docs_url"),
            logo_url=data.get("logo_url"),
            connection_config=(
                {k: ConfigSetting.from_dict(v) for k, v in data["connection_config"].items()}
                if isinstance(data.get("connection_config"), dict)
                else None
            ),
            credential_fields=(
                _credential_fields(data["credential_fields"])
                if isinstance(data.get("credential_fields"), dict)
                else None
            ),
            default_scopes=(
                _str_list(data["default_scopes"]) if isinstance(data.get("default_scopes"), list) else None
            ),
            auth_methods=(
                [AuthMethod.from_dict(m) for m in data["auth_methods"] if isinstance(m, dict)]
                if isinstance(data.get("auth_methods"), list)
                else None
            ),
            setup=data.get("setup"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Tool:
    """A tool in the catalog's default (``jsonschema``) format. ``id`` is ``provider.name``."""

    id: str
    provider: str
    name: str
    description: str
    input_schema: Dict[str, Any]
    output_schema: Dict[str, Any]
    raw: Dict[str, Any] = _raw()

    @property
    def llm_name(self) -> str:
        """The name the LLM formats use: ``provider__name``."""
        return f"{self.provider}__{self.name}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Tool":
        return cls(
            id=data.get("id") or f"{data.get('provider')}.{data.get('name')}",
            provider=data.get("provider", ""),
            name=data.get("name", ""),
            description=data.get("description") or "",
            input_schema=_dict(data.get("input_schema")),
            output_schema=_dict(data.get("output_schema")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ExecutionMeta:
    """The facts of one tool execution."""

    request_id: str
    provider: str
    tool: str
    connected_account_id: str
    upstream_status: Optional[int]
    attempts: int
    duration_ms: int
    #: Present only when the tool paginated over more than one page.
    pages: Optional[int] = None
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExecutionMeta":
        return cls(
            request_id=data.get("request_id", ""),
            provider=data.get("provider", ""),
            tool=data.get("tool", ""),
            connected_account_id=data.get("connected_account_id", ""),
            upstream_status=data.get("upstream_status"),
            attempts=int(data.get("attempts") or 0),
            duration_ms=int(data.get("duration_ms") or 0),
            pages=data.get("pages"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ExecuteResult:
    """A successful tool execution: the tool's output in ``data``, the call's facts in ``meta``."""

    data: Any
    meta: ExecutionMeta
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExecuteResult":
        return cls(data=data.get("data"), meta=ExecutionMeta.from_dict(_dict(data.get("meta"))), raw=dict(data))


@dataclass(frozen=True)
class McpLink:
    """An MCP server URL for one end user; its token authenticates, so treat ``url`` as a secret."""

    id: str
    url: str
    identifier: Optional[str] = None
    providers: Optional[List[str]] = None
    tools: Optional[List[str]] = None
    expires_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    raw: Dict[str, Any] = _raw()

    def __str__(self) -> str:
        return self.url

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "McpLink":
        return cls(
            id=data.get("id", ""),
            url=data["url"],
            identifier=data.get("identifier"),
            providers=_str_list(data["providers"]) if isinstance(data.get("providers"), list) else None,
            tools=_str_list(data["tools"]) if isinstance(data.get("tools"), list) else None,
            expires_at=parse_timestamp(data.get("expires_at")),
            created_at=parse_timestamp(data.get("created_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class DeletedMcpLink:
    """The answer to revoking an MCP link."""

    id: str
    deleted: bool
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeletedMcpLink":
        return cls(id=data.get("id", ""), deleted=bool(data.get("deleted", True)), raw=dict(data))


def _int_or_none(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Webhook:
    """An endpoint the gateway POSTs account events to. Its signing secret is not shown again after creation.

    ``events`` are the event types it receives (``account.connected``,
    ``account.reauthorization_required``, ``account.revoked``,
    ``account.refresh_failed``).
    """

    id: str
    url: str
    events: List[str]
    created_at: Optional[datetime]
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Webhook":
        return cls(
            id=data["id"],
            url=data.get("url", ""),
            events=_str_list(data.get("events")),
            created_at=parse_timestamp(data.get("created_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WebhookCreated:
    """A newly registered endpoint, with its signing secret (``whsec_...``): the only time it is shown.

    Store ``secret`` and check each delivery with
    :func:`switchboard.webhooks.verify`. It is kept out of ``repr`` so that
    logging the object does not leak it.
    """

    id: str
    url: str
    events: List[str]
    created_at: Optional[datetime]
    secret: str = field(repr=False)
    raw: Dict[str, Any] = _raw()

    @property
    def webhook(self) -> Webhook:
        """The endpoint as ``get`` and ``list`` answer it (without the secret)."""
        return Webhook(id=self.id, url=self.url, events=list(self.events), created_at=self.created_at)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WebhookCreated":
        return cls(
            id=data["id"],
            url=data.get("url", ""),
            events=_str_list(data.get("events")),
            created_at=parse_timestamp(data.get("created_at")),
            secret=data["secret"],
            raw=dict(data),
        )


@dataclass(frozen=True)
class DeletedWebhook:
    """The answer to deleting an endpoint; its pending deliveries are dropped with it."""

    id: str
    deleted: bool
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeletedWebhook":
        return cls(id=data.get("id", ""), deleted=bool(data.get("deleted", True)), raw=dict(data))


@dataclass(frozen=True)
class WebhookEventData:
    """The account an event is about, as it was when the event happened."""

    connected_account_id: str
    connection_id: str
    provider: str
    identifier: str
    label: str
    #: The account's status then: ``active``, ``expired``, ``revoked``, ...
    status: str
    reason: Optional[str]
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WebhookEventData":
        return cls(
            connected_account_id=data.get("connected_account_id", ""),
            connection_id=data.get("connection_id", ""),
            provider=data.get("provider", ""),
            identifier=data.get("identifier", ""),
            label=data.get("label", ""),
            status=data.get("status", ""),
            reason=data.get("reason"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WebhookPayload:
    """What a webhook delivery POSTs: the event ``type``, when it happened, and the account."""

    type: str
    timestamp: Optional[datetime]
    data: WebhookEventData
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WebhookPayload":
        return cls(
            type=data.get("type", ""),
            timestamp=parse_timestamp(data.get("timestamp")),
            data=WebhookEventData.from_dict(_dict(data.get("data"))),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WebhookDelivery:
    """One event sent (or being sent) to one endpoint, and what became of it.

    ``status`` is ``pending`` (waiting for its next attempt), ``delivered``
    or ``failed`` (given up after the last retry). ``id`` is the
    ``webhook-id`` header of every attempt.
    """

    id: str
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    created_at: Optional[datetime]
    next_attempt_at: Optional[datetime]
    last_attempt_at: Optional[datetime]
    last_response_status: Optional[int]
    last_error: Optional[str]
    delivered_at: Optional[datetime]
    payload: WebhookPayload
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WebhookDelivery":
        return cls(
            id=data["id"],
            webhook_id=data.get("webhook_id", ""),
            event_type=data.get("event_type", ""),
            status=data.get("status", ""),
            attempts=int(data.get("attempts") or 0),
            created_at=parse_timestamp(data.get("created_at")),
            next_attempt_at=parse_timestamp(data.get("next_attempt_at")),
            last_attempt_at=parse_timestamp(data.get("last_attempt_at")),
            last_response_status=_int_or_none(data.get("last_response_status")),
            last_error=data.get("last_error"),
            delivered_at=parse_timestamp(data.get("delivered_at")),
            payload=WebhookPayload.from_dict(_dict(data.get("payload"))),
            raw=dict(data),
        )


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit trail: what happened (``action``), who did it (``actor``), to what.

    ``actor`` is the acting API key's name, ``user`` for an end user on a
    link, or ``gateway`` for the gateway's own work. Fields that do not
    apply to the action are ``None``; ``tool``, ``outcome``,
    ``upstream_status`` and ``duration_ms`` describe tool calls and proxy
    requests. No event holds a secret or a parameter value.
    """

    id: str
    at: Optional[datetime]
    action: str
    actor: str
    request_id: Optional[str]
    connected_account_id: Optional[str]
    connection_id: Optional[str]
    identifier: Optional[str]
    provider: Optional[str]
    tool: Optional[str]
    outcome: Optional[str]
    upstream_status: Optional[int]
    duration_ms: Optional[int]
    reason: Optional[str]
    raw: Dict[str, Any] = _raw()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditEvent":
        return cls(
            id=data["id"],
            at=parse_timestamp(data.get("at")),
            action=data.get("action", ""),
            actor=data.get("actor", ""),
            request_id=data.get("request_id"),
            connected_account_id=data.get("connected_account_id"),
            connection_id=data.get("connection_id"),
            identifier=data.get("identifier"),
            provider=data.get("provider"),
            tool=data.get("tool"),
            outcome=data.get("outcome"),
            upstream_status=_int_or_none(data.get("upstream_status")),
            duration_ms=_int_or_none(data.get("duration_ms")),
            reason=data.get("reason"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (``None`` on the last)."""

    data: List[T]
    next_cursor: Optional[str]

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
