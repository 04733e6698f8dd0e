-- The one source of truth: every state change, in log order. Never updated, never deleted.
-- `seq` is the event's index in the Merkle log; `leaf` is the public record the log publishes
-- (event type, day, salted commitment); `body` is the full event as RFC 8785 JSON and `salt` the
-- secret that opens the commitment once secrecy ends.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY CHECK (seq >= 0),
    event_type  TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    case_id     INTEGER,
    body        TEXT    NOT NULL,
    salt        BLOB    NOT NULL CHECK (length(salt) = 32),
    leaf        BLOB    NOT NULL
) STRICT;
CREATE INDEX events_by_case ON events (case_id, seq) WHERE case_id IS NOT NULL;

-- Signed checkpoints as published, so an audit can compare the recomputed tree with every
-- root the node ever signed.
CREATE TABLE checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB    NOT NULL,
    note      TEXT    NOT NULL,
    signed_at TEXT    NOT NULL
) STRICT;

-- Projections: current state, rebuilt from events. Updated only in the transaction that
-- appends the event causing the change.
CREATE TABLE authorities (
    kid           TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channels      TEXT NOT NULL,
    jwk           TEXT NOT NULL,
    age_recipient TEXT,
    added_at      TEXT NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT
) STRICT;

CREATE TABLE cases (
    case_id               INTEGER PRIMARY KEY,
    authority_kid         TEXT    NOT NULL REFERENCES authorities (kid),
    request_id            TEXT    NOT NULL,
    payload_sha256        BLOB    NOT NULL,
    request_json          TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    outcome               TEXT    NOT NULL,
    assessment            TEXT    NOT NULL,
    measure               TEXT    NOT NULL,
    requesting_state      TEXT    NOT NULL,
    channel               TEXT    NOT NULL,
    emergency             INTEGER NOT NULL,
    received_at           TEXT    NOT NULL,
    respond_by            TEXT    NOT NULL,
    confidentiality_until TEXT,
    notify_person_at      TEXT,
    decision              TEXT,
    pending_decision      TEXT,
    updated_at            TEXT    NOT NULL,
    UNIQUE (authority_kid, request_id)
) STRICT;
CREATE INDEX cases_by_deadline ON cases (status, respond_by);

CREATE TABLE holds (
    case_id     INTEGER PRIMARY KEY REFERENCES cases (case_id),
    started_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    renewals    INTEGER NOT NULL DEFAULT 0,
    released_at TEXT
) STRICT;
CREATE INDEX holds_due ON holds (expires_at) WHERE released_at IS NULL;

CREATE TABLE notices (
    case_id    INTEGER PRIMARY KEY REFERENCES cases (case_id),
    due_at     TEXT NOT NULL,
    ended_at   TEXT,
    sent_at    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
) STRICT;
CREATE INDEX notices_due ON notices (due_at) WHERE sent_at IS NULL;

CREATE TABLE users (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    disabled_at TEXT
) STRICT;
