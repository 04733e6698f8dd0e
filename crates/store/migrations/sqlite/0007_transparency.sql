-- Transparency reports (issue 14): the counts of a period are GROUP BYs over the cases received
-- in it. The covering index answers the breakdowns by state, measure, channel, recommendation,
-- emergency, decision and asked confidentiality in one scan of the period's range, without
-- reading the cases' JSON documents (its last two columns are the indexed expressions the
-- report's query names exactly); the index by event type finds the few kinds of event a report
-- counts (decisions, emergency verification, limited confidentiality, deliveries) without
-- scanning the log.
CREATE INDEX cases_by_received ON cases (
    received_at, requesting_state, measure, channel, outcome, emergency,
    json_extract(decision, '$.decision'),
    json_extract(request_json, '$.confidentiality.requested')
);
-- Whole days from receipt to the decision in force, for the histogram of days to decision.
CREATE INDEX cases_days_to_decision ON cases (
    received_at,
    CAST(julianday(json_extract(decision, '$.at')) - julianday(received_at) AS INTEGER)
);
CREATE INDEX events_by_type ON events (event_type, case_id);
