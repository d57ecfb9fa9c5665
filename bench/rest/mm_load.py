"""Load N members into one GNU Mailman 3 list, with Mailman's own Python API.

Run with the Mailman venv's python:
    python mm_load.py CONFIG LIST@DOMAIN ADDRESS_FILE

Creates the domain and the list if missing (welcome and admin notices off), then
creates one address per line and subscribes it as a regular member
(IUserManager.create_address + IMailingList.subscribe, the same rows
`mailman addmembers` writes, without the subscription workflow's pendings),
committing every BATCH addresses. Already-subscribed addresses are skipped, so an
interrupted load can be resumed.
"""

import sys
import time

BATCH = 2000


def main():
    cfg, fqdn, path = sys.argv[1:4]
    from mailman.core.initialize import initialize
    initialize(cfg)
    from mailman.app.lifecycle import create_list
    from mailman.config import config
    from mailman.interfaces.domain import IDomainManager
    from mailman.interfaces.listmanager import IListManager
    from mailman.interfaces.member import MemberRole
    from mailman.interfaces.usermanager import IUserManager
    from zope.component import getUtility

    domain = fqdn.split('@', 1)[1]
    domains = getUtility(IDomainManager)
    if domains.get(domain) is None:
        domains.add(domain)
    mlist = getUtility(IListManager).get(fqdn)
    if mlist is None:
        mlist = create_list(fqdn)
    mlist.send_welcome_message = False
    mlist.admin_notify_mchanges = False
    config.db.commit()

    users = getUtility(IUserManager)
    have = {m.address.email for m in mlist.members.members}
    start = time.perf_counter()
    added = 0
    with open(path) as f:
        emails = [line.strip() for line in f if line.strip()]
    for email in emails:
        if email in have:
            continue
        address = users.get_address(email) or users.create_address(email)
        mlist.subscribe(address, MemberRole.member, send_welcome_message=False)
        added += 1
        if added % BATCH == 0:
            config.db.commit()
            rate = added / (time.perf_counter() - start)
            print(f'  {added + len(have)}/{len(emails)} members '
                  f'({rate:.0f}/s)', file=sys.stderr, flush=True)
    config.db.commit()
    secs = time.perf_counter() - start
    print(f'added {added} members in {secs:.1f} s '
          f'({mlist.members.member_count} on the list)')


if __name__ == '__main__':
    main()
