-- People who sign in to the web UI, and sessions of the UI (a signed-in user
-- or an API token exchanged for a cookie). Instants are Unix milliseconds.
-- (0003 and 0004 belong to the chains and queues schema; the runner applies
-- migrations in version order and does not need contiguous numbers.)

-- A user: the password only as an Argon2id PHC string (salt and parameters
-- included), never in clear.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    CONSTRAINT users_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT users_role_known CHECK (role IN ('admin', 'editor', 'viewer')),
    CONSTRAINT users_password_is_argon2 CHECK (password_hash LIKE '$argon2%'),
    CONSTRAINT users_disabled_is_bool CHECK (disabled IN (0, 1))
) STRICT;

CREATE UNIQUE INDEX users_name ON users (name);

-- A session: only the SHA-256 hash of its random id (the cookie) is kept.
-- It belongs to exactly one user or one API token; deleting either ends it.
CREATE TABLE sessions (
    id_hash         BLOB    NOT NULL PRIMARY KEY,
    user_id         INTEGER REFERENCES users (id) ON DELETE CASCADE,
    token_id        INTEGER REFERENCES api_tokens (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    csrf_token      TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    last_seen_at_ms INTEGER NOT NULL,
    CONSTRAINT sessions_id_is_sha256 CHECK (length(id_hash) = 32),
    CONSTRAINT sessions_one_principal CHECK ((user_id IS NULL) <> (token_id IS NULL)),
    CONSTRAINT sessions_role_known CHECK (role IN ('admin', 'editor', 'viewer')),
    CONSTRAINT sessions_expire_after_creation CHECK (expires_at_ms > created_at_ms)
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX sessions_token ON sessions (token_id) WHERE token_id IS NOT NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at_ms);

-- Jira and Confluence sites added through the API (sites from the
-- configuration file are not stored). The credential's secret is encrypted
-- like the scripts' secrets, with the site's name as associated data.
CREATE TABLE sites (
    name              TEXT    NOT NULL PRIMARY KEY,
    product           TEXT    NOT NULL,
    base_url          TEXT    NOT NULL,
    auth              TEXT    NOT NULL,
    email             TEXT,
    secret_key_version INTEGER NOT NULL,
    secret_nonce      BLOB    NOT NULL,
    secret_ciphertext BLOB    NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    CONSTRAINT sites_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT sites_product_known CHECK (product IN ('jira', 'confluence')),
    CONSTRAINT sites_auth_known CHECK (auth IN ('basic', 'bearer')),
    CONSTRAINT sites_basic_has_email CHECK ((auth = 'basic') = (email IS NOT NULL)),
    CONSTRAINT sites_nonce_length CHECK (length(secret_nonce) = 24),
    CONSTRAINT sites_ciphertext_has_tag CHECK (length(secret_ciphertext) >= 16)
) STRICT, WITHOUT ROWID;

-- One site per product: a run has one Jira and one Confluence base URL.
CREATE UNIQUE INDEX sites_product ON sites (product);
