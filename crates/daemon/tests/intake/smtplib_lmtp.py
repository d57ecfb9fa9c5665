"""Black-box LMTP client for tests/intake.rs, with Python's own smtplib.

smtplib.LMTP reads only one reply after DATA (CPython gh-76984), so this script reads the
other per-recipient replies itself with getreply(). Usage:
    smtplib_lmtp.py HOST PORT SENDER RCPT [RCPT...]   (message on stdin)
Prints one JSON object: the RCPT replies and the end-of-data replies.
"""
import json
import smtplib
import sys

host, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
message = sys.stdin.buffer.read()

lmtp = smtplib.LMTP(host, port)
code, _ = lmtp.ehlo()
assert code == 250, code
features = dict(lmtp.esmtp_features)
code, text = lmtp.mail(sender)
assert code == 250, (code, text)
rcpt_replies = []
for rcpt in rcpts:
    code, text = lmtp.rcpt(rcpt)
    rcpt_replies.append([code, text.decode()])
accepted = sum(1 for code, _ in rcpt_replies if code == 250)
data_replies = []
if accepted:
    code, text = lmtp.data(message)
    data_replies.append([code, text.decode()])
    for _ in range(accepted - 1):
        code, text = lmtp.getreply()
        data_replies.append([code, text.decode()])
code, _ = lmtp.noop()
assert code == 250, "the server must still be in sync after the last per-recipient reply"
lmtp.quit()
print(json.dumps({"rcpt": rcpt_replies, "data": data_replies, "lhlo": features}))
