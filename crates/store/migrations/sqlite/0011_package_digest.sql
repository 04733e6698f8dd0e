-- Packages of format v2 are logged by the BLAKE3-256 of their file, v1 packages by its SHA-256
-- (custos_model::package). The key names no algorithm any more; digest_kind says which.
ALTER TABLE evidence RENAME COLUMN package_sha256 TO package_digest;
ALTER TABLE evidence ADD COLUMN digest_kind TEXT NOT NULL DEFAULT 'sha256'
    CHECK (digest_kind IN ('sha256', 'blake3'));
