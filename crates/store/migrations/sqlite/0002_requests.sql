-- mailcast schema 2 (SQLite dialect): pending subscription requests, autoresponse records,
-- template overrides, and the moderation decision and token of held posts. Keep in step with
-- ../postgres/0002_requests.sql: the test `migrations_produce_the_same_logical_schema`
-- compares the two.

-- Subscription and unsubscription requests waiting for a confirmation or a moderator
-- (Mailman's pended requests). `email` is lower-cased, `original_email` as given.
CREATE TABLE pending_request (
    token          TEXT   NOT NULL PRIMARY KEY,
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    kind           TEXT   NOT NULL CHECK (kind IN ('subscription', 'unsubscription')),
    email          TEXT   NOT NULL,
    original_email TEXT   NOT NULL,
    display_name   TEXT,
    delivery_mode  TEXT   NOT NULL DEFAULT 'regular',
    token_owner    TEXT   NOT NULL CHECK (token_owner IN ('no_one', 'subscriber', 'moderator')),
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX pending_request_list_kind_email_key
    ON pending_request (mailinglist_id, kind, email);
CREATE INDEX pending_request_expires_at_idx ON pending_request (expires_at);

-- Automatic responses sent (Mailman's autoresponserecord); `date_sent` is 'YYYY-MM-DD', UTC.
CREATE TABLE autoresponse_record (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    mailinglist_id TEXT    NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    email          TEXT    NOT NULL,
    response_type  TEXT    NOT NULL
        CHECK (response_type IN ('hold', 'command', 'owner', 'postings')),
    date_sent      TEXT    NOT NULL
);
CREATE INDEX autoresponse_record_lookup_idx
    ON autoresponse_record (mailinglist_id, email, response_type, date_sent);

-- Template overrides (Mailman's `template`): site-wide when both scope columns are NULL.
CREATE TABLE template (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    mailinglist_id TEXT    REFERENCES mailinglist (id) ON DELETE CASCADE,
    mail_host      TEXT    REFERENCES domain (mail_host) ON DELETE CASCADE,
    uri            TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    username       TEXT,
    password       TEXT,
    updated_at     BIGINT  NOT NULL,
    CHECK (mailinglist_id IS NULL OR mail_host IS NULL)
);
CREATE UNIQUE INDEX template_scope_name_key
    ON template (COALESCE(mailinglist_id, ''), COALESCE(mail_host, ''), name);

-- Held posts: the token of the moderators' notice ('' for none), the node whose spool holds
-- the post, and a moderator's decision waiting to be carried out by that node.
ALTER TABLE held_message ADD COLUMN token TEXT NOT NULL DEFAULT '';
ALTER TABLE held_message ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE held_message ADD COLUMN decision TEXT
    CHECK (decision IN ('accept', 'reject', 'discard', 'defer'));
ALTER TABLE held_message ADD COLUMN decision_reason TEXT;
ALTER TABLE held_message ADD COLUMN decided_at BIGINT;
CREATE UNIQUE INDEX held_message_token_key ON held_message (token) WHERE token <> '';
