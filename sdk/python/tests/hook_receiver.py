"""A webhook receiver for the tests: an HTTP server on 127.0.0.1 that keeps what it is POSTed.

It answers each delivery with the next status of ``statuses`` (the last one
repeats), so a test can have an attempt fail. ``wait_for`` blocks until a
delivery matching a test arrives.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    path: str
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


class HookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, statuses: Sequence[int] = (204,)) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = list(statuses)
        self.received: List[Received] = []
        self.changed = threading.Condition()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="hook-receiver", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_status(self) -> int:
        with self.changed:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def wait_for(self, matches: Callable[[Received], bool], timeout: float = 20.0) -> Received:
        """The first delivery (received already or yet to come) that ``matches``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((r for r in self.received if matches(r)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching delivery within {timeout} s; received {self.received!r}")
                self.changed.wait(left)

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: HookReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.changed:
            self.server.received.append(Received(self.path, list(self.headers.items()), body))
            self.server.changed.notify_all()
        self.send_response(self.server.next_status())
        self.send_header("Content-Length", "0")
        self.end_headers()


def eventually(probe: Callable[[], Optional[T]], timeout: float = 20.0, what: str = "the condition") -> T:
    """Calls ``probe`` until it answers something other than ``None`` (or falsy), and answers that."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(0.05)
