"""``ragd serve``: the daemon in the foreground (systemd and launchd run exactly this)."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import click

from ragd.daemon.config import Config
from ragd.daemon.server.settings import ServerSettings, is_loopback
from ragd.index import private
from ragd.index.errors import RagdError
from ragd.index.paths import resolve_paths

log = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (is another ragd running? `ragd status`)" if exc.errno == 98 else ""
        raise RagdError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _banner(url: str, token_path: Path, roots: list[str]) -> str:
    watching = ", ".join(roots) if roots else "nothing yet (`ragd index FOLDER` adds a folder)"
    return "\n".join([
        f"ragd is serving {url} — watching {watching}",
        '  ask:     ragd ask "your question"      search: ragd search "words"      status: ragd status',
        "  page:    ragd open   (opens the web page through a one-time link)",
        f'  API:     curl -H "Authorization: Bearer $(cat {token_path})" {url}/v1/status   '
        f"(schema: {url}/openapi.json)",
        f"  OpenAI-compatible: base_url {url}/v1, model \"ragd\"    MCP: {url}/mcp",
        "  Stop with Ctrl+C (or SIGTERM).",
    ])


@click.command()
@click.argument("folders", nargs=-1, type=click.Path())
@click.option("--host", help="Address to listen on (default 127.0.0.1; others need --allow-remote).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8765; 0 = any free port).")
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
@click.pass_context
def serve(ctx: click.Context, folders: tuple[str, ...], host: str | None, port: int | None,
          allow_remote: bool) -> None:
    """Run the daemon in the foreground: watch FOLDERS (and the sources already added), keep the index
    current, and serve the local API."""
    import uvicorn

    from ragd.daemon.server.app import create_app
    from ragd.daemon.server.runtime import Runtime
    from ragd.daemon.server.security import ensure_token, write_daemon_file

    config: Config = ctx.obj
    settings: ServerSettings = config.server.model_copy(
        update={"host": host or config.server.host, "port": config.server.port if port is None else port})
    if not is_loopback(settings.host):
        if not allow_remote:
            raise RagdError(f"ragd listens on loopback only; to listen on {settings.host}, add --allow-remote")
        click.echo(f"ragd: warning: listening on {settings.host}: other machines can reach the API "
                   "(the token is still required)", err=True)
    roots = resolve_paths(folders)
    for root in roots:
        if not os.path.exists(root):
            raise RagdError(f"no such file or directory: {root}")
    private.start(config, os.environ, create=True)  # refuses a home, data or state folder others can write to
    token = ensure_token(config.token_path)  # never through a planted link
    runtime = Runtime(config, os.environ, settings=settings)
    runtime.acquire()  # a second daemon stops here, with one clear line
    try:
        for root in roots:
            runtime.writes.catalog.add_source(root)
        sock = _bind(settings.host, settings.port)
        bound_port = sock.getsockname()[1]
        url = _url(settings.host, bound_port)

        def start() -> None:
            runtime.start()
            write_daemon_file(config.daemon_path, url, os.getpid())
            click.echo(_banner(url, config.token_path, runtime.roots()), err=True)

        def stop() -> None:
            _remove_own_daemon_file(config.daemon_path)
            runtime.stop()

        extra = frozenset() if settings.loopback else frozenset({settings.host})
        app = create_app(runtime, token, bound_port, start=start, stop=stop, extra_hosts=extra,
                         max_body=settings.max_request_kb * 1024)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                               timeout_graceful_shutdown=5, ws="none"))
        server.run(sockets=[sock])
    finally:
        runtime.stop()
    if runtime.writer.alive:  # blocked in a store call: exit without waiting for it (atexit hooks could)
        logging.shutdown()
        os._exit(1)


def _remove_own_daemon_file(path: Path) -> None:
    from ragd.daemon.server.security import read_daemon_file

    info = read_daemon_file(path)
    if info is not None and info.get("pid") == os.getpid():
        path.unlink(missing_ok=True)
