"""Exceptions raised by the SDK.

Every answer of the gateway that is not a success carries one error envelope
(``{"error": {"code", "message", "request_id", "details", ...}}``, see
``docs/api.md``). The SDK raises it as a :class:`SwitchboardError` whose class
is chosen by ``code``, so programs branch with ``except`` clauses rather than
string comparisons. Failing to reach the gateway at all raises
:class:`SwitchboardConnectionError` instead, which has no status and no
request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Type

__all__ = [
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
]


class SwitchboardError(Exception):
    """An error answered by the gateway, with the fields of its envelope.

    ``code`` is the contract's error code (``not_found``, ``rate_limited``,
    ...); ``status`` the HTTP status. ``provider``, ``upstream_status`` and
    ``retry_after_s`` are set only when they apply (errors of a tool
    execution). ``details`` is always a dict, often empty.

    An answer that is not an envelope at all (a proxy's HTML page, say) is
    raised as this class with code ``unexpected_response``.
    """

    #: The code this class stands for; ``None`` on the base class.
    default_code: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
        retry_after_s: Optional[float] = None,
        provider: Optional[str] = None,
        upstream_status: Optional[int] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code or self.default_code or "unknown"
        self.status = status
        self.request_id = request_id
        self.details: Dict[str, Any] = dict(details or {})
        self.retry_after_s = retry_after_s
        self.provider = provider
        self.upstream_status = upstream_status
        #: The decoded response body (or its text when it was not JSON).
        self.body = body

    def __str__(self) -> str:
        facts = []
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.provider:
            facts.append(f"provider {self.provider}")
        if self.request_id:
            facts.append(self.request_id)
        text = f"{self.code}: {self.message}"
        return f"{text} ({', '.join(facts)})" if facts else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status={self.status!r}, request_id={self.request_id!r})"
        )

    def to_dict(self) -> Dict[str, Any]:
        """The envelope's inner object again, without the fields that are unset."""
        out: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.request_id is not None:
            out["request_id"] = self.request_id
        for key in ("provider", "upstream_status", "retry_after_s"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["details"] = dict(self.details)
        return out


class SwitchboardConnectionError(SwitchboardError):
    """The gateway could not be reached, or the connection broke.

    Distinct from every gateway answer: ``status`` and ``request_id`` are
    ``None``, and the underlying ``httpx`` exception is ``__cause__``.
    """

    default_code = "connection_error"


class SwitchboardTimeoutError(SwitchboardConnectionError):
    """The gateway did not answer within the client's ``timeout``.

    Not to be confused with :class:`UpstreamTimeoutError`, which the gateway
    answers when a *provider* is too slow.
    """

    default_code = "timeout"


class InvalidRequestError(SwitchboardError):
    """``invalid_request`` (400): the request itself is wrong (body, query, a check of the endpoint)."""

    default_code = "invalid_request"


class UnauthenticatedError(SwitchboardError):
    """``unauthenticated`` (401): no API key, or one the gateway does not know."""

    default_code = "unauthenticated"


class ForbiddenError(SwitchboardError):
    """``forbidden`` (403): a provider refused, as mapped by its spec; or the API key's role does not
    cover the route (an ``execute`` key on the management, webhook or audit routes).
    """

    default_code = "forbidden"


class NotFoundError(SwitchboardError):
    """``not_found`` (404): unknown connection, account, provider, tool or route."""

    default_code = "not_found"


@dataclass(frozen=True)
class AccountCandidate:
    """One of the accounts that made an execution by identifier ambiguous."""

    id: str
    label: Optional[str] = None
    status: Optional[str] = None
    connection_id: Optional[str] = None


class ConflictError(SwitchboardError):
    """``conflict`` (409): a duplicate account, or several accounts match an execution.

    ``existing_id`` is the id of the account that already holds the
    (connection, identifier, label); ``candidates`` the accounts among which
    an execution by identifier could not choose.
    """

    default_code = "conflict"

    @property
    def existing_id(self) -> Optional[str]:
        value = self.details.get("existing_id")
        return value if isinstance(value, str) else None

    @property
    def candidates(self) -> List[AccountCandidate]:
        out = []
        for item in self.details.get("candidates") or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out.append(
                    AccountCandidate(
                        id=item["id"],
                        label=item.get("label"),
                        status=item.get("status"),
                        connection_id=item.get("connection_id"),
                    )
                )
        return out


class ReauthorizationRequiredError(SwitchboardError):
    """``reauthorization_required`` (409): the account's user must connect it again.

    For OAuth 2.0 accounts ``auth_url`` is a fresh authorization link that can
    be handed to the user at once.
    """

    default_code = "reauthorization_required"

    @property
    def auth_url(self) -> Optional[str]:
        value = self.details.get("auth_url")
        return value if isinstance(value, str) else None

    @property
    def account_status(self) -> Optional[str]:
        """The account's status (``pending``, ``expired``, ``revoked``) when that is the cause."""
        value = self.details.get("status")
        return value if isinstance(value, str) else None

    @property
    def connected_account_id(self) -> Optional[str]:
        value = self.details.get("connected_account_id")
        return value if isinstance(value, str) else None

    @property
    def missing_scopes(self) -> List[str]:
        value = self.details.get("missing_scopes")
        return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


@dataclass(frozen=True)
class FieldError:
    """One failing parameter: a JSON Pointer into the parameters, and why."""

    field: str
    message: str


class InvalidParametersError(SwitchboardError):
    """``invalid_parameters`` (422): the tool's parameters fail its schema; one entry per field."""

    default_code = "invalid_parameters"

    @property
    def fields(self) -> List[FieldError]:
        out = []
        for item in self.details.get("fields") or []:
            if isinstance(item, dict):
                field = item.get("field", item.get("pointer", ""))
                out.append(FieldError(field=str(field), message=str(item.get("message", ""))))
        return out


class RateLimitedError(SwitchboardError):
    """``rate_limited`` (429): try again after ``retry_after_s`` seconds, when it is known."""

    default_code = "rate_limited"


class ProviderError(SwitchboardError):
    """``provider_error`` (502): the provider answered with an error not mapped to another code."""

    default_code = "provider_error"

    @property
    def provider_message(self) -> Optional[str]:
        value = self.details.get("provider_message")
        return value if isinstance(value, str) else None

    @property
    def provider_code(self) -> Optional[str]:
        value = self.details.get("provider_code")
        return None if value is None else str(value)


class UpstreamUnavailableError(SwitchboardError):
    """``upstream_unavailable`` (503): the provider could not be reached, or its circuit is open."""

    default_code = "upstream_unavailable"


class UpstreamTimeoutError(SwitchboardError):
    """``upstream_timeout`` (504): the provider did not answer within the call's deadline."""

    default_code = "upstream_timeout"


class InternalError(SwitchboardError):
    """``internal`` (500): the gateway failed; its log line for ``request_id`` has the cause."""

    default_code = "internal"


_BY_CODE: Dict[str, Type[SwitchboardError]] = {
    str(cls.default_code): cls
    for cls in (
        InvalidRequestError,
        UnauthenticatedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        ReauthorizationRequiredError,
        InvalidParametersError,
        RateLimitedError,
        ProviderError,
        UpstreamUnavailableError,
        UpstreamTimeoutError,
        InternalError,
    )
}


def error_class(code: Optional[str]) -> Type[SwitchboardError]:
    """The exception class for an error code; the base class for codes this SDK does not know."""
    return _BY_CODE.get(code or "", SwitchboardError)
