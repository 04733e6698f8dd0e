-- Sealed evidence packages (projection of evidence.* events). The package file itself lives in
-- the node directory under evidence/<package_sha256>.age and is never removed except by an
-- evidence.destroyed event.
CREATE TABLE evidence (
    package_sha256  TEXT    PRIMARY KEY,
    case_id         INTEGER NOT NULL REFERENCES cases (case_id),
    size            INTEGER NOT NULL,
    manifest_sha256 TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    sealed_seq      INTEGER NOT NULL,
    sealed_at       TEXT    NOT NULL,
    delivered_at    TEXT,
    destroyed_at    TEXT
) STRICT;
CREATE INDEX evidence_by_case ON evidence (case_id);
