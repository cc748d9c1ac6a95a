"""Checking that a webhook delivery came from the gateway, with the standard library only.

The gateway signs each delivery per the Standard Webhooks specification:

- ``webhook-id``: the delivery's id (``msg_...``), the same on every attempt;
- ``webhook-timestamp``: Unix seconds of the attempt;
- ``webhook-signature``: space-separated ``v1,<base64>`` entries, each the
  HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the
  base64-decoded part of the endpoint's secret after ``whsec_``.

::

    from switchboard.webhooks import WebhookVerificationError, verify

    def receive(request):                      # any web framework
        try:
            event = verify(SECRET, request.body, request.headers)
        except WebhookVerificationError:
            return 400
        if event.type == "account.revoked":
            ...
        return 204

Pass the body exactly as it arrived (bytes, before any JSON parsing): a
re-serialised body does not match its signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any, Dict, Iterable, Mapping, Tuple, Union

from ._models import WebhookPayload

__all__ = ["WebhookVerificationError", "verify", "sign", "DEFAULT_TOLERANCE_S"]

#: How far a delivery's timestamp may be from the receiver's clock, in seconds, either way.
DEFAULT_TOLERANCE_S = 300

_SECRET_PREFIX = "whsec_"

Body = Union[bytes, bytearray, memoryview, str]
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


class WebhookVerificationError(Exception):
    """A delivery that must not be trusted: a signing header is missing, no ``v1`` signature in
    ``webhook-signature`` matches the body, its timestamp is outside the tolerance, or its body
    is not a JSON object. Answer such a request with a 4xx and ignore it.
    """


def _key(secret: str) -> bytes:
    encoded = secret[len(_SECRET_PREFIX) :] if secret.startswith(_SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not `whsec_` followed by base64 (copy it whole)") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def _bytes(body: Body) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def sign(secret: str, webhook_id: str, timestamp: int, body: Body) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of ``body`` sent as ``webhook_id`` at ``timestamp``.

    Useful to test a receiver with deliveries of one's own.
    """
    content = f"{webhook_id}.{timestamp}.".encode() + _bytes(body)
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _lowercase(headers: Headers) -> Dict[str, str]:
    pairs: Iterable[Tuple[str, str]] = headers.items() if isinstance(headers, Mapping) else headers
    found: Dict[str, str] = {}
    for name, value in pairs:
        key = str(name).lower()
        # A header sent twice: its values together (signatures are space-separated).
        found[key] = f"{found[key]} {value}" if key in found else str(value)
    return found


def verify(
    secret: str,
    body: Body,
    headers: Headers,
    tolerance: float = DEFAULT_TOLERANCE_S,
    *,
    now: Union[datetime, float, None] = None,
) -> WebhookPayload:
    """Checks a delivery's signature and timestamp, and answers its parsed payload.

    ``secret`` is the endpoint's ``whsec_...`` secret (from
    ``webhooks.create``); ``body`` the raw request body; ``headers`` the
    request's headers, as a mapping (any case; a dict, or a framework's
    headers object) or ``(name, value)`` pairs. A timestamp more than
    ``tolerance`` seconds from ``now`` (default: the clock) is refused, so a
    captured delivery cannot be replayed later. Signatures are compared in
    constant time.

    Raises :class:`WebhookVerificationError` for a delivery not to trust,
    and ``ValueError`` for a secret that is not a ``whsec_`` secret.
    """
    key = _key(secret)
    found = _lowercase(headers)
    missing = [name for name in ("webhook-id", "webhook-timestamp", "webhook-signature") if not found.get(name)]
    if missing:
        raise WebhookVerificationError(f"the delivery has no {', '.join(missing)} header")
    webhook_id = found["webhook-id"].strip()
    stamp = found["webhook-timestamp"].strip()

    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp `{stamp[:40]}` is not Unix seconds") from None
    clock = now.timestamp() if isinstance(now, datetime) else (time.time() if now is None else float(now))
    if timestamp < clock - tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp {timestamp} is {int(clock - timestamp)} s old, more than the {tolerance:g} s allowed"
        )
    if timestamp > clock + tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp {timestamp} is {int(timestamp - clock)} s ahead, more than the {tolerance:g} s allowed"
        )

    raw = _bytes(body)
    content = f"{webhook_id}.{timestamp}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    # Entries are space-separated; a header joined as "a, b" by a framework leaves a comma to drop.
    entries = [entry[:-1] if entry.endswith(",") else entry for entry in found["webhook-signature"].split()]
    offered = [entry[len("v1,") :] for entry in entries if entry.startswith("v1,")]
    if not offered:
        raise WebhookVerificationError("webhook-signature has no `v1,` signature")
    # Every entry is compared, so the time taken does not tell which one matched.
    matched = False
    for signature in offered:
        matched |= hmac.compare_digest(signature.encode(), expected)
    if not matched:
        raise WebhookVerificationError("no signature in webhook-signature matches the body (wrong secret, or altered)")

    try:
        payload: Any = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the delivery's body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the delivery's body is not a JSON object")
    return WebhookPayload.from_dict(payload)
