-- mailcast schema 4 (SQLite dialect): rosters read in order from an index. Keep in step with
-- ../postgres/0004_roster_order.sql: the test `migrations_produce_the_same_logical_schema`
-- compares the two.

-- A copy of the member's address (`address.email`, which never changes once the address
-- exists), so that a roster page is a range of `member_roster_idx` in email order instead of
-- a sort of the whole roster; with `id` in it, the index alone answers which members are on
-- a page. Written with the membership by `insert_members`.
ALTER TABLE member ADD COLUMN email TEXT NOT NULL DEFAULT '';
UPDATE member SET email = (SELECT a.email FROM address a WHERE a.id = member.address_id);
CREATE INDEX member_roster_idx ON member (mailinglist_id, role, email, id);

-- How many memberships each list has in each role, kept by the triggers below on every
-- insert, delete (also by cascade) and change of list or role, so that a roster's
-- `total_size` and a list's `member_count` are one row instead of a count of the roster.
CREATE TABLE member_tally (
    mailinglist_id TEXT   NOT NULL REFERENCES mailinglist (id) ON DELETE CASCADE,
    role           TEXT   NOT NULL,
    members        BIGINT NOT NULL,
    PRIMARY KEY (mailinglist_id, role)
);
INSERT INTO member_tally (mailinglist_id, role, members)
    SELECT mailinglist_id, role, COUNT(*) FROM member GROUP BY mailinglist_id, role;
CREATE TRIGGER member_tally_insert AFTER INSERT ON member BEGIN
    INSERT INTO member_tally (mailinglist_id, role, members)
        VALUES (NEW.mailinglist_id, NEW.role, 1)
        ON CONFLICT (mailinglist_id, role) DO UPDATE SET members = members + 1;
END;
CREATE TRIGGER member_tally_delete AFTER DELETE ON member BEGIN
    UPDATE member_tally SET members = members - 1
        WHERE mailinglist_id = OLD.mailinglist_id AND role = OLD.role;
END;
CREATE TRIGGER member_tally_move AFTER UPDATE OF mailinglist_id, role ON member BEGIN
    UPDATE member_tally SET members = members - 1
        WHERE mailinglist_id = OLD.mailinglist_id AND role = OLD.role;
    INSERT INTO member_tally (mailinglist_id, role, members)
        VALUES (NEW.mailinglist_id, NEW.role, 1)
        ON CONFLICT (mailinglist_id, role) DO UPDATE SET members = members + 1;
END;
