-- Key-value entries that scripts keep with Forge `storage` / `@forge/kvs`.
-- Instants are Unix milliseconds. An entry whose expires_at_ms is at or before
-- now is invisible and may be deleted at any time.
-- Keys compare with BINARY collation: UTF-8 byte order, i.e. code point order,
-- the same order PostgreSQL's "C" collation gives.
CREATE TABLE kv (
    key           TEXT    NOT NULL PRIMARY KEY,
    value         TEXT    NOT NULL,
    expires_at_ms INTEGER,
    updated_at_ms INTEGER NOT NULL,
    CONSTRAINT kv_key_length CHECK (length(key) BETWEEN 1 AND 500),
    CONSTRAINT kv_value_is_json CHECK (json_valid(value)),
    CONSTRAINT kv_value_size CHECK (length(CAST(value AS BLOB)) <= 1048576)
) STRICT;

-- The sweeper deletes expired entries oldest first.
CREATE INDEX kv_expiry ON kv (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

-- Secrets: the JSON value encrypted with XChaCha20-Poly1305 under the secret
-- key of version key_version; the name is authenticated as associated data.
CREATE TABLE secret (
    key           TEXT    NOT NULL PRIMARY KEY,
    key_version   INTEGER NOT NULL,
    nonce         BLOB    NOT NULL,
    ciphertext    BLOB    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    CONSTRAINT secret_key_length CHECK (length(key) BETWEEN 1 AND 500),
    CONSTRAINT secret_key_version_positive CHECK (key_version >= 1),
    CONSTRAINT secret_nonce_length CHECK (length(nonce) = 24),
    CONSTRAINT secret_ciphertext_has_tag CHECK (length(ciphertext) >= 16)
) STRICT;
