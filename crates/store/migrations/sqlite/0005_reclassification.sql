-- Reclassification (issue 12): a reviewer's corrections of an offence's category or maximum
-- penalty, the assessment on the requester's own classification, and a correction waiting for a
-- second reviewer; one JSON document typed by the service. NULL: never reclassified.
ALTER TABLE cases ADD COLUMN reclassification TEXT;
