#!/usr/bin/env python3
"""Drives Postorius 1.3.13, served against a running mailcast, in headless Chromium.

Each step acts through the web pages only (posts go in over LMTP, settings are checked with
the mailcast CLI) and asserts on what the page shows; it prints `ok <step>`. The first
failure prints `FAIL <step>: ...`, saves a screenshot and the page's HTML under
POSTORIUS_SHOTS, and exits 1.

Environment: POSTORIUS_URL (http://127.0.0.1:PORT), POSTORIUS_ADMIN_USER,
POSTORIUS_ADMIN_PASS, POSTORIUS_ADMIN_EMAIL, MAILCAST_LMTP (host:port), MAILCAST_DOMAIN,
MAILCAST_BIN and MAILCAST_CONFIG (the CLI), MAILCAST_REST_URL/USER/PASS (one subscription
request is made through the REST API, as a member's own web page would), POSTORIUS_SHOTS
(the failure screenshots directory); with SAVE_DOC_SCREENSHOTS=1 also POSTORIUS_DOC_SHOTS
(where postorius-list-settings.png and postorius-held-messages.png are written).
Run with the venv scripts/postorius-up.sh makes: .venv-postorius/bin/python THIS_FILE
"""

import base64
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"browser.py: {name} is not set")
    return value


BASE = env("POSTORIUS_URL").rstrip("/")
ADMIN_USER = env("POSTORIUS_ADMIN_USER")
ADMIN_PASS = env("POSTORIUS_ADMIN_PASS")
ADMIN_EMAIL = env("POSTORIUS_ADMIN_EMAIL")
LMTP_HOST, _, LMTP_PORT = env("MAILCAST_LMTP").rpartition(":")
DOMAIN = env("MAILCAST_DOMAIN")
MAILCAST_BIN = env("MAILCAST_BIN")
MAILCAST_CONFIG = env("MAILCAST_CONFIG")
REST_URL = env("MAILCAST_REST_URL").rstrip("/")
REST_AUTH = base64.b64encode(
    f"{env('MAILCAST_REST_USER')}:{env('MAILCAST_REST_PASS')}".encode()
).decode()
SHOTS = env("POSTORIUS_SHOTS")
DOC_SHOTS = os.environ.get("POSTORIUS_DOC_SHOTS") if os.environ.get("SAVE_DOC_SCREENSHOTS") == "1" else None

LIST = f"browse@{DOMAIN}"
LIST_ID = f"browse.{DOMAIN}"
MEMBERS = [f"reader{i:02}@example.org" for i in range(30)]
HELD_SUBJECT = "A post from a stranger"
STRANGER = "stranger@example.net"
APPLICANT = "applicant@example.org"
BANNED = "spammer@example.com"
# How long a page may take to show what a step waits for (held posts arrive asynchronously).
PATIENCE = 20.0


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='postorius-chromium-')}",
    ):
        options.add_argument(flag)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    return driver


driver = browser()


def go(path):
    driver.get(BASE + path)
    no_error_page()


def text():
    return driver.find_element(By.TAG_NAME, "body").text


def no_error_page():
    """Postorius shows a traceback page or its API error page when something broke."""
    body = text()
    for marker in ("Server Error (500)", "Traceback", "Mailman REST API not available",
                   "Something went wrong"):
        check(marker not in body, f"{driver.current_url} shows {marker!r}:\n{body[:2000]}")


def shows(*snippets):
    body = text()
    for snippet in snippets:
        check(snippet in body, f"{driver.current_url} does not show {snippet!r}:\n{body[:3000]}")


def field(name):
    return driver.find_element(By.NAME, name)


def fill(name, value):
    element = field(name)
    element.clear()
    element.send_keys(value)


def submit(form_child_name=None, button=None):
    """Clicks `button` (a CSS selector) or the submit button of the form holding the field,
    and waits for the next page."""
    if button:
        target = driver.find_element(By.CSS_SELECTOR, button)
    else:
        form = field(form_child_name).find_element(By.XPATH, "./ancestor::form")
        target = form.find_element(By.CSS_SELECTOR, "[type=submit]")
    click_and_wait(target)


def press(element):
    """A click from the page's own script: Postorius's sticky footer covers buttons at the
    bottom of long forms, where a pointer click would be refused."""
    driver.execute_script("arguments[0].click()", element)


def click_and_wait(element):
    page = driver.find_element(By.TAG_NAME, "html")
    press(element)
    WebDriverWait(driver, PATIENCE).until(staleness_of(page))
    WebDriverWait(driver, PATIENCE).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    no_error_page()


