#!/usr/bin/env python3
"""Submits one message over SMTP with Python's smtplib, as a remote mail client would.

Usage: submit.py HOST PORT SENDER RCPT... < message

Prints one line of JSON: {"refused": {rcpt: [code, text], ...}, "error": null | "text"}.
"refused" holds the recipients the server refused at RCPT time (all of them when the whole
transaction was refused that way); "error" is any other SMTP failure. Exits 0 either way.
"""

import json
import smtplib
import sys


def refusals(mapping):
    return {rcpt: [code, text.decode("utf-8", "replace")] for rcpt, (code, text) in mapping.items()}


def main():
    host, port, sender, *rcpts = sys.argv[1:]
    message = sys.stdin.buffer.read()
    result = {"refused": {}, "error": None}
    try:
        with smtplib.SMTP(host, int(port), local_hostname="client.remote.test", timeout=60) as smtp:
            result["refused"] = refusals(smtp.sendmail(sender, rcpts, message))
    except smtplib.SMTPRecipientsRefused as e:
        result["refused"] = refusals(e.recipients)
    except smtplib.SMTPException as e:
        result["error"] = str(e)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
