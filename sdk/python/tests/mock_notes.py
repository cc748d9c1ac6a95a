"""The demo notes API of ``examples/mock_provider.rs``, served from a thread.

It behaves like the Rust example: ``/v1/notes`` (GET lists, POST creates) and
``/v1/notes/{id}`` (GET reads), every request needing ``X-Api-Key: demo-key``,
errors as ``{"error": {"code", "message"}}``. Each server keeps its own notes,
so tests that share it should not count on ids.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

API_KEY = "demo-key"

_NOTE_PATH = re.compile(r"^/v1/notes/(\d+)$")


class NotesServer(ThreadingHTTPServer):
    """A notes API on 127.0.0.1 and a free port, stopped by ``close()``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.notes: Dict[int, Dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.requests: List[Tuple[str, str]] = []
        self._thread = threading.Thread(target=self.serve_forever, name="mock-notes", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        port = self.server_address[1]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: NotesServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # keep test output quiet

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.requests.append((method, self.path))
        if self.headers.get("X-Api-Key") != API_KEY:
            self._reply(401, _error("unauthorized", "missing or wrong X-Api-Key"))
            return
        path = self.path.split("?", 1)[0]
        if path == "/v1/notes" and method == "GET":
            with self.server.lock:
                notes = [self.server.notes[k] for k in sorted(self.server.notes)]
            self._reply(200, {"notes": notes})
        elif path == "/v1/notes" and method == "POST":
            self._create(raw)
        elif _NOTE_PATH.match(path) and method == "GET":
            note_id = int(_NOTE_PATH.match(path).group(1))  # type: ignore[union-attr]
            with self.server.lock:
                note = self.server.notes.get(note_id)
            if note is None:
                self._reply(404, _error("not_found", f"no note {note_id}"))
            else:
                self._reply(200, note)
        else:
            self._reply(404, _error("not_found", "no such route"))

    def _create(self, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("title"), str):
            self._reply(400, _error("invalid", "title is required"))
            return
        with self.server.lock:
            note_id = len(self.server.notes) + 1
            note = {"id": note_id, "title": body["title"], "body": body.get("body")}
            self.server.notes[note_id] = note
        self._reply(201, note)

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str) -> Dict[str, Any]:
    return {"error": {"code": code, "message": message}}
