-- mailcast schema 5 (postgres dialect): which archivers a list has switched on or off (Mailman's
-- `listarchiver` rows), as one JSON object of archiver name to boolean. A name that is not
-- there follows the site's switch. Keep in step with ../sqlite/0005_list_archivers.sql.
ALTER TABLE mailinglist ADD COLUMN archivers TEXT NOT NULL DEFAULT '{}';
