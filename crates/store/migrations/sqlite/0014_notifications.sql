-- Staff notifications (issue 16): how far each channel (the operator's command, the webhook)
-- has followed the log. Not events: a delivery concerns no case (an event would make a
-- reviewer's open page stale) and changes nothing the log records. One row per channel,
-- written after each delivery, so a restart resumes where the last delivery ended.
-- Times are Unix milliseconds (INTEGER here, BIGINT in the PostgreSQL twin).
CREATE TABLE notification_cursors (
    channel  TEXT    PRIMARY KEY CHECK (channel IN ('command', 'webhook')),
    -- The first log index not yet handled.
    next_seq INTEGER NOT NULL CHECK (next_seq >= 0),
    -- Failed attempts at next_seq so far, and when the next may be made.
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    retry_at INTEGER
) STRICT;
