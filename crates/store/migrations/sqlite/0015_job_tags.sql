-- A job's tags (its current version's `tags`), as ",a,b," so that a tag
-- filter is an exact substring match of ",tag," (tags cannot hold commas).
-- Empty for a job without tags.
ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT '';
