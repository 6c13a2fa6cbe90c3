"""The HTTP API keeps its own schema: schemathesis drives a real ``ragd serve`` (real embedder, real
chromadb, the real small LLM) from ``/openapi.json`` with every check it has.

Checks (all of them, the default): ``not_a_server_error``, ``status_code_conformance`` (every status
documented), ``content_type_conformance``, ``response_schema_conformance``,
``response_headers_conformance``, ``positive_data_acceptance`` (a request the schema allows is not
refused), ``negative_data_rejection`` (one it forbids is), ``missing_required_header``, ``ignored_auth``
(the bearer token is really needed), ``unsupported_method`` (405 with ``Allow``),
``allow_header_conformance`` (``OPTIONS``). The resource checks (``use_after_free``,
``ensure_resource_availability``, ``object_level_authorization``) need schemathesis's stateful runner,
which parametrized tests do not use: they stay on and do nothing here.

Bounded: a few examples per operation (fewer where the model answers), no shrinking, a fixed seed.
Steering, here and not in the app: folders given to ``POST``/``DELETE /v1/sources`` are a scratch
folder (a generated ``/`` or ``.`` would index this machine), and ``/v1/open`` starts a recorder, not an
application. ``/mcp`` is not in the schema (the MCP SDK serves it; ``test_mcp.py`` tests it).
"""

from __future__ import annotations

import os
import secrets
import shlex
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from starlette.testclient import TestClient

from ragd.daemon.server.api import DaemonBackend
from ragd.daemon.server.app import create_app
from ragd.index.scope import ScopeError, scope_of
from tests.daemon_proc import Daemon

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DOCS = {
    "garden.md": "# Garden log\n\nThe tomatoes were planted on the ninth of April, beside the fence.\n",
    "ships.txt": "The lighthouse keeper records every passing ship in a green ledger.\n",
}
EXAMPLES = 25  # per operation, on top of schemathesis's examples and boundary (coverage) cases
LLM_EXAMPLES = 3  # each may run the model (seconds on two cores)
LLM_PATHS = ["/v1/ask", "/v1/chat/completions"]
TOKEN = secrets.token_urlsafe(32)  # the daemon's, written before it starts: the schema needs it at collection
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def published_schema() -> dict[str, Any]:
    """``/openapi.json`` as this code serves it (the test checks that the daemon serves the same): the
    operations must be known when pytest collects, before any daemon runs."""
    app = create_app(cast(DaemonBackend, None), TOKEN, 8765)  # no lifespan: nothing runs but the schema route
    schema: dict[str, Any] = TestClient(app, base_url="http://127.0.0.1:8765", headers=AUTH).get(
        "/openapi.json").raise_for_status().json()
    return schema


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("contract").resolve()
    docs, scratch, home = base / "docs", base / "scratch", base / "home"
    for folder in (docs, scratch, home):
        folder.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    (scratch / "note.txt").write_text("A scratch note about harbour cranes.\n", encoding="utf-8")
    (home / "config.toml").write_text("[llm]\ncontext_tokens = 2048\nmax_answer_tokens = 32\n", encoding="utf-8")
    opened = base / "opened.txt"  # the "desktop opener": it only writes down the path it was given
    record = 'printf "%s\\n" "$1" >> "$0"'
    opener = f"/bin/sh -c {shlex.quote(record)} {shlex.quote(str(opened))}"
    daemon = Daemon(home, [docs], RAGD_OPENER=opener)
    daemon.token_file.parent.mkdir(mode=0o700)
    fd = os.open(daemon.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, TOKEN.encode())
    os.close(fd)
    daemon.start()
    try:
        daemon.settled()
        yield SimpleNamespace(daemon=daemon, docs=docs, scratch=scratch, opened=opened,
                              indexed=str(docs / "garden.md"))
    finally:
        daemon.stop_quietly()


