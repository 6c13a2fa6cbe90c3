"""Put on PYTHONPATH to cut a Python process (and its children) off from everything but loopback.

Every attempt to reach another address, or to resolve a name other than localhost, is refused
and written to the file named by RAGD_TEST_NET_LOG, so a test can show that nothing even tried.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback

_LOG = os.environ.get("RAGD_TEST_NET_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, target: object) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {what} {target!r}\n{''.join(traceback.format_stack(limit=12))}\n")
    raise OSError(101, f"network blocked by the test: {what} {target!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _check(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) \
            and not _loopback(address[0]):
        _refuse("connect", address)


def connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    _connect(self, address)  # type: ignore[arg-type]


def connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _connect_ex(self, address)  # type: ignore[arg-type]


def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if host is not None and not _loopback(host):
        _refuse("resolve", host)
    return _getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


if os.environ.get("RAGD_TEST_NET_ARMED"):  # proof for the test that the guard was active in this process
    with open(os.environ["RAGD_TEST_NET_ARMED"], "a", encoding="utf-8") as _armed:
        _armed.write(f"{os.getpid()}\n")

socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
