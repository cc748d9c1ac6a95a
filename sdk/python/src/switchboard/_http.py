"""The one place that talks HTTP: building requests, sending them with httpx,
and turning answers into values or exceptions.

Resources describe a call as a :class:`Call` (method, path, query, body, and
how to read the answer); :class:`SyncCore` and :class:`AsyncCore` send it.
Everything else in the SDK is the same code for both clients.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, AsyncGenerator, Callable, Dict, Generator, Generic, Mapping, Optional, TypeVar, Union
from urllib.parse import quote

import httpx

from ._errors import (
    SwitchboardConnectionError,
    SwitchboardError,
    SwitchboardTimeoutError,
    error_class,
)
from ._version import __version__

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 60.0
"""Seconds. Above the gateway's default tool deadline (30 s), so its own
``upstream_timeout`` answer arrives before the client gives up."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: what to send, and how to read a successful answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Optional[Mapping[str, Any]] = None
    body: Any = None
    #: Headers of this call only, such as the ``Accept`` of a JSON-lines route.
    headers: Optional[Mapping[str, str]] = None


def segment(value: str) -> str:
    """An id placed in a path, escaped so it cannot change the route."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty id, got {value!r}")
    return quote(value, safe="")


def without_none(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The entries that were given: ``None`` means "leave out"."""
    return {k: v for k, v in values.items() if v is not None}


