-- Key-value entries that scripts keep with Forge `storage` / `@forge/kvs`.
-- Instants are Unix milliseconds, as on SQLite, so both engines compare them
-- identically. An entry whose expires_at_ms is at or before now is invisible
-- and may be deleted at any time.
-- Keys use the "C" collation: code point order, the same as SQLite's BINARY.
-- Values are `json`, not `jsonb`: the text round-trips exactly (key order,
-- number spelling, "\u0000"), as it does on SQLite.
CREATE TABLE kv (
    key           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value         JSON   NOT NULL,
    expires_at_ms BIGINT,
    updated_at_ms BIGINT NOT NULL,
    CONSTRAINT kv_key_length CHECK (char_length(key) BETWEEN 1 AND 500),
    CONSTRAINT kv_value_size CHECK (octet_length(value::text) <= 1048576)
);

-- The sweeper deletes expired entries oldest first.
CREATE INDEX kv_expiry ON kv (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

-- Secrets: the JSON value encrypted with XChaCha20-Poly1305 under the secret
-- key of version key_version; the name is authenticated as associated data.
CREATE TABLE secret (
    key           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    key_version   INTEGER NOT NULL,
    nonce         BYTEA   NOT NULL,
    ciphertext    BYTEA   NOT NULL,
    updated_at_ms BIGINT  NOT NULL,
    CONSTRAINT secret_key_length CHECK (char_length(key) BETWEEN 1 AND 500),
    CONSTRAINT secret_key_version_positive CHECK (key_version >= 1),
    CONSTRAINT secret_nonce_length CHECK (octet_length(nonce) = 24),
    CONSTRAINT secret_ciphertext_has_tag CHECK (octet_length(ciphertext) >= 16)
);
