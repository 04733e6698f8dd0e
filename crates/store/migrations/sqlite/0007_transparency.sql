-- Transparency reports (issue 14): the counts of a period are GROUP BYs over the cases received
-- in it. The covering index answers the breakdowns by state, measure, channel, recommendation,
-- emergency, decision and asked confidentiality in one scan of the period's range, without
-- reading the cases' JSON documents (its last two columns are the indexed expressions the
-- report's query names exactly); the index by event type finds the few kinds of event a report
-- counts (decisions, emergency verification, limited confidentiality, deliveries) without
-- scanning the log. The expressions guard with json_valid: a row whose document does not parse
-- (an edited database) must still be writable, and the audit names it.
CREATE INDEX cases_by_received ON cases (
    received_at, requesting_state, measure, channel, outcome, emergency,
    CASE WHEN json_valid(decision) THEN json_extract(decision, '$.decision') END,
    CASE WHEN json_valid(request_json) THEN json_extract(request_json, '$.confidentiality.requested') END
);
-- Whole days from receipt to the decision in force, for the histogram of days to decision.
CREATE INDEX cases_days_to_decision ON cases (
    received_at,
    CAST(julianday(CASE WHEN json_valid(decision) THEN json_extract(decision, '$.at') END) - julianday(received_at) AS INTEGER)
);
CREATE INDEX events_by_type ON events (event_type, case_id);
