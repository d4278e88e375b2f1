"""The WebRTC side of the voice path: one `Call` per browser peer connection, the low-latency uplink (`uplink.py`),
the paced downlink (`playout.py`), the `oai-events` data channel and ICE configuration.

`transport.RtcTransport` opens calls for the registry (web/media/calls); routed by web/routes/realtime.py.
"""
