"""More than one process: the gateway's processes (workers on one host, nodes on several) as one server.

- `node.NodeIdentity`: this process's name in the cluster; every call id carries its tag (`rtc_<tag>_<random>`).
- `base.Cluster`: what the rest of the app asks of the cluster: reserve a call against the cluster-wide per-user
  limit, forget it, ask the owner of a call to do something (`request`), tell every process (`broadcast`).
- `local.SingleProcess`: the one-process implementation (SQLite, or a PostgreSQL deployment of one process that
  still publishes its calls so that more processes can join).
- `postgres.PostgresCluster`: the directory of live calls and nodes with leases in PostgreSQL, messages over
  `LISTEN/NOTIFY`.
- `router.CallRouter`: runs an operation on a call wherever it lives (hang-up, the diagnostics server view).
- `throttle_sync`: shares the sign-in throttle's failures between processes.
- `drain.Drainer`: what SIGTERM does: stop admitting, let calls end, then tell the rest why and close them.
"""
