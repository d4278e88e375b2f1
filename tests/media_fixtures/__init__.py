"""Test helpers for the WebRTC call path: an aiortc "browser" client, app wiring, speech WAV generation."""
