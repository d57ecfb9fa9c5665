#!/usr/bin/env python3
"""Drives a running mailcast through mailmanclient 3.3.5, as Postorius and HyperKitty do.

Only mailmanclient talks to the REST API; posts go in over LMTP with smtplib. The steps run
in order, each asserting on what mailmanclient returns, and print `ok <step>`; the first
failure prints `FAIL <step>: ...` and exits 1.

Environment: MAILCAST_REST_URL (http://127.0.0.1:PORT/3.1), MAILCAST_REST_USER,
MAILCAST_REST_PASS, MAILCAST_LMTP (host:port), MAILCAST_DOMAIN (lists.test); with
MAILCAST_REST_TRACE=1 each REST request is also printed to stderr.
Run it with the venv scripts/tools-install.sh makes: .venv/bin/python THIS_FILE
"""

import os
import smtplib
import sys
import time
import traceback
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.error import HTTPError

import mailmanclient
from mailmanclient import Client


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"mailmanclient_acceptance: {name} is not set")
    return value


URL = env("MAILCAST_REST_URL")
USER = env("MAILCAST_REST_USER")
PASS = env("MAILCAST_REST_PASS")
LMTP_HOST, _, LMTP_PORT = env("MAILCAST_LMTP").rpartition(":")
DOMAIN = env("MAILCAST_DOMAIN")
LIST = f"accept@{DOMAIN}"
LIST_ID = f"accept.{DOMAIN}"
ANNOUNCE = f"announce@{DOMAIN}"
BULK = [f"bulk{i:03}@example.org" for i in range(120)]
FOOTER = "list:member:regular:footer"
# A URI that can be read now (mailcast reads template URIs when they are set, Mailman on use).
FOOTER_URI = os.environ.get("MAILCAST_FOOTER_URI", "http://127.0.0.1:1/footer.txt")
GLOBAL_BAN = r"^.*@evil\.example$"

client = Client(URL, USER, PASS)
if os.environ.get("MAILCAST_REST_TRACE"):
    # mailmanclient's own request hook: one line per request, to stderr.
    def trace(params):
        print(f"> {params['method']} {params['url']} {params['data'] or ''}", file=sys.stderr)
        return params

    client.add_hooks([trace])
