"""The IMAP connector against a real Dovecot on loopback: listing, reading, polling, indexing through the CLI and
the daemon, citations checked by fetching the message again, and a server that goes away."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragd.connectors import SourceContext, kind_of, open_source
from ragd.connectors.imap import ImapConnector, password_for
from ragd.daemon import config as config_mod
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from ragd.index.errors import ConfigError, SourceError, SourceUnavailable
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.helpers import ragd
from tests.imap_server import PASSWORD, ImapServer, dovecot
from tests.inprocess import serving, settle, wait_until

pytestmark = pytest.mark.timeout(300)

HOTEL = ("Dear Alice,\n\nYour room at the Harbour Hotel is booked for the 14th of March.\n"
         "The rate is 120 euros a night.\n")
GARDEN = "Hi,\n\nThe beans went in on the second of May, two rows beside the shed.\n"


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    with dovecot() as s:
        yield s


def connector(server: ImapServer, mailbox: str, password: str | None = PASSWORD, poll_s: float = 60.0) -> ImapConnector:
    return ImapConnector(server.source(mailbox), lambda: password, poll_s=poll_s, timeout_s=10)


def test_a_mailbox_lists_its_messages_and_reads_them_again(server: ImapServer) -> None:
    server.create("Travel")
    uid = server.append("Booking confirmed", HOTEL, "Travel")
    c = connector(server, "Travel")
    try:
        [entry] = list(c.scan())
        assert re.fullmatch(rf"{re.escape(server.source('Travel'))}/;UIDVALIDITY=\d+/;UID={uid}", entry.path)
        assert entry.media_type == "message/rfc822" and entry.fingerprint and entry.size > len(HOTEL)
        assert c.covers(entry.path) and not c.covers(server.source("Travel2") + f"/;UIDVALIDITY=1/;UID={uid}")
        assert c.entry(entry.path) == entry
        assert b"Harbour Hotel" in c.read(entry.path)
        assert c.changed() is True  # the first poll: the start's scan may have missed something
        assert c.changed() is False
        second = server.append("Dinner", "A table for two at eight.\n", "Travel")
        assert c.changed() is True
        server.delete(uid, "Travel")
        assert c.entry(entry.path) is None
        with pytest.raises(OSError, match="no longer in its mailbox"):
            c.read(entry.path)
        assert [e.path.rsplit("=", 1)[1] for e in c.scan()] == [str(second)]
    finally:
        c.close()


def test_no_password_a_wrong_one_or_one_in_the_source_is_a_clear_error(server: ImapServer) -> None:
    with pytest.raises(SourceUnavailable, match=r"no password for alice@127\.0\.0\.1: store it in the keyring"):
        list(connector(server, "INBOX", password=None).scan())
    with pytest.raises(SourceUnavailable, match=r"AUTHENTICATIONFAILED|Authentication failed"):
        list(connector(server, "INBOX", password="wrong").scan())
    with pytest.raises(SourceError, match="no mailbox 'Nowhere'"):
        connector(server, "Nowhere").probe()
    with pytest.raises(ConfigError, match="must not hold its password"):
        ImapConnector(f"imap://alice:{PASSWORD}@127.0.0.1:{server.port}/INBOX", lambda: None)
    assert kind_of(server.source()) == "imap" and kind_of("/home/me/notes") == "files"
    with pytest.raises(ConfigError, match=r"no connector reads gopher:// sources \(installed: .*imap"):
        kind_of("gopher://example.org/")


def test_the_password_comes_from_the_keyring_before_the_environment(server: ImapServer, tmp_path: Path) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):  # the keyring library's own seam: a back-end held in memory
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.kept: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.kept.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.kept[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.kept.pop((service, username), None)

    before = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        assert password_for("alice", "127.0.0.1", {"RAGD_IMAP_PASSWORD": "from env"}) == "from env"
        keyring.set_password("ragd", "alice@127.0.0.1", PASSWORD)
        env = {"RAGD_IMAP_PASSWORD": "wrong"}
        c = open_source(server.source(), SourceContext(config_mod.load({"RAGD_HOME": str(tmp_path)}), env))
        c.probe()  # logged in with the keyring's password, not the variable's
        c.close()
    finally:
        keyring.set_keyring(before)


def test_the_cli_indexes_a_mailbox_and_cites_folder_uid_subject_and_lines(server: ImapServer, tmp_path: Path) -> None:
    server.create("Receipts")
    uid = server.append("Booking confirmed", HOTEL, "Receipts")
    home = tmp_path / "home"
    env = {"RAGD_IMAP_PASSWORD": PASSWORD}
    stats = json.loads(ragd(home, "index", server.source("Receipts"), "--json", **env).stdout)
    assert (stats["files_indexed"], stats["files_failed"]) == (1, 0)
    sources = json.loads(ragd(home, "sources", "--json", **env).stdout)
    assert [s["path"] for s in sources] == [server.source("Receipts")]
    hit = json.loads(ragd(home, "search", "how much is the hotel room a night", "--json", "-k", "1", **env).stdout)[0]
    assert hit["path"].startswith(server.source("Receipts") + "/;UIDVALIDITY=") and hit["path"].endswith(f";UID={uid}")
    assert hit["title"] == "Booking confirmed" and hit["line_start"] and "120 euros" in hit["text"]
    shown = ragd(home, "search", "how much is the hotel room a night", "-k", "1", **env).stdout
    assert '/Receipts/;UIDVALIDITY=' in shown and f';UID={uid} "Booking confirmed" (line' in shown
    again = json.loads(ragd(home, "index", "--json", **env).stdout)  # nothing changed: nothing fetched
    assert (again["files_unchanged"], again["files_indexed"]) == (1, 0)
    refused = ragd(home, "index", server.source("Nowhere"), check=False, **env)
    assert refused.returncode == 1 and "no mailbox 'Nowhere'" in refused.stderr


def test_the_daemon_polls_a_mailbox_and_checks_citations_by_fetching_again(server: ImapServer, tmp_path: Path) -> None:
    server.create("Garden")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home"), "RAGD_MAIL_POLL_S": "0.3"})
    llm = ScriptedLLM("The beans went in on the second of May [1].")
    runtime = Runtime(config, {"RAGD_IMAP_PASSWORD": PASSWORD},
                      settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0), embedder=HashingEmbedder(),
                      vectors=MemoryVectors(), llm=llm)
    with serving(runtime) as client:
        added = client.post("/v1/sources", json={"path": server.source("Garden")})
        assert added.status_code in (200, 201, 202), added.text
        assert settle(client)["sources"] == [server.source("Garden")]
        uid = server.append("Beans", GARDEN, "Garden")

        def found() -> list[str]:
            hits = client.post("/v1/search", json={"query": "when did the beans go in", "mode": "lexical"}).json()
            return [h["path"] for h in hits["hits"]]

        wait_until(lambda: any(p.endswith(f";UID={uid}") for p in found()), timeout=30, what="the new message")
        question = "When did the two rows of beans go in beside the shed?"
        answer = client.post("/v1/ask", json={"question": question}).json()
        [cited] = answer["citations"]  # a citation is kept only once its quote is found in the message fetched anew
        assert answer["grounded"] is True and cited["path"].endswith(f";UID={uid}")
        assert "second of May" in cited["quote"] and cited["line_start"] > 5  # the body's line, past the headers
        verifier = runtime.reads.verifier if runtime.reads is not None else None
        assert verifier is not None and verifier.documents(cited["path"])[0].title == "Beans"
        server.delete(uid, "Garden")  # gone from the server: its citation no longer checks, and it leaves the index
        assert verifier.documents(cited["path"]) == []
        wait_until(lambda: not found(), timeout=30, what="the deleted message to leave the index")
        bad = client.post("/v1/sources", json={"path": f"imap://alice:{PASSWORD}@127.0.0.1:{server.port}/Garden"})
        assert bad.status_code == 400 and "must not hold its password" in bad.json()["error"]["message"]


def test_a_server_that_goes_away_keeps_what_was_indexed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RAGD_IMAP_PASSWORD": PASSWORD}
    with dovecot() as gone:
        gone.append("Booking confirmed", HOTEL)
        assert json.loads(ragd(home, "index", gone.source(), "--json", **env).stdout)["files_indexed"] == 1
        source = gone.source()
    run = json.loads(ragd(home, "index", "--json", **env).stdout)  # the server is down now
    assert (run["files_removed"], run["files_indexed"]) == (0, 0)
    hits = json.loads(ragd(home, "search", "hotel rate a night", "--json", "-k", "1", **env).stdout)
    assert hits and hits[0]["path"].startswith(source)
    context = SourceContext(config_mod.load({"RAGD_HOME": str(home)}), env)
    with pytest.raises(SourceError, match=r"[Cc]onnection refused"):
        open_source(source, context).probe()
