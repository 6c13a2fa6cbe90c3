"""The local history of questions and answers, and `ragd history`."""

import json
import time
from datetime import datetime

import click
import pytest
from click.testing import CliRunner

from ragd.daemon import config as config_mod
from ragd.daemon.cli.history import history_cmd
from ragd.index.answer.history import History, HistoryError, HistorySettings, remember
from ragd.index.answer.models import Answer, Citation
from ragd.index.store.sqlite import connect

DAY = 86400.0


def _answer(question="What is the refund window?", text="Refunds are accepted within 30 days [1].",
            grounded=True):
    return Answer(
        question=question, answer=text, grounded=grounded, model="smollm2-135m",
        citations=[
            Citation(n=1, path="/docs/policy.pdf", page=3, line_start=None, line_end=None,
                     quote="Refunds are accepted within 30 days of purchase."),
            Citation(n=2, path="/docs/faq.md", page=None, line_start=12, line_end=14, quote="See the policy."),
        ],
        timings={"retrieve": 0.0123456, "total": 1.5})


@pytest.fixture
def path(tmp_path):
    return tmp_path / "data" / "history.sqlite"


def test_record_round_trips(path):
    with History(path) as h:
        entry_id = h.record(_answer())
        entry = h.get(entry_id)
    assert entry is not None
    assert (entry.question, entry.answer, entry.grounded, entry.model) == (
        "What is the refund window?", "Refunds are accepted within 30 days [1].", True, "smollm2-135m")
    assert entry.citations == [c.to_json() for c in _answer().citations]
    assert entry.timings == {"retrieve": 0.0123, "total": 1.5}
    assert abs(entry.time - time.time()) < 60
    data = entry.to_json()
    assert data["id"] == entry_id and data["citations"][1]["line_start"] == 12
    assert datetime.fromisoformat(data["time"]).utcoffset().total_seconds() == 0


def test_recent_is_newest_first_and_limited(path):
    with History(path) as h:
        ids = [h.record(_answer(question=f"q{i}"), at=1000.0 + i) for i in range(5)]
        assert [e.id for e in h.recent()] == ids[::-1]
        assert [e.question for e in h.recent(limit=2)] == ["q4", "q3"]
        assert h.recent(limit=0) == []


def test_search_question_or_answer_any_case_and_japanese(path):
    with History(path) as h:
        h.record(_answer(question="What is the REFUND window?", text="30 days."))
        h.record(_answer(question="返金の期限は？", text="購入から30日以内です。"))
        h.record(_answer(question="Who wrote it?", text="Alice wrote the refund policy."))
        h.record(_answer(question="100% sure?", text="Yes."))
        assert {e.question for e in h.recent(search="refund")} == {"What is the REFUND window?", "Who wrote it?"}
        assert [e.question for e in h.recent(search="返金")] == ["返金の期限は？"]
        assert [e.question for e in h.recent(search="30日以内")] == ["返金の期限は？"]
        assert [e.question for e in h.recent(search="ＲＥＦＵＮＤ window")] == ["What is the REFUND window?"]
        assert [e.question for e in h.recent(search="0%")] == ["100% sure?"]  # no LIKE wildcards
        assert h.recent(search="_") == []
        assert h.recent(search="nothing like this") == []


def test_get_delete_clear(path):
    with History(path) as h:
        a, b, c = (h.record(_answer(question=q)) for q in ("a", "b", "c"))
        assert h.get(b).question == "b"
        assert h.delete(b) is True
        assert h.get(b) is None and h.delete(b) is False
        assert [e.id for e in h.recent()] == [c, a]
        assert h.clear() == 2
        assert h.recent() == [] and h.count() == 0
        assert h.record(_answer()) > c  # ids are never reused


def test_prune_with_a_fake_now(path):
    now = 10_000_000.0
    with History(path) as h:
        old = h.record(_answer(question="old"), at=now - 40 * DAY)
        mid = h.record(_answer(question="mid"), at=now - 10 * DAY)
        new = h.record(_answer(question="new"), at=now - 60)
        assert h.prune(0, now=now) == 0  # 0 = keep forever
        assert h.prune(30, now=now) == 1
        assert h.get(old) is None and h.get(mid) is not None
        assert h.prune(0.5, now=now) == 1
        assert [e.id for e in h.recent()] == [new]


def test_missing_file_reads_empty_and_is_not_created(path):
    for readonly in (True, False):
        with History(path, readonly=readonly) as h:
            assert h.recent() == [] and h.get(1) is None and h.count() == 0
            if not readonly:
                assert h.delete(1) is False and h.clear() == 0 and h.prune(1) == 0
    assert not path.exists() and not path.parent.exists()


def test_readonly_history_refuses_writes(path):
    History(path).record(_answer())
    with History(path, readonly=True) as h:
        with pytest.raises(HistoryError, match="read-only"):
            h.record(_answer())
        with pytest.raises(HistoryError):
            h.clear()
        assert h.count() == 1


def test_reader_works_while_a_writer_holds_the_file(path):
    writer = History(path)
    writer.record(_answer(question="committed"))
    raw = connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.execute("BEGIN EXCLUSIVE")  # in WAL mode readers still go ahead
        raw.execute("INSERT INTO history (time, question, answer, grounded) VALUES (?, 'pending', '', 0)",
                    (time.time(),))
        started = time.monotonic()
        with History(path, readonly=True) as reader:
            assert [e.question for e in reader.recent()] == ["committed"]
            assert time.monotonic() - started < 5  # not waiting on the writer's busy timeout
            raw.commit()
            assert [e.question for e in reader.recent()] == ["pending", "committed"]
    finally:
        raw.close()
        writer.close()
    # after every writer has closed, a read-only reader still opens the WAL file
    with History(path, readonly=True) as reader:
        assert reader.count() == 2


