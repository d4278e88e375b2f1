"""The WebSocket side of the voice path: `GET /v1/realtime` speaking the GA Realtime protocol (devices, the official
`openai` SDK, and the voice page when UDP is blocked), on the same relay core and call registry as WebRTC calls.

`call.WsCall` is one call; `protocol` holds the wire rules. The handshake and its auth policy are the routes' job
(web/routes/realtime_ws.py, web/routes/call_auth.py).
"""
