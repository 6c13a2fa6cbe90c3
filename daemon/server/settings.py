"""The ``[server]`` section: where the daemon listens and how it watches (``ragd.daemon.settings`` declares and
checks it; ``RAGD_HOST``, ``RAGD_PORT`` and ``RAGD_DEBOUNCE_S`` override the file)."""

from __future__ import annotations

import ipaddress

from ragd.daemon.settings import DEFAULT_PORT, ServerSection

ServerSettings = ServerSection

__all__ = ["DEFAULT_PORT", "ServerSettings", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
