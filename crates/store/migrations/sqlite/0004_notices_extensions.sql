-- Notices: when the last delivery attempt was made. With the number of attempts it says when the
-- next one is due (the backoff is computed from these two, not kept in a timer), and a failed
-- attempt is logged as notice.failed, so this column is a projection like the others.
ALTER TABLE notices ADD COLUMN last_attempt_at TEXT;

-- Requests to move a deadline (today: the end of confidentiality), by the requesting authority,
-- and the reviewer's answer: the projection of extension.requested / .granted / .refused. An
-- extension's number is the log index of its extension.requested event.
CREATE TABLE extensions (
    extension_id    INTEGER PRIMARY KEY,
    case_id         INTEGER NOT NULL REFERENCES cases (case_id),
    kind            TEXT    NOT NULL,
    asked_by        TEXT    NOT NULL,
    asked_at        TEXT    NOT NULL,
    current_until   TEXT    NOT NULL,
    asked_until     TEXT    NOT NULL,
    reasons         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    granted_until   TEXT,
    decision_reason TEXT
) STRICT;
CREATE INDEX extensions_by_case ON extensions (case_id);
CREATE INDEX extensions_pending ON extensions (asked_at) WHERE status = 'pending';
