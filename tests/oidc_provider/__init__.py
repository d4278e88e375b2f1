"""A real, local OpenID Connect provider for the single sign-on tests (authlib server components + Starlette +
uvicorn on 127.0.0.1), and the fixtures and helpers that drive the app against it."""