def until(what, condition, reload=True):
    deadline = time.monotonic() + PATIENCE
    while True:
        if condition():
            return
        check(time.monotonic() < deadline, f"timed out waiting until {what}:\n{text()[:3000]}")
        time.sleep(0.5)
        if reload:
            driver.refresh()


def cli(*args):
    out = subprocess.run([MAILCAST_BIN, "--config", MAILCAST_CONFIG, *args],
                         capture_output=True, text=True, check=False)
    check(out.returncode == 0, f"mailcast {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def rest(method, path, **params):
    data = urllib.parse.urlencode(params).encode() if params else None
    request = urllib.request.Request(REST_URL + path, data=data, method=method,
                                     headers={"Authorization": f"Basic {REST_AUTH}"})
    with urllib.request.urlopen(request) as response:
        body = response.read()
        return json.loads(body) if body else None


def doc_shot(name):
    if DOC_SHOTS:
        os.makedirs(DOC_SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(DOC_SHOTS, name))


def step_login():
    go("/accounts/login/")
    fill("login", ADMIN_USER)
    fill("password", ADMIN_PASS)
    submit("password")
    go("/postorius/lists/")
    # A superuser's menu: the system pages, and (with no domain yet) the domain creation.
    shows("Mailing Lists", "System Information", "Users", "Create New Domain")
    check("Sign Up" not in text(), "still offered a sign-up after logging in")


def step_domain():
    go("/postorius/domains/new/")
    fill("mail_host", DOMAIN)
    fill("description", "Lists made in the browser test")
    submit("mail_host")
    go("/postorius/domains/")
    shows(DOMAIN, "Lists made in the browser test")


def step_list():
    go("/postorius/lists/new/")
    fill("listname", "browse")
    Select(field("mail_host")).select_by_value(DOMAIN)
    fill("list_owner", ADMIN_EMAIL)
    fill("description", "Browsed by Chromium")
    submit("listname")
    go("/postorius/lists/")
    shows(LIST, "Browsed by Chromium")
    go(f"/postorius/lists/{LIST_ID}/")
    shows(LIST)


def step_settings():
    go(f"/postorius/lists/{LIST_ID}/settings/list_identity")
    shows("List Identity", "Subject prefix")
    fill("subject_prefix", "[web] ")
    submit("subject_prefix")
    shows("The settings have been updated")
    check(field("subject_prefix").get_attribute("value").strip() == "[web]",
          f"subject prefix on the page: {field('subject_prefix').get_attribute('value')!r}")
    shown = cli("lists", "show", LIST)
    check("[web] " in shown, f"mailcast lists show has no '[web] ':\n{shown}")
    doc_shot("postorius-list-settings.png")


def step_template():
    """A template saved in Postorius reaches mailcast: Postorius gives the core the URL of its
    template view, and mailcast fetches the text then; an edit sets the URL again."""
    footer = "list:member:regular:footer"
    go(f"/postorius/lists/{LIST_ID}/templates/new")
    Select(field("name")).select_by_value(footer)
    fill("data", "-- \nSaved in Postorius for the $display_name list\n")
    submit("data")
    shows(footer)
    shown = cli("templates", "show", footer, "--list", LIST)
    check("Saved in Postorius for the $display_name list" in shown,
          f"mailcast templates show after the save:\n{shown}")
    edit = driver.find_element(By.CSS_SELECTOR, "a[href$='/update']")
    click_and_wait(edit)
    fill("data", "-- \nEdited in Postorius\n")
    submit("data")
    shown = cli("templates", "show", footer, "--list", LIST)
    check("Edited in Postorius" in shown, f"mailcast templates show after the edit:\n{shown}")


def step_mass_subscribe():
    go(f"/postorius/lists/{LIST_ID}/mass_subscribe/")
    fill("emails", "\n".join(MEMBERS))
    for name in ("pre_verified", "pre_confirmed", "pre_approved"):
        box = field(name)
        if not box.is_selected():
            press(box)
    submit("emails")
    shows(f"The address {MEMBERS[0]} has been subscribed to {LIST}",
          f"The address {MEMBERS[-1]} has been subscribed to {LIST}")
    go(f"/postorius/lists/{LIST_ID}/members/member/?count=10&page=1")
    shows(MEMBERS[0], MEMBERS[9], "30")
    check(MEMBERS[10] not in text(), "page 1 of 10 shows the 11th member")
    go(f"/postorius/lists/{LIST_ID}/members/member/?count=10&page=3")
    shows(MEMBERS[20], MEMBERS[29])
    check(MEMBERS[0] not in text(), "page 3 shows the first member")


def step_subscribe_self():
    """The superuser subscribes from the list's page with its primary address: Postorius
    sends its user id as the subscriber."""
    go(f"/postorius/lists/{LIST_ID}/")
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/subscribe']")
    click_and_wait(form.find_element(By.CSS_SELECTOR, "[type=submit]"))
    shows(f"You are subscribed to {LIST}.")
    go(f"/postorius/lists/{LIST_ID}/members/member/?q={ADMIN_EMAIL}")
    shows(ADMIN_EMAIL)
    shown = cli("members", "list", LIST)
    check(ADMIN_EMAIL in shown, f"mailcast members list has no {ADMIN_EMAIL}:\n{shown}")


def post(sender, subject):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = LIST
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="example.net")
    msg.set_content(f"{subject}\n")
    with smtplib.LMTP(LMTP_HOST, int(LMTP_PORT)) as lmtp:
        refused = lmtp.send_message(msg, from_addr=sender, to_addrs=[LIST])
    check(refused == {}, f"LMTP refused {refused}")


