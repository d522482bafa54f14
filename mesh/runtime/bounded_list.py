"""A list of rejections an answer carries, bounded in bytes: the first ones listed one by one,
the rest counted per key (audit R7-F6). Ingestion's ack (``ingestion_svc.rejection_list``)
and memory's Write answers (``memory_svc.refusals``) both bound theirs with it.

Items are added in order (:meth:`BoundedList.add`); all are listed while their sizes add up
to at most ``budget`` bytes. Once they pass it, only the first ones within ``budget - room``
stay listed (``room`` is kept for the summaries) and every later item is counted in a
:class:`Group` per key — at most ``max_groups`` keys, beyond them ``overflow(item)`` — with
its first and last item and how many. The result is what a pure function of the whole
sequence would give, while holding at most ``budget`` bytes of items however many come
(a Write stream of a million bad records). Pure: no gRPC.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BoundedList", "Group"]

T = TypeVar("T")


@dataclass(slots=True)
class Group(Generic[T]):
    """Items of one key counted instead of listed: the first, the last and how many."""

    key: Hashable
    first: T
    last: T
    count: int


class BoundedList(Generic[T]):
    """Items listed while they fit ``budget`` bytes (``size(item)``), the rest grouped by
    ``key(item)`` (past ``max_groups`` keys, by ``overflow(item)``)."""

    def __init__(
        self,
        budget: int,
        room: int,
        max_groups: int,
        size: Callable[[T], int],
        key: Callable[[T], Hashable],
        overflow: Callable[[T], Hashable],
    ) -> None:
        self._budget = budget
        self._room = room
        self._max_groups = max_groups
        self._size = size
        self._key = key
        self._overflow = overflow
        self.listed: list[T] = []
        self._sizes: list[int] = []
        self._bytes = 0
        self._groups: dict[Hashable, Group[T]] = {}
        self._full = False  # past the budget once: later items are only counted

    def add(self, item: T) -> None:
        if self._full:
            self._count(item)
            return
        n = self._size(item)
        self.listed.append(item)
        self._sizes.append(n)
        self._bytes += n
        if self._bytes > self._budget:
            self._trim()

    def extend(self, items: list[T]) -> None:
        for item in items:
            self.add(item)

    def _trim(self) -> None:
        """Keep the first items within ``budget - room``; count the rest."""
        self._full = True
        left, n = self._budget - self._room, 0
        while n < len(self.listed) and self._sizes[n] <= left:
            left -= self._sizes[n]
            n += 1
        rest = self.listed[n:]
        del self.listed[n:]
        self._sizes = []  # no longer needed: nothing more is listed
        for item in rest:
            self._count(item)

    def _count(self, item: T) -> None:
        key = self._key(item)
        if key not in self._groups and len(self._groups) >= self._max_groups:
            key = self._overflow(item)
        g = self._groups.get(key)
        if g is None:
            self._groups[key] = Group(key, item, item, 1)
        else:
            g.count += 1
            g.last = item

    @property
    def groups(self) -> list[Group[T]]:
        """The counted items' groups, in the order their keys first came."""
        return list(self._groups.values())

    @property
    def unlisted(self) -> int:
        return sum(g.count for g in self._groups.values())
