"""Every way a single sign-on can fail, each with the status and the message the user sees.

`SSOError.detail` is for the log only (it may name claims or provider answers); the user sees `message`, a msgid
translated where the page is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from web.i18n import N_


@dataclass(frozen=True)
class Failure:
    status: int
    title: str  # msgid
    message: str  # msgid


FAILURES: dict[str, Failure] = {
    "cancelled": Failure(400, N_("Sign-in cancelled"), N_("You cancelled the sign-in at the identity provider.")),
    "provider_error": Failure(400, N_("Sign-in refused"),
                              N_("The identity provider refused the sign-in. Try again, or sign in another way.")),
    "bad_state": Failure(400, N_("Sign-in expired"),
                         N_("This sign-in link is invalid or has expired. Start the sign-in again from this page.")),
    "bad_code": Failure(400, N_("Sign-in expired"),
                        N_("The sign-in code was already used or has expired. Start the sign-in again.")),
    "invalid_token": Failure(400, N_("Sign-in failed"),
                             N_("The identity provider's answer could not be verified, so you were not signed in.")),
    "unreachable": Failure(502, N_("Identity provider unreachable"),
                           N_("The identity provider did not answer in time. Try again in a minute, or sign in "
                              "another way.")),
    "bad_provider": Failure(502, N_("Identity provider error"),
                            N_("The identity provider gave an answer we could not use. Try again later; if it keeps "
                               "happening, tell your administrator.")),
    "domain_not_allowed": Failure(403, N_("Account not allowed"),
                                  N_("Accounts from this email domain may not sign in here.")),
    "no_email": Failure(403, N_("Account not allowed"),
                        N_("The identity provider did not share your email address, so no account can be found.")),
    "disabled": Failure(403, N_("Account disabled"),
                        N_("This account is disabled. Ask an administrator to enable it.")),
    "no_account": Failure(403, N_("No account for this sign-in"),
                          N_("No account here is linked to this sign-in. Ask an administrator for access.")),
    "email_taken": Failure(403, N_("Account already exists"),
                           N_("An account with your email address already exists. Sign in with its password, or "
                              "ask an administrator to link your sign-in to it.")),
    "unavailable": Failure(503, N_("Sign-in temporarily unavailable"),
                           N_("The service is temporarily unavailable. Try again in a minute.")),
    "no_logout": Failure(404, N_("Sign-out not available"),
                         N_("This identity provider does not support signing out from here.")),
}


class SSOError(Exception):
    """A sign-in failed in a known way; `code` picks the page (see FAILURES)."""

    def __init__(self, code: str, detail: str = "") -> None:
        assert code in FAILURES, code
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def failure(self) -> Failure:
        return FAILURES[self.code]
