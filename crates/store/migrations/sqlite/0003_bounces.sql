-- mailcast schema 3 (SQLite dialect): bounce processing. What each bounce report said and did,
-- the probes waiting for their bounce, and when a member was disabled. Keep in step with
-- ../postgres/0003_bounces.sql: the test `migrations_produce_the_same_logical_schema`
-- compares the two.

-- `source_key` names the report an event came from (spool entry and recipient index), so
-- that processing a report again after a crash finds its events instead of adding them.
-- `class` is permanent or temporary; `outcome` what the event did to the member's score.
ALTER TABLE bounce_event ADD COLUMN source_key TEXT;
ALTER TABLE bounce_event ADD COLUMN class TEXT NOT NULL DEFAULT 'permanent';
ALTER TABLE bounce_event ADD COLUMN status TEXT;
ALTER TABLE bounce_event ADD COLUMN diagnostic TEXT;
ALTER TABLE bounce_event ADD COLUMN source TEXT NOT NULL DEFAULT 'smtp';
ALTER TABLE bounce_event ADD COLUMN outcome TEXT NOT NULL DEFAULT 'counted';
CREATE UNIQUE INDEX bounce_event_source_key ON bounce_event (source_key);

-- When delivery was disabled by bounces (NULL while enabled).
ALTER TABLE member ADD COLUMN disabled_at BIGINT;
CREATE INDEX member_delivery_status_idx ON member (delivery_status);

-- Probes sent to members who reached the threshold (Mailman's probe pendables): a bounce
-- of the probe, at `<list>-bounces+<token>@`, disables delivery.
CREATE TABLE bounce_probe (
    token          TEXT   NOT NULL PRIMARY KEY,
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    member_id      TEXT   NOT NULL REFERENCES member (id) ON DELETE CASCADE,
    email          TEXT   NOT NULL,
    sent_at        BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX bounce_probe_expires_at_idx ON bounce_probe (expires_at);
