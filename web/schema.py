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
    [  # single sign-on: (issuer, subject) → account, and the ID tokens kept for RP-initiated logout
        """CREATE TABLE IF NOT EXISTS oidc_identities (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            issuer TEXT NOT NULL,
            subject TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            email TEXT NOT NULL DEFAULT '',
            created_at DOUBLE PRECISION NOT NULL,
            last_login_at DOUBLE PRECISION,
            UNIQUE (issuer, subject)
        )""",
        "CREATE INDEX IF NOT EXISTS oidc_identities_user_id ON oidc_identities (user_id)",
        """CREATE TABLE IF NOT EXISTS oidc_logout_hints (
            handle_hash TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            id_token TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS oidc_logout_hints_created_at ON oidc_logout_hints (created_at)",
    ],
    [  # diagnostics reports (web/diagnostics/store.py): one row per run, one row per check result
        """CREATE TABLE IF NOT EXISTS diagnostic_reports (
            id TEXT PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            source TEXT NOT NULL DEFAULT 'browser',
            meta TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX IF NOT EXISTS diagnostic_reports_created_at ON diagnostic_reports (created_at)",
        """CREATE TABLE IF NOT EXISTS diagnostic_results (
            report_id TEXT NOT NULL REFERENCES diagnostic_reports(id) ON DELETE CASCADE,
            check_id TEXT NOT NULL,
            measured_at DOUBLE PRECISION NOT NULL,
            result TEXT NOT NULL,
            PRIMARY KEY (report_id, check_id)
        )""",
    ],
    [  # accounts created by single sign-on have no password anyone knows: the account page says so
        "ALTER TABLE users ADD COLUMN password_login INTEGER NOT NULL DEFAULT 1",
    ],
    [  # usage (web/usage): one row per conversation; per-user quota overrides
        """CREATE TABLE IF NOT EXISTS conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL,
            user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            token_id INTEGER,
            transport TEXT NOT NULL,
            upstream TEXT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION NOT NULL,
            end_reason TEXT NOT NULL DEFAULT '',
            audio_in_s DOUBLE PRECISION NOT NULL DEFAULT 0,
            audio_out_s DOUBLE PRECISION NOT NULL DEFAULT 0,
            responses INTEGER NOT NULL DEFAULT 0,
            input_text_tokens INTEGER NOT NULL DEFAULT 0,
            input_audio_tokens INTEGER NOT NULL DEFAULT 0,
            input_image_tokens INTEGER NOT NULL DEFAULT 0,
            cached_text_tokens INTEGER NOT NULL DEFAULT 0,
            cached_audio_tokens INTEGER NOT NULL DEFAULT 0,
            cached_image_tokens INTEGER NOT NULL DEFAULT 0,
            output_text_tokens INTEGER NOT NULL DEFAULT 0,
            output_audio_tokens INTEGER NOT NULL DEFAULT 0,
            transcription_input_tokens INTEGER NOT NULL DEFAULT 0,
            transcription_output_tokens INTEGER NOT NULL DEFAULT 0,
            transcription_s DOUBLE PRECISION NOT NULL DEFAULT 0,
            total_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX IF NOT EXISTS conversations_user_started ON conversations (user_id, started_at)",
        "CREATE INDEX IF NOT EXISTS conversations_started ON conversations (started_at)",
        """CREATE TABLE IF NOT EXISTS user_quotas (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            minutes_per_day DOUBLE PRECISION,
            minutes_per_month DOUBLE PRECISION,
            tokens_per_day INTEGER,
            tokens_per_month INTEGER
        )""",
        """CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at DOUBLE PRECISION NOT NULL,
            actor_id INTEGER,
            actor_email TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at)",
        # a temporary password set in the console must be replaced at the next sign-in
        "ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0",
    ],
    [  # the networks each account signed in from: a new browser there is trusted during a login flood
        """CREATE TABLE IF NOT EXISTS login_networks (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            network TEXT NOT NULL,
            last_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (user_id, network)
        )""",
    ],
    [  # short-lived ek_ keys, in the database so that every worker and node accepts a key any of them minted
        """CREATE TABLE IF NOT EXISTS client_secrets (
            secret_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            parent_handle TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            session TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX IF NOT EXISTS client_secrets_user_created ON client_secrets (user_id, created_at)",
    ],
]