schema = schemathesis.openapi.from_dict(published_schema(), config=schemathesis.Config.from_dict({
    "seed": int(os.environ.get("RAGD_CONTRACT_SEED", "15")),  # another seed explores other cases
    "headers": AUTH,
    "request-timeout": 120,
    "generation": {"max-examples": EXAMPLES, "no-shrink": True, "database": "none"},
    # Schemathesis's list of refusals, plus 413: a body over the guard's limit (256 KiB) is refused unread.
    "checks": {"negative_data_rejection": {"expected-statuses": [
        400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]}},
    "operations": [{"include-path": LLM_PATHS, "generation": {"max-examples": LLM_EXAMPLES}}],
}))


def test_the_daemon_serves_this_schema(world: Any) -> None:
    assert world.daemon.api().get("/openapi.json").json() == published_schema()


@schema.parametrize()
def test_the_api_keeps_its_schema(case: Any, world: Any) -> None:
    steer(case, world)
    case.call_and_validate(base_url=world.daemon.url)


def steer(case: Any, world: Any) -> None:
    """Valid requests aimed at this test's own folders and files; invalid ones are left as they are."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    where = (case.method.upper(), case.path)
    if where == ("POST", "/v1/sources") and isinstance(case.body, dict):
        case.body["path"] = str(world.scratch)
    elif where == ("DELETE", "/v1/sources") and case.query:
        case.query["path"] = str(world.scratch)  # never the test's own source
    elif where == ("POST", "/v1/open") and isinstance(case.body, dict):
        case.body["path"] = _sometimes(case.body["path"], world.indexed)
    elif where == ("GET", "/v1/documents") and case.query:
        case.query["path"] = _sometimes(case.query["path"], world.indexed)
    elif where in (("POST", "/v1/search"), ("POST", "/v1/ask")) and isinstance(case.body, dict):
        _real_scope(case.body)  # the rules of a scope the schema cannot state: a day that exists, in order; a type read
    elif where == ("GET", "/v1/documents/context") and case.query and _in_order(case.query):
        # The one rule the schema cannot state (line_end >= line_start) is a documented 422 for a real file.
        case.query["path"] = _sometimes(case.query["path"], world.indexed)


def _real_scope(body: dict[str, Any]) -> None:
    types = []
    for t in body.get("type") or ():
        try:
            scope_of(types=[t])
            types.append(t)
        except ScopeError:  # a type no parser reads ("0"): a documented 422
            pass
    if "type" in body:
        body["type"] = types
    for key in ("since", "until"):
        try:
            if body.get(key) is not None:
                scope_of(**{key: body[key]})
        except ScopeError:
            del body[key]
    try:
        scope_of(since=body.get("since"), until=body.get("until"))
    except ScopeError:
        body.pop("until", None)


def _sometimes(generated: str, real: str) -> str:
    """Half the cases on a real file (a 200), half on the generated path (a 404)."""
    return real if len(generated) % 2 == 0 else generated


def _in_order(query: dict[str, Any]) -> bool:
    start, end = query.get("line_start"), query.get("line_end")
    return start is None or end is None or int(end) >= int(start)


def test_the_opener_was_only_the_recorder(world: Any) -> None:
    """``/v1/open`` ran (200s above) and reached nothing but the harmless opener."""
    opened = world.opened.read_text().split("\n") if world.opened.exists() else []
    assert set(filter(None, opened)) <= {world.indexed}


def test_options_lists_every_method(world: Any) -> None:
    r = httpx.options(f"{world.daemon.url}/v1/sources", headers=AUTH, trust_env=False)
    assert r.status_code == 204 and r.headers["allow"] == "DELETE, GET, OPTIONS, POST"
    r = httpx.put(f"{world.daemon.url}/v1/sources", headers=AUTH, trust_env=False)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, OPTIONS, POST"
    assert httpx.options(f"{world.daemon.url}/v1/sources", trust_env=False).status_code == 401  # behind the guard
