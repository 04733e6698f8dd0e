-- Staff notifications (issue 16): how far each channel has followed the log. The twin of
-- SQLite's 0014_notifications.sql (not events; see there).
CREATE TABLE notification_cursors (
    channel  TEXT COLLATE "C" PRIMARY KEY CHECK (channel IN ('command', 'webhook')),
    next_seq BIGINT NOT NULL CHECK (next_seq >= 0),
    failures BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    retry_at BIGINT
);
