"""The fault matrix's shared parts: one real fault per case (an upstream mode of the fake, an unreachable
endpoint, …) and the assertions every surface must meet: the owning row fails (or warns) naming the cause; no other
row fails or blames something else; every row ends with a verdict; the summary names the first cause."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.fake_realtime import FakeOptions
from tests.fake_realtime.faults import FaultyRealtimeServer
from tests.support import free_port

VERDICTS = {"pass", "warn", "fail", "skip"}


@dataclass(frozen=True)
class Fault:
    name: str
    owner: str  # the row that owns the cause
    needles: tuple[str, ...]  # each must appear in the owner's value or fixes
    status: str = "fail"
    options: Mapping[str, Any] = field(default_factory=dict)  # FakeOptions fields
    mode: str = "azure"  # azure | azure-preview
    unknown_deployment: bool = False
    refuse_beta_shape: bool = False
    unreachable: bool = False
    deployment: str = ""  # the deployment the app asks for ("" = the fake's own)
    page_needles: tuple[str, ...] | None = None  # on the zh-CN page, where English prose differs (None: needles)
    also: tuple[str, ...] = ()  # rows that may fail too, naming the same cause (needles in their text)

    @property
    def on_page(self) -> tuple[str, ...]:
        return self.needles if self.page_needles is None else self.page_needles


UPSTREAM_FAULTS = (
    Fault("rejected key", "upstream", ("key_rejected", "AZURE_OPENAI_REALTIME_API_KEY"),
          options={"reject_status": 401}),
    Fault("unknown deployment", "upstream", ("deployment_not_found", "AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME",
                                             "'gpt-realtim'"), unknown_deployment=True, deployment="gpt-realtim"),
    Fault("unreachable endpoint", "upstream", ("unreachable",), unreachable=True),
    Fault("refused protocol shape", "upstream", ("beta_api_shape_disabled", "AZURE_OPENAI_REALTIME_API_VERSION"),
          mode="azure-preview", refuse_beta_shape=True),
    Fault("throttled", "upstream", ("throttled", "429"), options={"reject_status": 429}),
    Fault("stall after session.created", "upstream", ("does not answer",), options={"stall_after_s": 0.0},
          page_needles=("没有应答",)),
    Fault("close mid-call (1011)", "echo", ("upstream_closed", "1011"),
          options={"close_after_s": 0.5, "first_audio_delay_s": 3.0}),
    Fault("slow first audio", "echo", ("reply heard after",), status="warn", options={"first_audio_delay_s": 2.5},
          page_needles=("听到回复",)),
)


@asynccontextmanager
async def upstream(fault: Fault) -> AsyncIterator[dict[str, Any]]:
    """The fake set up for `fault`; yields the settings overrides pointing the app at it."""
    async with FaultyRealtimeServer(FakeOptions(**fault.options), unknown_deployment=fault.unknown_deployment,
                                    refuse_beta_shape=fault.refuse_beta_shape) as fake:
        overrides = fake.settings_overrides(fault.mode)
        if fault.unreachable:  # nothing listens there
            overrides["azure_openai_realtime_endpoint"] = f"http://127.0.0.1:{free_port()}"
        if fault.deployment:
            overrides["azure_openai_realtime_deployment_name"] = fault.deployment
        yield overrides


def check_verdicts(fault: Fault, rows: dict[str, dict[str, Any]], summary: str, owner_title: str,
                   needles: tuple[str, ...] | None = None) -> None:
    """`rows`: check id → {status, text (value and fixes), deferred_to}."""
    unfinished = {k: r["status"] for k, r in rows.items() if r["status"] not in VERDICTS}
    assert not unfinished, (fault.name, unfinished)
    owner = rows[fault.owner]
    assert owner["status"] == fault.status, (fault.name, owner)
    needles = fault.needles if needles is None else needles
    for needle in needles:
        assert needle in owner["text"], (fault.name, needle, owner["text"])
    others = {k: r for k, r in rows.items() if k != fault.owner}
    failing = {k: r["text"] for k, r in others.items() if r["status"] == "fail"
               and not (k in fault.also and all(n in r["text"] for n in needles))}
    assert not failing, (fault.name, failing)
    allowed = (None, "", fault.owner, *fault.also)
    blamed = {k: r["deferred_to"] for k, r in others.items() if r.get("deferred_to") not in allowed}
    assert not blamed, (fault.name, blamed)
    if fault.status == "fail":
        assert f"「{owner_title}」" in summary, (fault.name, summary)
