"""The LLM seam: one streaming method per backend; conveniences derive from it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ragd.index.errors import RagdError


class LLMError(RagdError):
    """The model could not be loaded or reached, or it failed while answering."""


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class LLM(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def context_length(self) -> int:
        """Tokens the model can attend to in this configuration (prompt and answer together)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer (an estimate where the backend has none)."""
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """The reply to a chat, piece by piece as the model writes it."""
        ...

    def close(self) -> None: ...

    def unload_if_idle(self, now: float | None = None) -> bool:
        """Let the model's memory go if it has been idle long enough; True if it did (a server holds none)."""
        ...


def complete(llm: LLM, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0) -> str:
    return "".join(llm.stream(messages, max_tokens=max_tokens, temperature=temperature))
