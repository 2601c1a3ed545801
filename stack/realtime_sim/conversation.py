"""The conversation of one session: its items in order and the user turns not yet answered.

Shared by the session (which adds, deletes and truncates items for the client) and the
response producer (which answers the pending turns and adds the assistant's item).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class UserTurn:
    """A user turn not yet answered: the next response echoes its audio and repeats its text."""

    item_id: str
    audio: bytes = b""
    text: str = ""


class Conversation:
    """Items in conversation order, pending user turns, and the audio sent for each assistant item."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self._items: dict[str, dict[str, Any]] = {}  # insertion order is conversation order
        self._assistant_audio: dict[str, int] = {}  # item id -> bytes of audio sent (after truncation)
        self._pending: list[UserTurn] = []

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def last_item_id(self) -> str | None:
        return next(reversed(self._items), None)

    def add(self, item: dict[str, Any], turn: UserTurn | None = None) -> str | None:
        """Append ``item`` (and its turn, if it awaits an answer); returns the id of the item before it."""
        previous = self.last_item_id()
        self._items[item["id"]] = item
        if turn is not None:
            self._pending.append(turn)
        return previous

    def replace(self, item: dict[str, Any]) -> None:
        """Store the final state of an item, unless the client deleted it meanwhile."""
        if item["id"] in self._items:
            self._items[item["id"]] = item

    def delete(self, item_id: str) -> None:
        del self._items[item_id]
        self._assistant_audio.pop(item_id, None)
        self._pending = [turn for turn in self._pending if turn.item_id != item_id]

    def take_pending(self) -> list[UserTurn]:
        """The turns a response is about to answer; they are no longer pending."""
        turns, self._pending = self._pending, []
        return turns

    def assistant_audio(self, item_id: str) -> int | None:
        """Bytes of audio an assistant item has, or ``None`` if it is not an assistant audio item."""
        return self._assistant_audio.get(item_id)

    def set_assistant_audio(self, item_id: str, byte_count: int) -> None:
        self._assistant_audio[item_id] = byte_count
