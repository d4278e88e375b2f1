"""The WebSocket side of the voice path: `GET /v1/realtime` speaking the GA Realtime protocol (devices, the official
`openai` SDK, and the voice page when UDP is blocked), on the same relay core and call registry as WebRTC calls.

Entry points: `endpoint.RealtimeWebSocketEndpoint` (routed by web/routes/realtime_ws.py); `call.WsCall`, one call.
"""
