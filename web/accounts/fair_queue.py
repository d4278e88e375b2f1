"""A bounded wait queue shared fairly across a hierarchy of keys (for sign-ins: network prefixes, widest first).

Served round-robin at every level, so a group with one waiter is reached after at most one waiter of each other
group at its level, however many the others hold. When the queue is full, a newcomer whose group is smaller than the
largest takes the place of the newest waiter of the largest group ("longest queue drop", as fair-queuing routers
do); a newcomer from the largest group is refused. A source that sends more therefore only competes with itself.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")
Path = tuple[str, ...]


class _Node(Generic[T]):
    """Either a leaf holding waiters in arrival order, or groups of subgroups in service order."""

    __slots__ = ("children", "count", "items")

    def __init__(self) -> None:
        self.children: dict[str, _Node[T]] = {}  # the group to serve next comes first
        self.items: deque[T] = deque()
        self.count = 0  # waiters here and below

    def push(self, path: Path, item: T) -> None:
        self.count += 1
        if path:
            self.children.setdefault(path[0], _Node()).push(path[1:], item)
        else:
            self.items.append(item)

    def pop(self) -> T:
        self.count -= 1
        if not self.children:
            return self.items.popleft()
        key, child = next(iter(self.children.items()))
        item = child.pop()
        del self.children[key]
        if child.count:
            self.children[key] = child  # to the back of the round
        return item

    def drop_newest(self, prefix: Path) -> T:
        """Take the newest waiter below `prefix`, then below the largest group at each level further down."""
        self.count -= 1
        if not self.children:
            return self.items.pop()
        key = prefix[0] if prefix else self._largest()
        child = self.children[key]
        item = child.drop_newest(prefix[1:])
        if not child.count:
            del self.children[key]
        return item

    def remove(self, path: Path, item: T) -> bool:
        if path:
            child = self.children.get(path[0])
            if child is None or not child.remove(path[1:], item):
                return False
            if not child.count:
                del self.children[path[0]]
        else:
            try:
                self.items.remove(item)
            except ValueError:
                return False
        self.count -= 1
        return True

    def _largest(self) -> str:
        """The group with the most waiters; of equals, the one last in the round (it would be served last)."""
        return max(reversed(self.children), key=lambda k: self.children[k].count)

    def victim(self, path: Path) -> Path | None:
        """Where a newcomer at `path` may take a place (a group prefix), or None: it would not be fairer."""
        if not path or not self.children:
            return None
        largest_key = self._largest()
        largest = self.children[largest_key].count
        own = self.children.get(path[0])
        if own is not None and own.count == largest:  # the newcomer is in a largest group: fairness within it
            inner = own.victim(path[1:])
            return None if inner is None else (path[0], *inner)
        return (largest_key,) if (own.count if own else 0) + 1 < largest else None


class FairQueue(Generic[T]):
    """Every path must have the same meaning per level and none may be a prefix of another (waiters sit at leaves)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._root: _Node[T] = _Node()

    def __len__(self) -> int:
        return self._root.count

    def can_admit(self, path: Path) -> bool:
        return len(self) < self.limit or self._root.victim(path or ("",)) is not None

    def push(self, path: Path, item: T) -> T | None:
        """Queue `item`; returns the waiter it displaced, if any. QueueFull when it may not take anyone's place."""
        path = path or ("",)
        if len(self) < self.limit:
            self._root.push(path, item)
            return None
        prefix = self._root.victim(path)
        if prefix is None:
            raise QueueFull
        displaced = self._root.drop_newest(prefix)
        self._root.push(path, item)
        return displaced

    def pop(self) -> T:
        """The next waiter in round-robin order; IndexError when empty."""
        if not len(self):
            raise IndexError("pop from an empty FairQueue")
        return self._root.pop()

    def remove(self, path: Path, item: T) -> bool:
        return self._root.remove(path or ("",), item)


class QueueFull(Exception):
    pass