def rfc3339(value: Union[datetime, str, None]) -> Optional[str]:
    """A time as RFC 3339 text in UTC (``2026-11-26T09:00:00Z``); text is passed on as given.

    A naive datetime is taken to be in UTC already.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    raise TypeError(f"expected a datetime or RFC 3339 text, got {type(value).__name__}")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(body: Any) -> bytes:
    return json.dumps(body, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode()


class _Config:
    """What both clients share: where the gateway is, and how to authenticate."""

    def __init__(
        self,
        base_url: Optional[str],
        api_key: Optional[str],
        headers: Optional[Mapping[str, str]],
    ) -> None:
        base_url = base_url or os.environ.get("SWITCHBOARD_BASE_URL") or DEFAULT_BASE_URL
        api_key = api_key or os.environ.get("SWITCHBOARD_API_KEY")
        if not api_key:
            raise ValueError(
                "Switchboard needs an API key: pass api_key=... or set SWITCHBOARD_API_KEY "
                "(the gateway prints one on its first run and keeps it in data/api_key)"
            )
        self.base_url = base_url.rstrip("/")
        self.headers: Dict[str, str] = {
            "Accept": "application/json",
            "User-Agent": f"switchboard-sdk-python/{__version__}",
            **(headers or {}),
            "Authorization": f"Bearer {api_key}",
        }

    def build(self, client: Union[httpx.Client, httpx.AsyncClient], call: Call[Any]) -> httpx.Request:
        headers = {**self.headers, **(call.headers or {})}
        content: Optional[bytes] = None
        if call.body is not None:
            content = encode_json(call.body)
            headers["Content-Type"] = "application/json"
        params = without_none(call.params or {})
        return client.build_request(
            call.method,
            self.base_url + call.path,
            params=params or None,
            content=content,
            headers=headers,
        )

    def transport_error(self, exc: Exception) -> SwitchboardError:
        if isinstance(exc, httpx.TimeoutException):
            return SwitchboardTimeoutError(f"the gateway at {self.base_url} did not answer in time: {exc}")
        return SwitchboardConnectionError(f"could not reach the gateway at {self.base_url}: {exc}")


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """The parsed answer of a successful call, or the exception its error envelope stands for."""
    if not response.is_success:
        raise error_from_response(response)
    if not response.content:
        return call.parse({})
    try:
        body = response.json()
    except ValueError:
        raise SwitchboardError(
            f"the gateway answered HTTP {response.status_code} with a body that is not JSON",
            code="unexpected_response",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
            body=response.text[:2000],
        ) from None
    return call.parse(body)


def read_line(call: Call[T], response: httpx.Response, line: str) -> Optional[T]:
    """One line of a JSON-lines answer, parsed; ``None`` for a blank line."""
    text = line.strip()
    if not text:
        return None
    try:
        item = json.loads(text)
    except ValueError:
        raise SwitchboardError(
            f"the gateway answered HTTP {response.status_code} with a line that is not JSON",
            code="unexpected_response",
            status=response.status_code,
            request_id=response.headers.get("x-request-id"),
            body=text[:2000],
        ) from None
    return call.parse(item)


def error_from_response(response: httpx.Response) -> SwitchboardError:
    """The exception for an error answer, read from its envelope (or, failing that, its status)."""
    header_request_id = response.headers.get("x-request-id")
    retry_after = _retry_after_header(response.headers.get("retry-after"))
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), str):
        excerpt = response.text[:500]
        return SwitchboardError(
            f"the gateway answered HTTP {response.status_code} without an error envelope"
            + (f": {excerpt}" if excerpt else ""),
            code="unexpected_response",
            status=response.status_code,
            request_id=header_request_id,
            retry_after_s=retry_after,
            body=body if body is not None else response.text[:2000],
        )
    code = envelope["code"]
    details = envelope.get("details")
    retry_after_s = envelope.get("retry_after_s")
    return error_class(code)(
        str(envelope.get("message") or code),
        code=code,
        status=response.status_code,
        request_id=envelope.get("request_id") or header_request_id,
        details=details if isinstance(details, dict) else {},
        retry_after_s=retry_after_s if isinstance(retry_after_s, (int, float)) else retry_after,
        provider=envelope.get("provider"),
        upstream_status=envelope.get("upstream_status"),
        body=body,
    )


def _retry_after_header(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date; the envelope's retry_after_s is what the gateway sends
    return int(seconds) if seconds.is_integer() else seconds


class SyncCore:
    """Sends calls with an ``httpx.Client`` (its own, or one the application passed in)."""

    def __init__(
        self,
        base_url: Optional[str],
        api_key: Optional[str],
        *,
        timeout: Union[float, httpx.Timeout, None],
        headers: Optional[Mapping[str, str]],
        http_client: Optional[httpx.Client],
    ) -> None:
        self.config = _Config(base_url, api_key, headers)
        self._owns_client = http_client is None
        self.client = http_client or httpx.Client(timeout=timeout)

    def send(self, call: Call[T]) -> T:
        request = self.config.build(self.client, call)
        try:
            response = self.client.send(request)
        except httpx.TransportError as exc:
            raise self.config.transport_error(exc) from exc
        return read_answer(call, response)

    def stream_lines(self, call: Call[T]) -> Generator[T, None, None]:
        """Sends ``call`` and yields each line of its JSON-lines answer as it arrives.

        The answer is read as it streams, never held whole; the response is
        closed when the loop ends, breaks, or the generator is closed.
        """
        request = self.config.build(self.client, call)
        try:
            response = self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self.config.transport_error(exc) from exc
        try:
            try:
                if not response.is_success:
                    response.read()
                    raise error_from_response(response)
                for line in response.iter_lines():
                    item = read_line(call, response, line)
                    if item is not None:
                        yield item
            except httpx.TransportError as exc:
                raise self.config.transport_error(exc) from exc
        finally:
            response.close()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class AsyncCore:
    """Sends calls with an ``httpx.AsyncClient`` (its own, or one the application passed in)."""

    def __init__(
        self,
        base_url: Optional[str],
        api_key: Optional[str],
        *,
        timeout: Union[float, httpx.Timeout, None],
        headers: Optional[Mapping[str, str]],
        http_client: Optional[httpx.AsyncClient],
    ) -> None:
        self.config = _Config(base_url, api_key, headers)
        self._owns_client = http_client is None
        self.client = http_client or httpx.AsyncClient(timeout=timeout)

    async def send(self, call: Call[T]) -> T:
        request = self.config.build(self.client, call)
        try:
            response = await self.client.send(request)
        except httpx.TransportError as exc:
            raise self.config.transport_error(exc) from exc
        return read_answer(call, response)

    async def stream_lines(self, call: Call[T]) -> AsyncGenerator[T, None]:
        """Sends ``call`` and yields each line of its JSON-lines answer as it arrives (see ``SyncCore``)."""
        request = self.config.build(self.client, call)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self.config.transport_error(exc) from exc
        try:
            try:
                if not response.is_success:
                    await response.aread()
                    raise error_from_response(response)
                async for line in response.aiter_lines():
                    item = read_line(call, response, line)
                    if item is not None:
                        yield item
            except httpx.TransportError as exc:
                raise self.config.transport_error(exc) from exc
        finally:
            await response.aclose()

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()
