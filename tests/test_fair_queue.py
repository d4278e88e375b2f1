"""The sign-in wait queue is shared round-robin between network groups, and when it is full a newcomer from a
smaller group takes the place of the newest waiter of the largest one; the groups come from client addresses."""

from __future__ import annotations

import pytest

from web.accounts.fair_queue import FairQueue, QueueFull
from web.accounts.networks import client_key, network_path


def test_a_group_with_one_waiter_is_served_after_one_waiter_of_each_other_group() -> None:
    queue: FairQueue[str] = FairQueue(limit=10)
    for i in range(5):
        queue.push(("A", f"a{i}"), f"flood{i}")
    queue.push(("B", "b"), "user")
    assert [queue.pop() for _ in range(3)] == ["flood0", "user", "flood1"]
    assert len(queue) == 3


def test_subgroups_share_their_group_round_robin() -> None:
    queue: FairQueue[str] = FairQueue(limit=10)
    for item in ("x1", "x2", "x3"):
        queue.push(("A", "x"), item)
    queue.push(("A", "y"), "y1")
    queue.push(("B", "z"), "z1")
    assert [queue.pop() for _ in range(5)] == ["x1", "z1", "y1", "x2", "x3"]


def test_when_full_a_smaller_group_takes_the_place_of_the_largest_groups_newest() -> None:
    queue: FairQueue[str] = FairQueue(limit=4)
    for i in range(3):
        queue.push(("A", f"a{i}"), f"a{i}")
    queue.push(("C", "c"), "c0")
    assert not queue.can_admit(("A", "a9"))
    with pytest.raises(QueueFull):  # the largest group only competes with itself
        queue.push(("A", "a9"), "a9")
    assert queue.can_admit(("B", "b"))
    assert queue.push(("B", "b"), "user") == "a2"
    assert len(queue) == 4
    assert sorted(queue.pop() for _ in range(4)) == ["a0", "a1", "c0", "user"]


def test_within_the_largest_group_a_new_subgroup_takes_a_place_from_the_largest_subgroup() -> None:
    queue: FairQueue[str] = FairQueue(limit=3)
    for item in ("x1", "x2", "x3"):
        queue.push(("A", "x"), item)
    assert queue.push(("A", "y"), "y1") == "x3"
    with pytest.raises(QueueFull):
        queue.push(("A", "x"), "x4")


def test_equal_groups_refuse_a_newcomer_and_a_removed_waiter_frees_its_place() -> None:
    queue: FairQueue[str] = FairQueue(limit=2)
    queue.push(("A", "a"), "a")
    queue.push(("B", "b"), "b")
    with pytest.raises(QueueFull):  # taking a place would not be fairer
        queue.push(("C", "c"), "c")
    assert queue.remove(("A", "a"), "a") and not queue.remove(("A", "a"), "a")
    queue.push(("C", "c"), "c")
    assert [queue.pop(), queue.pop()] == ["b", "c"]
    with pytest.raises(IndexError):
        queue.pop()


def test_networks_are_named_widest_first_and_an_ipv6_client_is_its_64() -> None:
    assert network_path("198.18.3.4") == ("198.18.0.0/16", "198.18.3.0/24", "198.18.3.4/32")
    assert network_path("2001:db8:1:2::7") == ("2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64")
    assert network_path("::ffff:10.1.2.3") == network_path("10.1.2.3")
    assert client_key("2001:db8:1:2::7") == client_key("2001:db8:1:2:ffff::1")
    assert network_path("unknown") == ("other",)
