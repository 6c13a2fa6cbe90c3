"""Conversations: an id that ties questions together, and their earlier turns.

The turns are read from the history, where each answer is kept with its conversation's id (so the history's
retention applies to conversations too). With the history off, a process keeps its recent conversations in
memory only, and forgets them when it stops.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

from ragd.index.answer.followup import Turn
from ragd.index.answer.history import History, HistorySettings
from ragd.index.answer.models import Answer
from ragd.index.errors import RagdError

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TURNS_KEPT = 8  # earlier turns a question is given
MEMORY_CONVERSATIONS = 64  # conversations held in memory when the history is off


class ConversationError(RagdError):
    """A conversation id that is not one (letters, digits, '-' and '_', at most 64)."""


def new_conversation_id() -> str:
    return secrets.token_hex(6)


def checked_id(conversation: str) -> str:
    if not CONVERSATION_ID.match(conversation):
        raise ConversationError(f"not a conversation id: {conversation!r} (letters, digits, '-' and '_', at most 64)")
    return conversation


class Conversations:
    def __init__(self, history_path: Path, settings: HistorySettings) -> None:
        self.history_path = history_path
        self.settings = settings
        self._memory: OrderedDict[str, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    def turns(self, conversation: str) -> tuple[Turn, ...]:
        """The conversation's latest turns, oldest first (none for a new one)."""
        checked_id(conversation)
        if self.settings.enabled:
            with History(self.history_path, readonly=True) as history:
                return tuple(e.turn() for e in history.conversation(conversation, TURNS_KEPT))
        with self._lock:
            return tuple(self._memory.get(conversation, ())[-TURNS_KEPT:])

    def answered(self, answer: Answer) -> None:
        """Keep the answer's turn in memory (with the history on, ``remember`` keeps it there)."""
        if answer.conversation is None or self.settings.enabled:
            return
        with self._lock:
            turns = self._memory.pop(answer.conversation, [])
            turns.append(Turn(answer.question, answer.answer, answer.searched or answer.question))
            self._memory[answer.conversation] = turns[-TURNS_KEPT:]
            while len(self._memory) > MEMORY_CONVERSATIONS:
                self._memory.popitem(last=False)
