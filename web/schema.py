"""Schema migrations, applied in order on start-up. Append new steps; never edit a released one.

Statements are written for SQLite; `Database` adapts the few spots where PostgreSQL differs.
Times are stored as UNIX seconds (REAL / DOUBLE PRECISION) so both databases compare them the same way.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'user',
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            last_login_at DOUBLE PRECISION
        )""",
        """CREATE TABLE IF NOT EXISTS sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at DOUBLE PRECISION NOT NULL,
            last_seen_at DOUBLE PRECISION NOT NULL,
            ip TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id)",
    ],
    [
        """CREATE TABLE IF NOT EXISTS api_tokens (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION,
            last_used_at DOUBLE PRECISION,
            revoked_at DOUBLE PRECISION
        )""",
        "CREATE INDEX IF NOT EXISTS api_tokens_user_id ON api_tokens (user_id)",
    ],
]
