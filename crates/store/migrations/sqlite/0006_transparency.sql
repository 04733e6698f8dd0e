-- Transparency reports (issue 14): the counts of a period are GROUP BYs over the cases received
-- in it. The covering index answers the breakdowns by state, measure, channel and
-- recommendation without reading the cases' documents; the index by event type finds the few
-- kinds of event a report counts (emergency verification, limited confidentiality, decisions,
-- deliveries) without scanning the log.
CREATE INDEX cases_by_received ON cases (received_at, requesting_state, measure, channel, outcome, emergency);
CREATE INDEX events_by_type ON events (event_type, case_id);
