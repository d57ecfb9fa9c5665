"""Checks a spool against mailcast-loadgen's acknowledgement log after a kill -9 run.

Every acknowledged message must be in the spool's `incoming` stage under the queue id its 250
named; a Message-ID may appear more than once only if its connection broke after the end of
data at least that many times minus one (the server may have committed it; the generator sent
it again). Nothing may be in another stage. Prints the counts; exits 1 on any violation.

Usage: check_crash.py ACK_LOG SPOOL_DIR EXPECTED_MESSAGES
"""

import collections
import os
import sys


def message_id(path):
    with open(path, "rb") as f:
        for line in f:
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"message-id:"):
                return line.split(b":", 1)[1].strip().strip(b"<>").decode()
    return None


def main(ack_log, spool, expected):
    acked, uncertain = {}, collections.Counter()
    for line in open(ack_log):
        kind, mid, *rest = line.rstrip("\n").split("\t")
        if kind == "ack":
            acked[mid] = rest[0]
        else:
            uncertain[mid] += 1
    stored = collections.defaultdict(list)
    elsewhere = 0
    for stage in sorted(os.listdir(spool)):
        if stage in ("wal", "messages", "tmp"):
            continue
        for bucket in os.listdir(os.path.join(spool, stage)):
            for name in os.listdir(os.path.join(spool, stage, bucket)):
                if not name.endswith(".json"):
                    continue
                if stage != "incoming":
                    elsewhere += 1
                    continue
                entry = name[: -len(".json")]
                mid = message_id(os.path.join(spool, "messages", bucket, entry + ".eml"))
                stored[mid].append(entry)
    missing = [m for m in acked if m not in stored]
    wrong_id = [m for m, q in acked.items() if m in stored and q not in stored[m]]
    dups = {m: len(ids) - 1 for m, ids in stored.items() if len(ids) > 1}
    unexplained = [m for m, n in dups.items() if n > uncertain[m]]
    strangers = [m for m in stored if m not in acked]
    print(
        f"acknowledged {len(acked)} of {expected}, present {len(acked) - len(missing)}, "
        f"entries {sum(map(len, stored.values()))}, missing {len(missing)}, "
        f"wrong queue id {len(wrong_id)}, duplicates {sum(dups.values())} "
        f"(after a lost reply; {len(uncertain)} messages had one), unexplained {len(unexplained)}, "
        f"not acknowledged {len(strangers)}, in other stages {elsewhere}"
    )
    ok = (len(acked) == expected and not missing and not wrong_id and not unexplained
          and not strangers and not elsewhere)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
