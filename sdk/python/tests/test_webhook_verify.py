"""``switchboard.webhooks.verify`` and ``sign`` without a gateway: a known vector, the
tolerance, missing headers, several signatures in one header, and refusals.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Dict

import pytest

from switchboard import WebhookPayload, WebhookVerificationError
from switchboard.webhooks import DEFAULT_TOLERANCE_S, sign, verify

# 32 bytes of 0x01, and the signature of the body below sent as msg_1 at 1700000000.
SECRET = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
BODY = b'{"a":1}'
TIMESTAMP = 1700000000
SIGNATURE = "v1,3tN+SMwreJINGaFSPFdhMpE4XGSVaCkC9ee+KquMGGQ="


def headers(**changes: str) -> Dict[str, str]:
    found = {"webhook-id": "msg_1", "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE}
    found.update({k.replace("_", "-"): v for k, v in changes.items()})
    return found


def test_the_known_vector() -> None:
    assert base64.b64decode(SECRET[len("whsec_") :]) == b"\x01" * 32
    assert sign(SECRET, "msg_1", TIMESTAMP, BODY) == SIGNATURE
    assert sign(SECRET, "msg_1", TIMESTAMP, BODY.decode()) == SIGNATURE

    payload = verify(SECRET, BODY, headers(), now=TIMESTAMP + 10)
    assert isinstance(payload, WebhookPayload) and payload.raw == {"a": 1}
    # The body as text, bytearray or memoryview; now as a datetime.
    for body in (BODY.decode(), bytearray(BODY), memoryview(BODY)):
        assert verify(SECRET, body, headers(), now=TIMESTAMP).raw == {"a": 1}
    assert verify(SECRET, BODY, headers(), now=datetime.fromtimestamp(TIMESTAMP, timezone.utc)).raw == {"a": 1}


def test_a_payload_is_read_into_its_model() -> None:
    body = json.dumps(
        {
            "type": "account.revoked",
            "timestamp": "2026-11-26T09:14:27.531Z",
            "data": {
                "connected_account_id": "ca_1",
                "connection_id": "conn_1",
                "provider": "gmail",
                "identifier": "user-42",
                "label": "default",
                "status": "revoked",
                "reason": "the provider refused the refresh token",
            },
        }
    )
    signed = headers(webhook_signature=sign(SECRET, "msg_1", TIMESTAMP, body))
    event = verify(SECRET, body, signed, now=TIMESTAMP)
    assert event.type == "account.revoked"
    assert event.timestamp == datetime(2026, 11, 26, 9, 14, 27, 531000, tzinfo=timezone.utc)
    assert (event.data.connected_account_id, event.data.status) == ("ca_1", "revoked")
    assert event.data.reason == "the provider refused the refresh token"


def test_header_names_are_case_insensitive_and_pairs_are_accepted() -> None:
    upper = {name.upper(): value for name, value in headers().items()}
    assert verify(SECRET, BODY, upper, now=TIMESTAMP).raw == {"a": 1}
    pairs = [("Webhook-Id", "msg_1"), ("Webhook-Timestamp", str(TIMESTAMP)), ("Webhook-Signature", SIGNATURE)]
    assert verify(SECRET, BODY, pairs, now=TIMESTAMP).raw == {"a": 1}


def test_the_tolerance() -> None:
    assert DEFAULT_TOLERANCE_S == 300
    verify(SECRET, BODY, headers(), now=TIMESTAMP + 300)
    verify(SECRET, BODY, headers(), now=TIMESTAMP - 300)
    with pytest.raises(WebhookVerificationError, match="301 s old"):
        verify(SECRET, BODY, headers(), now=TIMESTAMP + 301)
    with pytest.raises(WebhookVerificationError, match="ahead"):
        verify(SECRET, BODY, headers(), now=TIMESTAMP - 301)
    with pytest.raises(WebhookVerificationError, match="old"):
        verify(SECRET, BODY, headers(), tolerance=10, now=TIMESTAMP + 11)
    verify(SECRET, BODY, headers(), tolerance=3600, now=TIMESTAMP + 3000)
    # Against the clock by default: this vector is from 2023.
    with pytest.raises(WebhookVerificationError, match="old"):
        verify(SECRET, BODY, headers())
    with pytest.raises(WebhookVerificationError, match="Unix seconds"):
        verify(SECRET, BODY, headers(webhook_timestamp="2023-11-14T22:13:20Z"), now=TIMESTAMP)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(name: str) -> None:
    without = {k: v for k, v in headers().items() if k != name}
    with pytest.raises(WebhookVerificationError, match=f"no {name} header"):
        verify(SECRET, BODY, without, now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match=f"no {name} header"):
        verify(SECRET, BODY, {**headers(), name: ""}, now=TIMESTAMP)


def test_several_signatures_in_one_header() -> None:
    wrong = "v1," + base64.b64encode(b"\x00" * 32).decode()
    for value in (
        f"{wrong} {SIGNATURE}",
        f"{SIGNATURE} {wrong}",
        f"v1a,{SIGNATURE[3:]} {SIGNATURE}",  # another scheme's entry is skipped
        f"  {wrong}   {SIGNATURE}  ",
    ):
        assert verify(SECRET, BODY, headers(webhook_signature=value), now=TIMESTAMP).raw == {"a": 1}
    # The same header sent twice.
    pairs = [("webhook-id", "msg_1"), ("webhook-timestamp", str(TIMESTAMP))]
    pairs += [("webhook-signature", wrong), ("webhook-signature", SIGNATURE)]
    assert verify(SECRET, BODY, pairs, now=TIMESTAMP).raw == {"a": 1}
    # ... or joined by a framework with a comma.
    assert verify(SECRET, BODY, headers(webhook_signature=f"{wrong}, {SIGNATURE}"), now=TIMESTAMP).raw == {"a": 1}

    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(SECRET, BODY, headers(webhook_signature=f"{wrong} v1,not-base64"), now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no `v1,` signature"):
        verify(SECRET, BODY, headers(webhook_signature=f"v2,{SIGNATURE[3:]}"), now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no `v1,` signature"):
        verify(SECRET, BODY, headers(webhook_signature=SIGNATURE[3:]), now=TIMESTAMP)


def test_what_the_signature_covers() -> None:
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(SECRET, b'{"a":2}', headers(), now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(SECRET, BODY, headers(webhook_id="msg_2"), now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(SECRET, BODY, headers(webhook_timestamp=str(TIMESTAMP + 1)), now=TIMESTAMP)
    other = "whsec_" + base64.b64encode(b"\x02" * 32).decode()
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(other, BODY, headers(), now=TIMESTAMP)


def test_a_signed_body_that_is_not_an_object_is_refused() -> None:
    for body in (b"not json", b"[1, 2]"):
        signed = headers(webhook_signature=sign(SECRET, "msg_1", TIMESTAMP, body))
        with pytest.raises(WebhookVerificationError, match="JSON"):
            verify(SECRET, body, signed, now=TIMESTAMP)


def test_a_secret_that_is_not_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="base64"):
        verify("whsec_not base64!", BODY, headers(), now=TIMESTAMP)
    with pytest.raises(ValueError, match="empty"):
        sign("whsec_", "msg_1", TIMESTAMP, BODY)
    # The bare base64 works too, as other Standard Webhooks libraries accept it.
    assert sign(SECRET[len("whsec_") :], "msg_1", TIMESTAMP, BODY) == SIGNATURE


def test_agrees_with_the_standard_webhooks_library() -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks.webhooks")
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    body = '{"type":"account.connected","data":{"connected_account_id":"ca_9"}}'
    timestamp = datetime.now(timezone.utc).replace(microsecond=0)
    theirs = standardwebhooks.Webhook(secret).sign("msg_9", timestamp, body)
    assert sign(secret, "msg_9", int(timestamp.timestamp()), body) == theirs
    signed = {"webhook-id": "msg_9", "webhook-timestamp": str(int(timestamp.timestamp())), "webhook-signature": theirs}
    assert verify(secret, body, signed).type == "account.connected"
    assert standardwebhooks.Webhook(secret).verify(body, signed) == json.loads(body)