state = {}  # what one step leaves for the next: the list, the member, ...


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def equal(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def http_error(code, call, *args, **kwargs):
    """Runs call(*args, **kwargs), which must raise HTTPError with this status code."""
    try:
        call(*args, **kwargs)
    except HTTPError as error:
        equal(error.code, code, f"HTTP status of {call.__name__}")
        return error
    raise Failure(f"{call.__name__}{args} did not fail with HTTP {code}")


def fresh_list():
    return client.get_list(LIST)


def post(sender, subject):
    """Delivers a complete message to the list over LMTP."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = LIST
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="example.net")
    msg.set_content(f"{subject}\n")
    with smtplib.LMTP(LMTP_HOST, int(LMTP_PORT)) as lmtp:
        refused = lmtp.send_message(msg, from_addr=sender, to_addrs=[LIST])
    equal(refused, {}, "LMTP refused recipients")
    return msg["Message-ID"]


def wait_held(mlist, subject, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        held = [h for h in mlist.held if h.subject == subject]
        if held:
            equal(len(held), 1, f"held posts titled {subject!r}")
            return held[0]
        check(time.monotonic() < deadline, f"no held post {subject!r} after {timeout} s")
        time.sleep(0.2)


def step_system():
    system = client.system
    equal(system["api_version"], "3.1", "system api_version")
    check(system.get("mailman_version"), f"no mailman_version in {system!r}")


def step_domain():
    domain = client.create_domain(DOMAIN)
    equal(domain.mail_host, DOMAIN, "created domain's mail_host")
    check(DOMAIN in [d.mail_host for d in client.domains], f"{DOMAIN} not in client.domains")
    equal(client.get_domain(DOMAIN).mail_host, DOMAIN, "get_domain mail_host")
    state["domain"] = domain


def step_create_list():
    mlist = state["domain"].create_list("accept")
    equal(mlist.fqdn_listname, LIST, "fqdn_listname")
    equal(mlist.list_id, LIST_ID, "list_id")
    equal(mlist.list_name, "accept", "list_name")
    equal(mlist.mail_host, DOMAIN, "mail_host")
    check(mlist.display_name, "empty display_name")
    equal(mlist.member_count, 0, "member_count of a new list")
    check(LIST in [m.fqdn_listname for m in client.lists], f"{LIST} not in client.lists")
    check(LIST in [m.fqdn_listname for m in state["domain"].lists], f"{LIST} not in domain.lists")


def step_styles():
    styles = client.styles
    names = [s["name"] for s in styles["styles"]]
    for name in ("legacy-default", "legacy-announce"):
        check(name in names, f"{name} not in styles {names}")
    check(styles["default"] in names, f"default style {styles['default']!r} not in {names}")
    announce = state["domain"].create_list("announce", style_name="legacy-announce")
    equal(announce.fqdn_listname, ANNOUNCE, "announce list fqdn_listname")
    equal(announce.settings["allow_list_posts"], False, "announce list allow_list_posts")
    announce.delete()
    check(ANNOUNCE not in [m.fqdn_listname for m in client.lists], "announce list not deleted")


def step_settings():
    settings = fresh_list().settings
    check("subject_prefix" in settings, "no subject_prefix in settings")
    settings["subject_prefix"] = "[acc] "
    settings["description"] = "Acceptance list"
    settings["max_message_size"] = 80
    settings.save()
    again = fresh_list().settings
    equal(again["subject_prefix"], "[acc] ", "subject_prefix after save")
    equal(again["description"], "Acceptance list", "description after save")
    equal(again["max_message_size"], 80, "max_message_size after save")
    equal(fresh_list().description, "Acceptance list", "list resource description")
    again["max_message_size"] = "x"
    http_error(400, again.save)
    equal(fresh_list().settings["max_message_size"], 80, "max_message_size after a refused save")


def step_subscribe():
    mlist = fresh_list()
    anne = mlist.subscribe("anne@example.org", "Anne",
                           pre_verified=True, pre_confirmed=True, pre_approved=True)
    equal(anne.email, "anne@example.org", "subscribed member email")
    equal(anne.role, "member", "subscribed member role")
    equal(anne.list_id, LIST_ID, "subscribed member list_id")
    pending = mlist.subscribe("bart@example.org", pre_verified=True, pre_confirmed=False)
    check(isinstance(pending, dict), f"bart: expected a pending dict, got {pending!r}")
    check(pending.get("token"), f"no token in {pending!r}")
    equal(pending.get("token_owner"), "subscriber", "bart's token_owner")
    emails = [m.email for m in mlist.members]
    check("bart@example.org" not in emails, f"pending bart is in members {emails}")
    equal(emails, ["anne@example.org"], "members")
    equal(fresh_list().member_count, 1, "member_count")


def step_bulk():
    mlist = fresh_list()
    for email in BULK:
        mlist.subscribe(email, pre_verified=True, pre_confirmed=True, pre_approved=True)
    page = mlist.get_member_page(count=50, page=1)
    equal(len(page), 50, "entries on page 1")
    equal(page.total_size, 121, "total_size")
    check(page.has_next, "page 1 has no next")
    last = mlist.get_member_page(count=50, page=3)
    equal(len(last), 21, "entries on page 3")
    check(not last.has_next, "page 3 has a next")
    seen = {m.email for n in (1, 2, 3) for m in mlist.get_member_page(count=50, page=n)}
    equal(len(seen), 121, "distinct members over three pages")
    found = mlist.find_members("anne@example.org")
    equal([m.email for m in found], ["anne@example.org"], "find_members anne")
    check("anne@example.org" in {m.email for m in client.members}, "anne not in client.members")
    equal(fresh_list().member_count, 121, "member_count after bulk")
    member = mlist.get_member("anne@example.org")
    equal(member.email, "anne@example.org", "get_member email")
    equal(member.display_name, "Anne", "get_member display_name")
    state["anne"] = member


def step_preferences():
    anne = state["anne"]
    prefs = anne.preferences
    prefs["delivery_mode"] = "plaintext_digests"
    prefs["receive_own_postings"] = False
    prefs.save()
    again = fresh_list().get_member("anne@example.org").preferences
    equal(again["delivery_mode"], "plaintext_digests", "preference delivery_mode")
    equal(again["receive_own_postings"], False, "preference receive_own_postings")
    anne.moderation_action = "hold"
    anne.save()
    equal(fresh_list().get_member("anne@example.org").moderation_action, "hold",
          "moderation_action after save")


def step_roles():
    mlist = fresh_list()
    mlist.add_owner("owner@example.org")
    mlist.add_moderator("moderator@example.org")
    equal([m.email for m in mlist.owners], ["owner@example.org"], "owners")
    equal([m.email for m in mlist.moderators], ["moderator@example.org"], "moderators")
    check(mlist.is_owner("owner@example.org"), "is_owner(owner@example.org) is false")
    check(mlist.is_moderator("moderator@example.org"), "is_moderator is false")
    check(not mlist.is_owner("anne@example.org"), "anne is an owner")


def step_held_posts():
    mlist = fresh_list()
    mlist.settings["default_nonmember_action"] = "hold"
    mlist.settings.save()
    equal(fresh_list().settings["default_nonmember_action"], "hold", "default_nonmember_action")
    post("stranger@example.net", "Held one")
    held = wait_held(mlist, "Held one")
    equal(held.sender, "stranger@example.net", "held post sender")
    check(held.message_id, "held post without message_id")
    equal(mlist.get_held_count(), 1, "held count")
    mlist.moderate_message(held.request_id, "accept")
    check(not [h for h in mlist.held if h.request_id == held.request_id], "accepted post still held")
    post("stranger@example.net", "Held two")
    second = wait_held(mlist, "Held two")
    mlist.moderate_message(second.request_id, "discard")
    equal(len(mlist.held), 0, "held posts after discard")


def step_subscription_request():
    mlist = fresh_list()
    mlist.settings["subscription_policy"] = "moderate"
    mlist.settings.save()
    pending = mlist.subscribe("carl@example.org", pre_verified=True, pre_confirmed=True)
    check(isinstance(pending, dict), f"carl: expected a pending dict, got {pending!r}")
    equal(pending.get("token_owner"), "moderator", "carl's token_owner")
    requests = [r for r in mlist.requests if r["email"] == "carl@example.org"]
    equal(len(requests), 1, "carl's subscription requests")
    equal(requests[0]["token"], pending["token"], "request token")
    equal(requests[0]["list_id"], LIST_ID, "request list_id")
    mlist.moderate_request(pending["token"], "accept")
    equal(mlist.get_member("carl@example.org").email, "carl@example.org", "carl member email")
    check(not [r for r in mlist.requests if r["email"] == "carl@example.org"], "request left")


def step_bans():
    mlist = fresh_list()
    ban = mlist.bans.add("spam@example.net")
    equal(ban.email, "spam@example.net", "list ban email")
    check("spam@example.net" in mlist.bans, "spam@example.net not in list bans")
    check("ham@example.net" not in mlist.bans, "ham@example.net is in list bans")
    http_error(400, mlist.subscribe, "spam@example.net",
               pre_verified=True, pre_confirmed=True, pre_approved=True)
    client.bans.add(GLOBAL_BAN)
    check(GLOBAL_BAN in [b.email for b in client.bans], f"{GLOBAL_BAN} not listed globally")
    check(GLOBAL_BAN in client.bans, f"{GLOBAL_BAN} not found by its own resource")
    mlist.bans.remove("spam@example.net")
    client.bans.remove(GLOBAL_BAN)
    check("spam@example.net" not in mlist.bans, "list ban not removed")
    check(GLOBAL_BAN not in [b.email for b in client.bans], "global ban not removed")


def step_templates():
    mlist = fresh_list()
    mlist.set_template(FOOTER, FOOTER_URI)
    templates = {t.name: t.uri for t in fresh_list().templates}
    equal(templates.get(FOOTER), FOOTER_URI, f"template {FOOTER}")


def step_queues():
    queues = client.queues
    for name in ("in", "out", "bad"):
        check(name in queues, f"queue {name!r} not in {sorted(queues)}")
    for name, queue in queues.items():
        equal(queue.name, name, "queue name")
        check(isinstance(queue.directory, str) and queue.directory, f"queue {name} directory")
        check(isinstance(queue.files, list), f"queue {name} files is not a list")


def step_unsubscribe():
    mlist = fresh_list()
    mlist.unsubscribe("anne@example.org")
    try:
        mlist.get_member("anne@example.org")
    except ValueError:
        pass
    else:
        raise Failure("anne is still a member after unsubscribe")
    check(not mlist.find_members("anne@example.org", role="member"), "find_members finds anne")
    equal(fresh_list().member_count, 121, "member_count after unsubscribe (120 bulk + carl)")


def step_users():
    user = client.create_user("uma@example.org", "sekrit", "Uma")
    equal(user.display_name, "Uma", "created user's display_name")
    check(user.password and "sekrit" not in user.password, f"password in clear: {user.password!r}")
    equal([a.email for a in user.addresses], ["uma@example.org"], "a new user's addresses")
    user.add_address("Uma.Other@example.org")
    equal(sorted(a.email for a in user.addresses), ["uma.other@example.org", "uma@example.org"],
          "addresses after add_address")
    other = client.get_address("Uma.Other@example.org")
    equal(other.original_email, "Uma.Other@example.org", "original_email")
    check(not other.verified, "a new address is verified")
    other.verify()
    check(client.get_address("uma.other@example.org").verified, "verify() did not verify")
    user.preferred_address = "uma.other@example.org"
    found = client.get_user("uma.other@example.org")
    equal(found.user_id, user.user_id, "get_user by the second address")
    equal(found.preferred_address.email, "uma.other@example.org", "preferred_address")
    equal(other.user.user_id, user.user_id, "address.user")
    prefs = user.preferences
    prefs["receive_list_copy"] = False
    prefs.save()
    equal(client.get_user("uma@example.org").preferences["receive_list_copy"], False,
          "user preference receive_list_copy")
    found.display_name = "Uma U"
    found.save()
    equal(client.get_user("uma@example.org").display_name, "Uma U", "display_name after save")
    check(user.user_id in [u.user_id for u in client.users], "user not in client.users")
    state["domain"].add_owner("uma@example.org")
    equal([o.user_id for o in client.get_domain(DOMAIN).owners], [user.user_id], "domain owners")
    client.get_user("uma@example.org").delete()
    http_error(404, client.get_user, "uma@example.org")
    http_error(404, client.get_address, "uma.other@example.org")


def step_delete():
    fresh_list().delete()
    check(LIST not in [m.fqdn_listname for m in client.lists], f"{LIST} still in client.lists")
    http_error(404, client.get_list, LIST)
    state["domain"].delete()
    check(DOMAIN not in [d.mail_host for d in client.domains], f"{DOMAIN} still a domain")


STEPS = [
    ("system", step_system),
    ("domain", step_domain),
    ("create list", step_create_list),
    ("styles", step_styles),
    ("settings", step_settings),
    ("subscribe", step_subscribe),
    ("bulk members and pages", step_bulk),
    ("preferences", step_preferences),
    ("owner and moderator", step_roles),
    ("held posts", step_held_posts),
    ("subscription request", step_subscription_request),
    ("bans", step_bans),
    ("templates", step_templates),
    ("queues", step_queues),
    ("unsubscribe", step_unsubscribe),
    ("users and addresses", step_users),
    ("delete", step_delete),
]


def main():
    equal(mailmanclient.__version__, "3.3.5", "mailmanclient version")
    for name, step in STEPS:
        try:
            step()
        except Failure as failure:
            print(f"FAIL {name}: {failure}", file=sys.stderr)
            sys.exit(1)
        except HTTPError as error:
            print(f"FAIL {name}: HTTP {error.code} from {error.url}: {error.msg}",
                  file=sys.stderr)
            sys.exit(1)
        except Exception:
            print(f"FAIL {name}: unexpected error", file=sys.stderr)
            traceback.print_exc()
            sys.exit(1)
        print(f"ok {name}", flush=True)
    print(f"all {len(STEPS)} steps ok")


if __name__ == "__main__":
    main()
