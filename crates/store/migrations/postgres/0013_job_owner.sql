-- A job's owner (its current version's `owner`): free text naming who looks
-- after it, for the owner filter of the jobs list. Empty when nobody is named.
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