def step_held():
    post(STRANGER, HELD_SUBJECT)
    go(f"/postorius/lists/{LIST_ID}/held_messages")
    until("the held post is listed", lambda: HELD_SUBJECT in text())
    shows(STRANGER)
    doc_shot("postorius-held-messages.png")
    press(driver.find_element(By.CSS_SELECTOR, "input.message-checkbox"))
    submit(button="input[name=accept]")
    shows("accepted")
    go(f"/postorius/lists/{LIST_ID}/held_messages")
    check(HELD_SUBJECT not in text(), "the accepted post is still held")


def step_moderated_subscription():
    go(f"/postorius/lists/{LIST_ID}/settings/subscription_policy")
    Select(field("subscription_policy")).select_by_value("moderate")
    submit("subscription_policy")
    shows("The settings have been updated")
    pending = rest("POST", "/members", list_id=LIST_ID, subscriber=APPLICANT,
                   pre_verified="true", pre_confirmed="true")
    check(pending and pending.get("token_owner") == "moderator",
          f"the subscription does not wait for a moderator: {pending}")
    go(f"/postorius/lists/{LIST_ID}/subscription_requests")
    until("the request is listed", lambda: APPLICANT in text())
    row = driver.find_element(By.XPATH, f"//tr[contains(., '{APPLICANT}')]")
    click_and_wait(row.find_element(By.CSS_SELECTOR, "input[name=accept]"))
    shows("The request has been accepted.")
    go(f"/postorius/lists/{LIST_ID}/members/member/?q={APPLICANT}")
    shows(APPLICANT)


def step_ban():
    go(f"/postorius/lists/{LIST_ID}/bans/")
    fill("email", BANNED)
    submit("email")
    shows(f"{BANNED} has been banned")
    go(f"/postorius/lists/{LIST_ID}/bans/")
    shows(BANNED)


def step_delete():
    go(f"/postorius/lists/{LIST_ID}/delete")
    shows(LIST)
    submit(button="form button[type=submit]")
    go("/postorius/lists/")
    check(LIST not in text(), "the deleted list is still listed")
    shown = cli("lists", "list")
    check(LIST not in shown, f"mailcast lists list still has the list:\n{shown}")


STEPS = [
    step_login,
    step_domain,
    step_list,
    step_settings,
    step_template,
    step_mass_subscribe,
    step_subscribe_self,
    step_held,
    step_moderated_subscription,
    step_ban,
    step_delete,
]


def main():
    try:
        for step in STEPS:
            name = step.__name__.removeprefix("step_")
            try:
                step()
            except Exception as error:  # noqa: BLE001: every failure is reported the same way
                os.makedirs(SHOTS, exist_ok=True)
                driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
                with open(os.path.join(SHOTS, f"{name}.html"), "w") as page:
                    page.write(driver.page_source)
                detail = str(error) if isinstance(error, Failure) else traceback.format_exc()
                print(f"FAIL {name}: {detail}\n(screenshot: {SHOTS}/{name}.png, "
                      f"page: {driver.current_url})")
                return 1
            print(f"ok {name}", flush=True)
        print(f"all {len(STEPS)} steps ok")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
