-- Public records of cases (`case.published`, issue 14): the public list pages through them in
-- log order, and the scheduler looks for closed cases not yet published, without scanning
-- every event.
CREATE INDEX events_published ON events (seq) WHERE event_type = 'case.published';
