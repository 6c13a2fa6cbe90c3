"""The ``[server]`` section: where the daemon listens and how it watches.

```toml
[server]
host = "127.0.0.1"        # another address needs --allow-remote (and is warned about)
port = 8765               # 0 = any free port (written to the daemon file for the CLI)
debounce_s = 0.3          # quiet time after a file's last event before it is indexed
reconcile_minutes = 10    # full rescan that catches events the watcher missed; 0 = off
max_request_kb = 256      # request bodies above this get a 413
store_call_limit_s = 600  # a vector store call still running after this ends the daemon (restarted by the
                          # service manager; see store_watchdog): a hang in native code costs a restart
```
``RAGD_HOST``, ``RAGD_PORT`` and ``RAGD_DEBOUNCE_S`` override the file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ragd.index.errors import ConfigError

DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    debounce_s: float = 0.3
    max_wait_s: float = 5.0
    reconcile_minutes: float = 10.0
    max_request_kb: int = 256
    store_call_limit_s: float = 600.0

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_ENV = {"RAGD_HOST": "host", "RAGD_PORT": "port", "RAGD_DEBOUNCE_S": "debounce_s"}


def load_server_settings(extra: Mapping[str, Any], env: Mapping[str, str]) -> ServerSettings:
    section = extra.get("server", {})
    if not isinstance(section, Mapping):
        raise ConfigError("config: [server] must be a table")
    types = {f.name: f.type for f in fields(ServerSettings)}
    values: dict[str, Any] = {}
    raw = dict(section) | {name: env[var] for var, name in _ENV.items() if env.get(var)}
    for key, value in raw.items():
        if key not in types:
            raise ConfigError(f"config: unknown setting [server] {key}")
        try:
            kind = str(types[key])
            values[key] = int(value) if kind == "int" else float(value) if kind == "float" else str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config: [server] {key} has an invalid value {value!r}") from None
    settings = replace(ServerSettings(), **values)
    if not 0 <= settings.port <= 65535:
        raise ConfigError("config: [server] port must be between 0 and 65535")
    if settings.debounce_s < 0 or settings.max_wait_s < settings.debounce_s or settings.reconcile_minutes < 0:
        raise ConfigError("config: [server] debounce_s, max_wait_s and reconcile_minutes must be >= 0 "
                          "(and max_wait_s >= debounce_s)")
    if settings.store_call_limit_s < 1:
        raise ConfigError("config: [server] store_call_limit_s must be at least 1")
    if settings.max_request_kb < 1:
        raise ConfigError("config: [server] max_request_kb must be at least 1")
    return settings
