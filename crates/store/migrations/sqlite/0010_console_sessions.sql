-- The console's security state, kept in the database so that it survives a restart and is
-- shared by every process serving the node (issue 15). Not events: nothing here is logged or
-- replayed, and a session token never reaches the log (only its SHA-256 is kept here).
-- Times are Unix milliseconds (INTEGER here, BIGINT in the PostgreSQL twin).

-- One row per signed-in browser. The cookie's token is never stored: a copy of the database
-- opens no session.
CREATE TABLE console_sessions (
    token_sha256 BLOB    PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_name    TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    -- The synchronizer token every form of the session carries (not a secret on its own: it is
    -- in every page the session is shown).
    csrf         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    -- Idle end: last_seen_at + the idle limit, moved on at every use.
    idle_until   INTEGER NOT NULL,
    -- Absolute end: created_at + the session's longest life, never moved.
    expires_at   INTEGER NOT NULL
) STRICT;

-- Sign-in attempts of existing users only (a name of no user gets no row). `attempts` is
-- counted before the password is checked (failures plus attempts under way), so a burst spread
-- over several processes cannot have more guesses checked than the limit.
CREATE TABLE console_lockout (
    user_name         TEXT    PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
    attempts          INTEGER NOT NULL CHECK (attempts >= 0),
    failures          INTEGER NOT NULL CHECK (failures >= 0),
    window_started_at INTEGER NOT NULL,
    locked_until      INTEGER
) STRICT;
