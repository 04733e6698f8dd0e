-- Who has each case (issue 16): the latest case.assigned not followed by case.unassigned, a
-- cache of the events like every column here. Internal notes (note.added) live in the log only.
ALTER TABLE cases ADD COLUMN assignee TEXT COLLATE "C";
