"""The WebRTC side of the voice path: the call registry, one `Call` per browser peer connection, the low-latency
uplink (`uplink.py`), the paced downlink (`playout.py`), the `oai-events` data channel and ICE configuration.

Entry points for the app: `registry.CallRegistry` (kept in `app.state.calls`) and `web/routes/realtime.py`.
"""
