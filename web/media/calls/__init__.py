"""The call layer: one registry for every transport (WebRTC: web/media/rtc, WebSocket: web/media/ws).

- `call.LiveCall`: what every transport's call implements (id, owner, credential, close, stats).
- `registry.CallRegistry`: admission (per-user and per-process limits), lookup, hang-up, revocation, shutdown,
  statistics. The app keeps one on `Services.calls`.
- `credential.Credential`: the session or device token a call is bound to.
- `upstream`: the realtime session interface a call drives, and the default factory.
"""

from web.media.calls.call import LiveCall, notice
from web.media.calls.credential import Credential
from web.media.calls.registry import AdmissionError, CallRegistry, Slot

__all__ = ["AdmissionError", "CallRegistry", "Credential", "LiveCall", "Slot", "notice"]
