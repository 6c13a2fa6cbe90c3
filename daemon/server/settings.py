"""The ``[server]`` section: where the daemon listens and how it watches (``ragd.daemon.settings`` declares and
checks it; ``RAGD_HOST``, ``RAGD_PORT`` and ``RAGD_DEBOUNCE_S`` override the file)."""

from __future__ import annotations

from ragd.daemon.settings import DEFAULT_PORT, ServerSection, is_loopback

ServerSettings = ServerSection

__all__ = ["DEFAULT_PORT", "ServerSettings", "is_loopback"]
