-- The PostgreSQL schema: the same tables as SQLite's migrations 0001 to 0009, in their final
-- shape. Later changes get a file in each folder. Text columns compare byte by byte
-- (COLLATE "C"), as SQLite's do: stored times are RFC 3339 text, ordered and compared as text.

-- Reads a stored document as JSON, or NULL when it does not parse: a row whose text was edited
-- must stay readable and writable so that the audit can name it (SQLite's json_valid guard).
CREATE FUNCTION custos_jsonb(doc TEXT) RETURNS JSONB
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Reads a stored RFC 3339 time, or NULL when it does not parse.
CREATE FUNCTION custos_time(t TEXT) RETURNS TIMESTAMPTZ
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN t::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- The one source of truth: every state change, in log order. Never updated, never deleted.
-- `seq` is the event's index in the Merkle log; `leaf` its public record; `body` the full event
-- as RFC 8785 JSON (kept as text, byte for byte: the audit recomputes its commitment); `salt`
-- the secret that opens the commitment once secrecy ends.
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY CHECK (seq >= 0),
    event_type  TEXT COLLATE "C" NOT NULL,
    occurred_at TEXT COLLATE "C" NOT NULL,
    case_id     BIGINT,
    body        TEXT   NOT NULL,
    salt        BYTEA  NOT NULL CHECK (length(salt) = 32),
    leaf        BYTEA  NOT NULL
);
CREATE INDEX events_by_case ON events (case_id, seq) WHERE case_id IS NOT NULL;
CREATE INDEX events_published ON events (seq) WHERE event_type = 'case.published';
CREATE INDEX events_by_type ON events (event_type, case_id);

-- Signed checkpoints as published.
CREATE TABLE checkpoints (
    size      BIGINT PRIMARY KEY,
    root      BYTEA  NOT NULL,
    note      TEXT   NOT NULL,
    signed_at TEXT COLLATE "C" NOT NULL
);

-- Projections: current state, rebuilt from events, updated only in the transaction that
-- appends the event causing the change.
CREATE TABLE authorities (
    kid           TEXT COLLATE "C" PRIMARY KEY,
    state         TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    channels      TEXT COLLATE "C" NOT NULL,
    jwk           TEXT NOT NULL,
    age_recipient TEXT,
    added_at      TEXT COLLATE "C" NOT NULL,
    revoked_at    TEXT COLLATE "C",
    revoke_reason TEXT
);

-- The JSON documents typed by the service are JSONB; the request stays the text received.
CREATE TABLE cases (
    case_id                BIGINT PRIMARY KEY,
    authority_kid          TEXT COLLATE "C" NOT NULL REFERENCES authorities (kid),
    request_id             TEXT COLLATE "C" NOT NULL,
    payload_sha256         BYTEA   NOT NULL,
    request_json           TEXT    NOT NULL,
    status                 TEXT COLLATE "C" NOT NULL,
    outcome                TEXT COLLATE "C" NOT NULL,
    assessment             JSONB   NOT NULL,
    measure                TEXT COLLATE "C" NOT NULL,
    requesting_state       TEXT COLLATE "C" NOT NULL,
    channel                TEXT COLLATE "C" NOT NULL,
    emergency              BOOLEAN NOT NULL,
    received_at            TEXT COLLATE "C" NOT NULL,
    respond_by             TEXT COLLATE "C" NOT NULL,
    confidentiality_until  TEXT COLLATE "C",
    notify_person_at       TEXT COLLATE "C",
    decision               JSONB,
    pending_decision       JSONB,
    reclassification       JSONB,
    updated_at             TEXT COLLATE "C" NOT NULL,
    -- What a transparency report reads, written by `put_case` from the documents above
    -- (`PG_REPORT_VALUES`); the audit re-derives them (`PG_REPORT_DERIVED`).
    report_decision        TEXT COLLATE "C",
    report_confidentiality BOOLEAN,
    report_days            BIGINT,
    report_grounds         JSONB,
    UNIQUE (authority_kid, request_id)
);
CREATE INDEX cases_by_deadline ON cases (status, respond_by);
CREATE INDEX cases_by_received ON cases (received_at);
CREATE INDEX cases_report ON cases (
    requesting_state, measure, channel, outcome, emergency, report_decision, report_confidentiality,
    received_at
);
CREATE INDEX cases_days_to_decision ON cases (report_days, received_at) WHERE report_days IS NOT NULL;
CREATE INDEX cases_refused ON cases (received_at) WHERE report_grounds IS NOT NULL;
-- A case's follow-ups: the same expression as the store's query.
CREATE INDEX cases_follows ON cases (authority_kid, (custos_jsonb(request_json) ->> 'follows'))
    WHERE (custos_jsonb(request_json) ->> 'follows') IS NOT NULL;

CREATE TABLE holds (
    case_id     BIGINT PRIMARY KEY REFERENCES cases (case_id),
    started_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL,
    renewals    BIGINT NOT NULL DEFAULT 0,
    released_at TEXT COLLATE "C"
);
CREATE INDEX holds_due ON holds (expires_at) WHERE released_at IS NULL;

CREATE TABLE notices (
    case_id         BIGINT PRIMARY KEY REFERENCES cases (case_id),
    due_at          TEXT COLLATE "C" NOT NULL,
    ended_at        TEXT COLLATE "C",
    sent_at         TEXT COLLATE "C",
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TEXT COLLATE "C"
);
CREATE INDEX notices_due ON notices (due_at) WHERE sent_at IS NULL;

CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    role          TEXT COLLATE "C" NOT NULL,
    token_hash    TEXT COLLATE "C" NOT NULL,
    added_at      TEXT COLLATE "C" NOT NULL,
    disabled_at   TEXT COLLATE "C",
    password_hash TEXT
);

-- Sealed evidence packages (projection of evidence.* events).
CREATE TABLE evidence (
    package_sha256  TEXT COLLATE "C" PRIMARY KEY,
    case_id         BIGINT NOT NULL REFERENCES cases (case_id),
    size            BIGINT NOT NULL,
    manifest_sha256 TEXT COLLATE "C" NOT NULL,
    recipient       TEXT   NOT NULL,
    sealed_seq      BIGINT NOT NULL,
    sealed_at       TEXT COLLATE "C" NOT NULL,
    delivered_at    TEXT COLLATE "C",
    destroyed_at    TEXT COLLATE "C"
);
CREATE INDEX evidence_by_case ON evidence (case_id);

CREATE TABLE extensions (
    extension_id    BIGINT PRIMARY KEY,
    case_id         BIGINT NOT NULL REFERENCES cases (case_id),
    kind            TEXT COLLATE "C" NOT NULL,
    asked_by        TEXT   NOT NULL,
    asked_at        TEXT COLLATE "C" NOT NULL,
    current_until   TEXT COLLATE "C" NOT NULL,
    asked_until     TEXT COLLATE "C" NOT NULL,
    reasons         TEXT   NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT COLLATE "C",
    granted_until   TEXT COLLATE "C",
    decision_reason TEXT
);
CREATE INDEX extensions_by_case ON extensions (case_id);
CREATE INDEX extensions_pending ON extensions (asked_at) WHERE status = 'pending';
