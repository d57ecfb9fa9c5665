-- mailcast schema 1 (SQLite dialect). Keep in step with ../postgres/0001_initial.sql: the test
-- `migrations_produce_the_same_logical_schema` compares the two.
--
-- Portable conventions: timestamps are BIGINT UTC microseconds, UUIDs 32-hex TEXT, booleans
-- INTEGER 0/1, vocabulary values Mailman 3's spelling as TEXT.
-- Unique constraints are named CREATE UNIQUE INDEX statements so that both dialects expose
-- the same index names.

CREATE TABLE domain (
    mail_host    TEXT   NOT NULL PRIMARY KEY,
    alias_domain TEXT,
    description  TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX domain_alias_domain_key ON domain (alias_domain);

CREATE TABLE mailinglist (
    id                  TEXT   NOT NULL PRIMARY KEY,
    list_name           TEXT   NOT NULL,
    mail_host           TEXT   NOT NULL REFERENCES domain (mail_host),
    list_id             TEXT   NOT NULL,
    settings            TEXT   NOT NULL,
    post_id             BIGINT NOT NULL DEFAULT 1,
    last_post_at        BIGINT,
    created_at          BIGINT NOT NULL,
    volume              BIGINT NOT NULL DEFAULT 1,
    next_digest_number  BIGINT NOT NULL DEFAULT 1,
    digest_last_sent_at BIGINT
);
CREATE UNIQUE INDEX mailinglist_address_key ON mailinglist (mail_host, list_name);
CREATE UNIQUE INDEX mailinglist_list_id_key ON mailinglist (list_id);

-- Preference columns (here, on address and on member) are NULL for "inherit", as in Mailman.
CREATE TABLE "user" (
    id                   TEXT    NOT NULL PRIMARY KEY,
    display_name         TEXT,
    password             TEXT,
    created_on           BIGINT  NOT NULL,
    preferred_address_id TEXT    REFERENCES address (id) ON DELETE SET NULL,
    is_server_owner      INTEGER NOT NULL DEFAULT 0,
    acknowledge_posts    INTEGER,
    hide_address         INTEGER,
    preferred_language   TEXT,
    receive_list_copy    INTEGER,
    receive_own_postings INTEGER,
    delivery_mode        TEXT,
    delivery_status      TEXT
);

CREATE TABLE address (
    id                   TEXT    NOT NULL PRIMARY KEY,
    email                TEXT    NOT NULL,
    original_email       TEXT    NOT NULL,
    display_name         TEXT,
    verified_on          BIGINT,
    registered_on        BIGINT  NOT NULL,
    user_id              TEXT    REFERENCES "user" (id) ON DELETE SET NULL,
    acknowledge_posts    INTEGER,
    hide_address         INTEGER,
    preferred_language   TEXT,
    receive_list_copy    INTEGER,
    receive_own_postings INTEGER,
    delivery_mode        TEXT,
    delivery_status      TEXT
);
CREATE UNIQUE INDEX address_email_key ON address (email);
CREATE INDEX address_user_id_idx ON address (user_id) WHERE user_id IS NOT NULL;

-- A domain's owners (Mailman's domain_owner), for the REST API's /domains/<d>/owners.
CREATE TABLE domain_owner (
    mail_host TEXT NOT NULL REFERENCES domain (mail_host) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    PRIMARY KEY (mail_host, user_id)
);

CREATE TABLE member (
    id                   TEXT    NOT NULL PRIMARY KEY,
    mailinglist_id       TEXT    NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    address_id           TEXT    NOT NULL REFERENCES address (id) ON DELETE CASCADE,
    role                 TEXT    NOT NULL
        CHECK (role IN ('member', 'owner', 'moderator', 'nonmember')),
    moderation_action    TEXT
        CHECK (moderation_action IN ('hold', 'reject', 'discard', 'accept', 'defer')),
    delivery_mode        TEXT    NOT NULL DEFAULT 'regular',
    delivery_status      TEXT    NOT NULL DEFAULT 'enabled',
    acknowledge_posts    INTEGER,
    hide_address         INTEGER,
    preferred_language   TEXT,
    receive_list_copy    INTEGER,
    receive_own_postings INTEGER,
    bounce_score         REAL    NOT NULL DEFAULT 0,
    last_bounce_received BIGINT,
    last_warning_sent    BIGINT,
    total_warnings_sent  BIGINT  NOT NULL DEFAULT 0,
    subscribed_at        BIGINT  NOT NULL
);
CREATE UNIQUE INDEX member_list_address_role_key ON member (mailinglist_id, address_id, role);
CREATE INDEX member_address_id_idx ON member (address_id);

-- A ban pattern is a lower-cased address or a `^regex`; a NULL list is a global ban.
CREATE TABLE ban (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL,
    mailinglist_id TEXT    REFERENCES mailinglist (id) ON DELETE CASCADE,
    created_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX ban_scope_email_key ON ban (COALESCE(mailinglist_id, ''), email);
CREATE INDEX ban_email_idx ON ban (email);

-- Held posts; `id` is the request id of Mailman's REST API (an integer).
CREATE TABLE held_message (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    mailinglist_id TEXT    NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    spool_id       TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    reasons        TEXT    NOT NULL,
    held_at        BIGINT  NOT NULL
);
CREATE UNIQUE INDEX held_message_spool_id_key ON held_message (mailinglist_id, spool_id);

CREATE TABLE bounce_event (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    mailinglist_id TEXT    NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    email          TEXT    NOT NULL,
    timestamp      BIGINT  NOT NULL,
    message_id     TEXT,
    context        TEXT    NOT NULL CHECK (context IN ('normal', 'probe')),
    processed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX bounce_event_list_email_idx ON bounce_event (mailinglist_id, email);

-- One row; bumped by every mutation the daemon must notice (see changes.rs).
CREATE TABLE change_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);