def test_remember_respects_settings(path):
    assert remember(_answer(), path, HistorySettings(enabled=False)) is None
    assert not path.exists()
    entry_id = remember(_answer(), path, HistorySettings(retention_days=1))
    assert entry_id is not None
    with History(path, readonly=True) as h:
        assert [e.id for e in h.recent()] == [entry_id]


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.delenv("RAGD_HISTORY", raising=False)
    cfg = config_mod.load({"RAGD_HOME": str(tmp_path)})
    grp = click.Group()
    grp.add_command(history_cmd)
    runner = CliRunner()

    def invoke(*args, **kw):
        return runner.invoke(grp, ["history", *args], obj=cfg, **kw)

    return cfg, invoke


def _fill(cfg):
    with History(cfg.data_dir / "history.sqlite") as h:
        first = h.record(_answer(), at=time.time() - 60)
        second = h.record(_answer(question="返金の期限は？", text="購入から30日以内です。" * 40, grounded=False))
    return first, second


def test_cli_lists_json(cli):
    cfg, invoke = cli
    first, second = _fill(cfg)
    result = invoke("--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["id"] for d in data] == [second, first]
    assert data[0]["question"] == "返金の期限は？" and data[0]["grounded"] is False
    assert data[1]["citations"] == [c.to_json() for c in _answer().citations]
    assert data[1]["answer"] == _answer().answer
    assert [d["id"] for d in json.loads(invoke("--json", "-n", "1").output)] == [second]
    assert [d["id"] for d in json.loads(invoke("--json", "--search", "refund").output)] == [first]


def test_cli_lists_human(cli):
    cfg, invoke = cli
    _fill(cfg)
    result = invoke()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "What is the refund window?" in out and "返金の期限は？" in out
    assert "Refunds are accepted within 30 days [1]." in out
    assert "/docs/policy.pdf (p. 3), /docs/faq.md (lines 12-14)" in out
    long_line = next(line for line in out.splitlines() if "購入から" in line)
    assert len(long_line.strip()) == 201 and long_line.endswith("…")  # first 200 chars
    assert out.index("返金の期限は？") < out.index("What is the refund window?")  # newest first


def test_cli_empty_and_off(cli, monkeypatch):
    cfg, invoke = cli
    result = invoke()
    assert result.exit_code == 0 and "no history yet" in result.output
    assert json.loads(invoke("--json").output) == []
    assert not (cfg.data_dir / "history.sqlite").exists()
    _fill(cfg)
    env_off = config_mod.load({"RAGD_HOME": str(cfg.config_file.parent), "RAGD_HISTORY": "off"})
    grp = click.Group()
    grp.add_command(history_cmd)
    result = CliRunner().invoke(grp, ["history"], obj=env_off)
    assert result.exit_code == 0
    assert result.output.strip() == "history is off (set [history] enabled = true)"
    (cfg.config_file).write_text("[history]\nenabled = false\n")
    off_cfg = config_mod.load({"RAGD_HOME": str(cfg.config_file.parent)})
    grp = click.Group()
    grp.add_command(history_cmd)
    result = CliRunner().invoke(grp, ["history"], obj=off_cfg)
    assert result.exit_code == 0 and "history is off" in result.output and "refund" not in result.output


def test_cli_show(cli):
    cfg, invoke = cli
    first, _ = _fill(cfg)
    result = invoke("show", str(first))
    assert result.exit_code == 0, result.output
    assert "Q: What is the refund window?" in result.output
    assert "Refunds are accepted within 30 days [1]." in result.output
    assert "[1] /docs/policy.pdf (p. 3)" in result.output
    assert "Refunds are accepted within 30 days of purchase." in result.output
    assert "[2] /docs/faq.md (lines 12-14)" in result.output
    data = json.loads(invoke("show", str(first), "--json").output)
    assert data["id"] == first and data["citations"][0]["quote"] == "Refunds are accepted within 30 days of purchase."
    missing = invoke("show", "999")
    assert missing.exit_code != 0
    assert isinstance(missing.exception, HistoryError) and str(missing.exception) == "no history entry 999"


def test_cli_delete_and_clear(cli):
    cfg, invoke = cli
    first, second = _fill(cfg)
    result = invoke("delete", str(first))
    assert result.exit_code == 0 and f"deleted history entry {first}" in result.output
    assert [d["id"] for d in json.loads(invoke("--json").output)] == [second]
    missing = invoke("delete", str(first))
    assert isinstance(missing.exception, HistoryError) and str(missing.exception) == f"no history entry {first}"
    declined = invoke("clear", input="n\n")
    assert declined.exit_code == 1 and "delete all 1 history entries?" in declined.output
    assert len(json.loads(invoke("--json").output)) == 1
    confirmed = invoke("clear", input="y\n")
    assert confirmed.exit_code == 0 and "removed 1 history entry" in confirmed.output
    _fill(cfg)
    result = invoke("clear", "--yes")
    assert result.exit_code == 0 and result.output.strip() == "removed 2 history entries"
    assert json.loads(invoke("--json").output) == []
