"""Single sign-on with OpenID Connect (authorization code flow with PKCE) beside the password login.

config: providers from OIDC_* settings; metadata: discovery + JWKS cache; flow: pending sign-in cookies; client:
authorization URL, token exchange, ID token validation; identities + linking: (issuer, subject) to accounts;
logout: RP-initiated logout hints; service: the object create_app keeps in app.state.sso.
"""
