-- Console sign-in: a person's password (Argon2id PHC string), separate from the API token so a
-- leaked script token does not open the console and the other way round. NULL: no console access.
ALTER TABLE users ADD COLUMN password_hash TEXT;
