-- mailcast schema 6 (PostgreSQL dialect): digests. Keep in step with
-- ../sqlite/0006_digests.sql: the test `migrations_produce_the_same_logical_schema`
-- compares the two.

-- One digest of a list, from the moment its posts are set aside (`closed_at`) until its
-- delivery jobs are written (`sent_at`). `volume` and `number` are the ones it carries.
-- A node claims an unsent digest (`claimed_by`, `claimed_at`) to build and queue it; a
-- claim older than the lease is taken over.
CREATE TABLE digest_issue (
    id             TEXT   NOT NULL PRIMARY KEY,
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    volume         BIGINT NOT NULL,
    number         BIGINT NOT NULL,
    closed_at      BIGINT NOT NULL,
    claimed_by     TEXT,
    claimed_at     BIGINT,
    sent_at        BIGINT
);
CREATE INDEX digest_issue_unsent_idx ON digest_issue (sent_at, closed_at);

-- The accepted posts a list has accumulated for its digests, as they left the handlers
-- (before decoration). `source_key` names the incoming spool entry, so that processing a
-- post again after a crash finds it instead of adding it twice. `issue_id` is NULL while the
-- post waits for the next digest; the posts of a digest are deleted once it is sent.
CREATE TABLE digest_post (
    id             TEXT   NOT NULL PRIMARY KEY,
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    source_key     TEXT   NOT NULL,
    added_at       BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    message        BYTEA  NOT NULL,
    issue_id       TEXT   REFERENCES digest_issue (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX digest_post_source_key ON digest_post (mailinglist_id, source_key);
CREATE INDEX digest_post_issue_idx ON digest_post (mailinglist_id, issue_id);

-- Whether a list has digest members at all is asked for every post: this index holds only
-- the members who are not on regular delivery.
CREATE INDEX member_digest_idx ON member (mailinglist_id) WHERE delivery_mode <> 'regular';

-- Mailman's OneLastDigest, kept by a trigger: a member who moves from a digest mode to
-- regular delivery while posts wait for the next digest gets that digest once more (in the
-- mode they had), so the posts they would otherwise miss reach them. `switched_at` is in
-- microseconds; the first digest closed after it consumes the row.
CREATE TABLE digest_last (
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    address_id     TEXT   NOT NULL REFERENCES address (id) ON DELETE CASCADE,
    delivery_mode  TEXT   NOT NULL,
    switched_at    BIGINT NOT NULL,
    PRIMARY KEY (mailinglist_id, address_id)
);
CREATE FUNCTION digest_last_on_switch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.delivery_mode <> 'regular' AND NEW.delivery_mode = 'regular'
        AND NEW.role = 'member'
        AND EXISTS (SELECT 1 FROM digest_post
                    WHERE mailinglist_id = NEW.mailinglist_id AND issue_id IS NULL) THEN
        INSERT INTO digest_last (mailinglist_id, address_id, delivery_mode, switched_at)
            VALUES (NEW.mailinglist_id, NEW.address_id, OLD.delivery_mode,
                    (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT)
            ON CONFLICT (mailinglist_id, address_id) DO UPDATE
                SET delivery_mode = excluded.delivery_mode, switched_at = excluded.switched_at;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER digest_last_on_switch AFTER UPDATE OF delivery_mode ON member
    FOR EACH ROW EXECUTE FUNCTION digest_last_on_switch();
