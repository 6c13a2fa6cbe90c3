"""Installing and removing the login items: the steps, run through a ``Runner`` (list arguments, no shell), so
that tests replace them with a recorder; the files themselves come from ``files``."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ragd.daemon.config import Config
from ragd.daemon.install import files as sf
from ragd.index.errors import RagdError

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
Echo = Callable[[str], None]


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RagdError(f"{argv[0]} not found: is its service manager installed?") from None


def _ragd_script() -> Path | None:
    """The ``ragd`` script of this installation (next to its python), not another one on PATH."""
    script = Path(sys.executable).absolute().with_name("ragd")
    return script if script.is_file() and os.access(script, os.X_OK) else None


def ragd_argv(*args: str) -> list[str]:
    """A command line for this installation's ``ragd`` (the service, the tray and its "Start" use it)."""
    return sf.ragd_argv(Path(sys.executable).absolute(), _ragd_script(), *args)


def current_plan(cfg: Config, home: Path, platform: str, environ: Mapping[str, str], uid: int) -> sf.Plan:
    return sf.plan(platform, home, uid, ragd_argv("serve"), cfg.data_dir, cfg.state_dir, sf.location_env(environ))


def current_tray_plan(home: Path, platform: str, environ: Mapping[str, str], uid: int) -> sf.Plan:
    return sf.tray_plan(platform, home, uid, ragd_argv("tray"), sf.location_env(environ))


def run_steps(steps: Sequence[sf.Step], run: Runner, echo: Echo) -> None:
    for step in steps:
        command = shlex.join(step.argv)
        echo(f"$ {command}")
        result = run(step.argv)
        if result.returncode != 0 and not step.may_fail:
            detail = (result.stderr or result.stdout or "").strip()
            raise RagdError(f"`{command}` failed (exit {result.returncode}): {detail}")


def _write(target: Path, content: bytes) -> None:
    """Write ``target`` whole (mode 0644): a crash never leaves half a unit file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(content)
    tmp.chmod(0o644)
    os.replace(tmp, target)


def install(plan: sf.Plan, run: Runner, echo: Echo) -> None:
    for folder in plan.make_dirs:  # ReadWritePaths= must exist before the service starts
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(plan.target, plan.content)
    echo(f"wrote {plan.target}")
    run_steps(plan.install, run, echo)


def uninstall(plan: sf.Plan, run: Runner, echo: Echo) -> bool:
    """Stop the service and remove its file; False when it was not installed."""
    if not plan.target.exists():
        echo(f"not installed ({plan.target} does not exist)")
        return False
    run_steps(plan.remove_before, run, echo)
    plan.target.unlink()
    echo(f"removed {plan.target}")
    run_steps(plan.remove_after, run, echo)
    return True
