"""Fixtures: a real gateway process, serving the demo notes API and an OAuth provider.

The session starts the gateway binary once, with its data, database and specs
in a temporary directory, listening on a free port (``127.0.0.1:0``; the
address is read from its "switchboard listening" log line), next to the mock
notes API of ``mock_notes.py``. Tests make their own connections and accounts
with unique identifiers and delete them afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import httpx
import pytest

from hook_receiver import HookReceiver
from mock_notes import NotesServer
from switchboard import Switchboard

SDK_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = SDK_DIR.parents[1]
NOTES_SPEC = REPO_DIR / "examples" / "demo" / "notes.yaml"

# A made-up OAuth 2.0 provider, after tests/fixtures/oauth/studio.yaml: PKCE, a
# comma scope separator and an extra authorization parameter. Only its
# authorization URL is used: nothing is ever sent to its hosts.
STUDIO_SPEC = """\
provider: studio
display_name: Studio
base_url: https://api.studio.example/v1
auth:
  type: oauth2
  authorization_url: https://studio.example/oauth/authorize
  token_url: https://studio.example/oauth/token
  pkce: true
  scope_separator: ","
  default_scopes: [read, write]
  authorization_params:
    access_type: offline
tools:
  get_site:
    description: Read the user's site.
    parameters: {type: object, properties: {}}
    request:
      method: GET
      path: /site
"""

START_TIMEOUT_S = 30.0


@dataclass
class Gateway:
    url: str
    api_key: str
    notes: NotesServer
    process: "subprocess.Popen[bytes]"
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def find_binary() -> Path:
    """``$SWITCHBOARD_BIN``, else this repository's debug build, else ``$CARGO_TARGET_DIR``'s."""
    candidates: List[Path] = []
    if os.environ.get("SWITCHBOARD_BIN"):
        candidates.append(Path(os.environ["SWITCHBOARD_BIN"]))
    candidates.append(SDK_DIR / ".." / ".." / "target" / "debug" / "switchboard")
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "switchboard")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
    looked = ", ".join(str(p) for p in candidates)
    pytest.fail(
        f"no gateway binary found (looked at {looked}); build it with `cargo build` or point SWITCHBOARD_BIN at one",
        pytrace=False,
    )


def notes_spec(base_url: str) -> str:
    text = NOTES_SPEC.read_text()
    text, count = re.subn(r"(?m)^base_url: .*$", f"base_url: {base_url}/v1", text)
    assert count == 1, f"no base_url line in {NOTES_SPEC}"
    return text


def _listening_address(log: str) -> Optional[str]:
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            match = re.search(r"listening address=(\S+)", line)
            if match:
                return match.group(1)
            continue
        fields = event.get("fields", {}) if isinstance(event, dict) else {}
        if fields.get("message") == "switchboard listening":
            return str(fields["address"])
    return None


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    binary = find_binary()
    root = tmp_path_factory.mktemp("gateway")
    specs = root / "specs"
    specs.mkdir()
    notes = NotesServer()
    (specs / "notes.yaml").write_text(notes_spec(notes.url))
    (specs / "studio.yaml").write_text(STUDIO_SPEC)

    api_key = "sb_test_" + secrets.token_hex(16)
    # Only this run's settings: nothing inherited from the shell's SWITCHBOARD_*.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(
        {
            "SWITCHBOARD_LISTEN": "127.0.0.1:0",
            "SWITCHBOARD_DATA_DIR": str(root / "data"),
            "SWITCHBOARD_SPECS_DIR": str(specs),
            "SWITCHBOARD_API_KEYS": api_key,
            "SWITCHBOARD_DATABASE_URL": f"sqlite://{root / 'sb.db'}",
            "SWITCHBOARD_LOG_FORMAT": "json",
            "RUST_LOG": "info",
        }
    )
    log_path = root / "gateway.log"
    with open(log_path, "wb") as log, open(root / "stdout.txt", "wb") as out:
        process = subprocess.Popen(
            [str(binary), "serve"], cwd=root, env=env, stdout=out, stderr=log, stdin=subprocess.DEVNULL
        )
    gw: Optional[Gateway] = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        address = None
        while address is None:
            if process.poll() is not None:
                pytest.fail(f"the gateway exited with {process.returncode}:\n{log_path.read_text()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the gateway did not start listening:\n{log_path.read_text()}", pytrace=False)
            address = _listening_address(log_path.read_text(errors="replace"))
            if address is None:
                time.sleep(0.05)
        gw = Gateway(url=address, api_key=api_key, notes=notes, process=process, log_path=log_path)
        _wait_ready(gw, deadline)
        yield gw
    finally:
        _stop(process)
        notes.close()


def _wait_ready(gw: Gateway, deadline: float) -> None:
    while True:
        try:
            ready = httpx.get(f"{gw.url}/readyz", timeout=2)
            if ready.status_code == 200:
                body = ready.json()
                assert body["spec_problems"] == 0, body["spec_problems"]
                assert body["providers"] == 2, body
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the gateway did not become ready:\n{gw.log()}", pytrace=False)
        time.sleep(0.05)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def sb(gateway: Gateway) -> Iterator[Switchboard]:
    with Switchboard(base_url=gateway.url, api_key=gateway.api_key, timeout=30) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def unique(prefix: str = "user") -> str:
    """An identifier no other test uses, so tests never see each other's accounts."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class NotesAccount:
    connection_id: str
    account_id: str
    identifier: str


@pytest.fixture
def notes_account(sb: Switchboard) -> Iterator[NotesAccount]:
    """An active account of the notes API, deleted (with its connection) afterwards."""
    connection = sb.connections.create(provider="notes")
    identifier = unique()
    try:
        account = sb.accounts.create(connection_id=connection.id, identifier=identifier)
        sb.accounts.set_credentials(account.id, api_key="demo-key")
        yield NotesAccount(connection.id, account.id, identifier)
    finally:
        sb.connections.delete(connection.id)


@pytest.fixture
def studio_connection(sb: Switchboard) -> Iterator[str]:
    connection = sb.connections.create(
        provider="studio",
        auth_type="oauth2",
        credentials={"client_id": "studio-client", "client_secret": "studio-secret"},
        scopes=["profile"],
    )
    try:
        yield connection.id
    finally:
        sb.connections.delete(connection.id)


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    """A webhook receiver on a free local port that answers every delivery 204."""
    server = HookReceiver()
    try:
        yield server
    finally:
        server.close()
