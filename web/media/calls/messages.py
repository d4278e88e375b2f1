"""Why a call was refused or ended, as message ids: the web layer translates them for the person (zh-CN first).

`N_` only marks a string for extraction (Babel looks for the name); media code never translates.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name Babel's extractor looks for
    return message


TOO_MANY_CALLS = N_("You already have the maximum number of voice calls open. Hang up one and try again.")
SERVER_BUSY = N_("The voice service is busy right now. Please try again in a moment.")
SHUTTING_DOWN = N_("The server is restarting. Please try again in a moment.")
SESSION_ENDED = N_("Authentication failed. Please sign in again.")
