"""What SIGTERM does to a gateway process (web/serve.py calls `drain` before letting uvicorn stop).

1. Stop admitting: new calls get 503 `shutting_down`, `/health/ready` answers 503 `draining`, so the load balancer
   takes the node out while its live calls go on; the directory marks the node as draining.
2. Wait up to `DRAIN_TIMEOUT_S` for the live calls to end by themselves.
3. Tell the calls still open why (an `error` event «the server is restarting», which the page shows before it
   reconnects, through the balancer, to another node) and close them. Then uvicorn stops serving.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from web.cluster.base import Cluster
from web.media.calls import CallRegistry


class Drainer:
    def __init__(self, calls: CallRegistry, cluster: Cluster, timeout_s: float) -> None:
        self.calls, self.cluster, self.timeout_s = calls, cluster, timeout_s
        self.draining = False
        self._done = asyncio.Event()

    async def drain(self) -> None:
        if self.draining:
            await self._done.wait()
            return
        self.draining = True
        self.calls.stop_admitting()
        self.cluster.set_draining(True)
        live = self.calls.active_count()
        logger.info("draining: no new calls; waiting for the live ones to end", calls=live, timeout_s=self.timeout_s)
        await self.calls.wait_until_empty(self.timeout_s)
        left = self.calls.active_count()
        if left:
            logger.warning("drain time is up: ending the calls still open", calls=left)
        await self.calls.close_all("shutdown")
        logger.info("drained", calls_at_start=live, ended_by_drain=left)
        self._done.set()
