"""A read-only sequence of export lines rendered on access, so that a world's exports never sit
in memory as millions of dicts at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

__all__ = ["LazyLines"]


class LazyLines(Sequence):  # type: ignore[type-arg]
    """Index handling shared by the lazy exports; a subclass says how many lines it holds
    (``__len__``) and renders line ``k`` (``line``)."""

    __slots__ = ()

    def line(self, k: int) -> dict[str, Any] | str:
        raise NotImplementedError

    @overload
    def __getitem__(self, k: int) -> dict[str, Any] | str: ...
    @overload
    def __getitem__(self, k: slice) -> list[dict[str, Any] | str]: ...

    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, slice):
            return [self.line(j) for j in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.line(k)

    def __iter__(self) -> Iterator[dict[str, Any] | str]:
        for k in range(len(self)):
            yield self.line(k)
