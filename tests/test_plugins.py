"""Extensions through entry points: a distribution installed beside ragd adds a parser and a connector without a
line of ragd changing, and ragd's own implementations are found the same way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragd.index import embed, llm
from ragd.index.errors import ConfigError
from ragd.index.parse import registered_suffixes
from ragd.index.plugins import PARSERS, Registry
from ragd.index.store import vectors
from tests.helpers import REPO, ragd_cmd, ragd_env

pytestmark = pytest.mark.timeout(600)

RECIPE = "Title: Rye bread\nStep 1: Mix rye flour, water and the sourdough starter.\n" \
         "Step 2: Knead the dough for ten minutes, then let it rise overnight in a cool larder.\n"


def _ragd(home: Path, *args: str, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = ragd_env(home, RAGD_NO_DAEMON="1")
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(ragd_cmd(*args), env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test extension (tests/plugin) installed into a folder of its own, as pip installs any distribution."""
    base = tmp_path_factory.mktemp("plugin")
    source = base / "src"
    shutil.copytree(REPO / "tests" / "plugin", source)  # building writes metadata beside the sources
    target = base / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, timeout=300)
    return target


def test_an_installed_parser_indexes_its_files_and_cites_their_lines(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kitchen"
    folder.mkdir()
    (folder / "rye.recipe").write_text(RECIPE, encoding="utf-8")
    (folder / "torn.recipe").write_text("half a card, no title\n", encoding="utf-8")
    (folder / "notes.txt").write_text("The larder keeps cool all summer.\n", encoding="utf-8")
    run = _ragd(tmp_path / "home", "index", str(folder), "--json", site=site)
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert (stats["files_indexed"], stats["files_failed"]) == (2, 1)
    assert stats["failures"][0]["reason"] == "not a recipe card: the first line must be 'Title: ...'"
    found = _ragd(tmp_path / "home", "search", "how long to knead the rye dough", "--json", "-k", "1", site=site)
    hit = json.loads(found.stdout)[0]
    assert hit["path"] == str(folder / "rye.recipe") and hit["heading"] == ["Rye bread"]
    assert hit["line_start"] <= 3 <= hit["line_end"] and "Knead the dough" in hit["text"]  # the step's own line


ASK_SCRIPT = """
import json, sys
from ragd.daemon import config
from ragd.daemon.container import Container
from tests.fakes import ScriptedLLM
c = Container(config.load(dict(__import__("os").environ)), readonly=True,
              llm_override=ScriptedLLM("Knead the dough for ten minutes, then let it rise overnight [1]."))
answer = c.asker.ask(sys.argv[1])
print(json.dumps(answer.to_json()))
c.close()
"""


def test_an_installed_connector_indexes_its_items_and_its_citations_are_checked_through_read(
        site: Path, tmp_path: Path) -> None:
    box = tmp_path / "box.json"
    box.write_text(json.dumps({"rye bread": RECIPE, "torn": "no title here\n",
                               "pancakes": "Title: Pancakes\nStep 1: Whisk eggs, milk and flour.\n"}), "utf-8")
    source = f"recipebox://{box}"
    home = tmp_path / "home"
    stats = json.loads(_ragd(home, "index", source, "--json", site=site).stdout)
    assert (stats["files_indexed"], stats["files_failed"]) == (2, 1)
    assert stats["failures"][0] == {"path": f"{source}/torn", "status": "failed",
                                    "reason": "not a recipe card: the first line must be 'Title: ...'"}
    found = _ragd(home, "search", "how long to knead the rye dough", "--json", "-k", "1", site=site)
    hit = json.loads(found.stdout)[0]
    assert hit["path"] == f"{source}/rye%20bread" and hit["heading"] == ["Rye bread"]
    assert hit["line_start"] <= 3 <= hit["line_end"]
    env = ragd_env(home, RAGD_NO_DAEMON="1", PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    asked = subprocess.run([sys.executable, "-c", ASK_SCRIPT, "How long is the rye dough kneaded?"], env=env,
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    answer = json.loads(asked.stdout)
    assert answer["grounded"] is True, asked.stderr[-2000:]
    assert [(c["path"], c["line_start"]) for c in answer["citations"]] == [(f"{source}/rye%20bread", 3)]
    box.write_text(json.dumps({"rye bread": RECIPE.replace("ten minutes", "a quarter of an hour")}), "utf-8")
    stale = json.loads(subprocess.run([sys.executable, "-c", ASK_SCRIPT, "How long is the rye dough kneaded?"],
                                      env=env, capture_output=True, text=True, timeout=300, cwd=REPO).stdout)
    assert stale["citations"] == []  # the quote is read again through the connector: no longer there


def test_without_the_extension_the_same_files_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "kitchen"
    folder.mkdir()
    (folder / "rye.recipe").write_text(RECIPE, encoding="utf-8")
    stats = json.loads(_ragd(tmp_path / "home", "index", str(folder), "--json").stdout)
    assert (stats["files_indexed"], stats["files_skipped"]) == (0, 1)


def test_ragds_own_implementations_are_entry_points_too() -> None:
    assert {".md", ".pdf", ".docx", ".eml", ".mbox"} <= set(registered_suffixes())
    assert {"use+minilm", "minilm", "e5-small"} <= set(embed.available())
    assert {"chroma", "chroma-http"} <= set(vectors.STORES.names())
    assert {"llama-cpp", "openai"} <= set(llm.BACKENDS.names())
    with pytest.raises(ConfigError, match="unknown embedding model 'nope'; choose one of"):
        embed.create("nope")


def test_an_extension_that_cannot_load_is_left_out_and_named_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    broken = EntryPoint("broken", "ragd_no_such_module:Parser", PARSERS)
    registry: Registry[object] = Registry(PARSERS, "parser")
    registry._points = {"broken": broken}  # as if a distribution declared it
    assert registry.all() == {}
    with pytest.raises(ConfigError, match=r"the parser 'broken' \(.*\) cannot be loaded: ModuleNotFoundError"):
        registry.get("broken")
