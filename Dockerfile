# syntax=docker/dockerfile:1
# Smart glasses voice gateway: two stages on python:3.11-slim. The first builds the virtualenv (every dependency
# ships as a binary wheel, so no compiler is needed); the second copies it next to a non-root user.
# No secrets are baked in: SECRET_KEY, DATABASE_URL and the AZURE_OPENAI_REALTIME_* values come from the
# environment at run time (docker-compose.yml reads them from .env). See README.md, "Deployment".

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock ./
# Exact versions with their hashes (refresh with `bash scripts/lock.sh`), then the app itself without resolving again.
RUN pip install --require-hashes -r requirements.lock
COPY web ./web
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    APP_ENV=production \
    DATA_DIR=/data \
    PORT=3000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /app /data \
    && chown app:app /data
COPY --from=build /opt/venv /opt/venv
# The app reads .env from its working directory; /app holds none, so configuration comes only from the environment.
WORKDIR /app
USER app
VOLUME ["/data"]

# HTTP (pages, API, WebRTC signalling).
EXPOSE 3000
# WebRTC media is UDP on ports aiortc picks from the kernel's ephemeral range: aiortc cannot be given a port range
# (aiortc#487). Either run with host networking, or narrow the container's range with the sysctl
# net.ipv4.ip_local_port_range (e.g. "40000 40199") and publish exactly that UDP range; docker-compose.yml shows both.

# /health is answered on the event loop, so a frozen loop fails the check. The Host header is the first
# ALLOWED_HOSTS entry, because the trusted-host check would reject a bare 127.0.0.1 in production.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = (os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().replace('*', 'health'); r.urlopen(r.Request('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/health', headers={'Host': h}), timeout=4)"]

# Same command as the Procfile; exec makes the server PID 1 so it gets SIGTERM (and drains: see README).
CMD ["/bin/sh", "-c", "exec python -m web serve --host 0.0.0.0"]
