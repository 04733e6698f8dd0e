-- Transparency reports at scale (issue 14): the facts a report reads from a case's JSON
-- documents become plain columns, written by `put_case` with these same expressions (word for
-- word), so every breakdown reads one covering index and no row. Backfilled
-- here so an existing node upgrades. Plain rather than generated columns: SQLite cannot add a
-- STORED column, and an index on a VIRTUAL one is not used as covering. The json_valid guards
-- keep a row whose document does not parse writable (the audit names it).
ALTER TABLE cases ADD COLUMN report_decision TEXT;
ALTER TABLE cases ADD COLUMN report_confidentiality INTEGER;
ALTER TABLE cases ADD COLUMN report_days INTEGER;
ALTER TABLE cases ADD COLUMN report_grounds TEXT;
UPDATE cases SET
    report_decision = CASE WHEN json_valid(decision) THEN json_extract(decision, '$.decision') END,
    report_confidentiality = CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.confidentiality.requested') END = 1,
    report_days = CAST(julianday(CASE WHEN json_valid(decision) THEN json_extract(decision, '$.at') END) - julianday(received_at) AS INTEGER),
    report_grounds = CASE WHEN json_valid(decision) AND json_extract(decision, '$.decision') = 'refuse' AND json_type(decision, '$.grounds') = 'array' THEN json_extract(decision, '$.grounds') END;
-- Each breakdown reads an index in its GROUP BY's order, the period's days last: SQLite sorts
-- nothing, and with statistics (ANALYZE) it skips from group to group to the period's range
-- (a skip-scan), so the cost follows the number of groups, not of cases. Without statistics it
-- reads the whole index in order, still without sorting.
DROP INDEX cases_by_received;
DROP INDEX cases_days_to_decision;
CREATE INDEX cases_by_received ON cases (received_at);
CREATE INDEX cases_report ON cases (
    requesting_state, measure, channel, outcome, emergency, report_decision, report_confidentiality,
    received_at
);
-- Whole days from receipt to the decision in force, decided cases only.
CREATE INDEX cases_days_to_decision ON cases (report_days, received_at) WHERE report_days IS NOT NULL;
-- The grounds of refused cases only.
CREATE INDEX cases_refused ON cases (report_grounds, received_at) WHERE report_grounds IS NOT NULL;
