"""dkimpy's side of crates/daemon/tests/arc.rs: the independent ARC signer and verifier.

    dkimpy_arc.py sign AUTHOR_KEY IN OUT
        IN as a poster at author.test signs it (DKIM, s=s1); written to OUT.
    dkimpy_arc.py forward AUTHOR_KEY FORWARDER_KEY IN OUT
        IN as a poster at author.test signs it (DKIM, s=s1) and a forwarder at forwarder.test
        records its results (Authentication-Results of mx.forwarder.test) and seals it
        (ARC i=1, s=f1); written to OUT.
    dkimpy_arc.py verify NSD_PORT FILE...
        One line per FILE: the ARC chain's verdict (pass, fail or none), whether its first
        DKIM signature verifies (True or False), and dkimpy's reason. Keys are looked up in
        the loopback NSD at 127.0.0.1:NSD_PORT.
"""

import sys

import dkim
import dns.resolver

SIGNED = [b"From", b"To", b"Subject", b"Date", b"Message-ID"]


def signed(author_key, source):
    message = open(source, "rb").read()
    return dkim.sign(message, b"s1", b"author.test", open(author_key, "rb").read(),
                     include_headers=SIGNED) + message


def forward(author_key, forwarder_key, source, target):
    message = signed(author_key, source)
    message = (b"Authentication-Results: mx.forwarder.test; dkim=pass header.d=author.test;"
               b" spf=pass smtp.mailfrom=author.test\r\n") + message
    arc_set = dkim.arc_sign(message, b"f1", b"forwarder.test", open(forwarder_key, "rb").read(),
                            b"mx.forwarder.test", include_headers=SIGNED)
    if len(arc_set) != 3:
        sys.exit("dkimpy made no ARC set")
    open(target, "wb").write(b"".join(arc_set) + message)


def verify(port, paths):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(port)

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout)
        except Exception:
            return None
        for rdata in answer:
            return b"".join(rdata.strings)
        return None

    for path in paths:
        data = open(path, "rb").read()
        cv, _results, reason = dkim.arc_verify(data, dnsfunc=dnsfunc)
        signed = dkim.verify(data, dnsfunc=dnsfunc)
        print(cv.decode(), signed, reason)


if __name__ == "__main__":
    if sys.argv[1] == "sign":
        open(sys.argv[4], "wb").write(signed(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "forward":
        forward(*sys.argv[2:6])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: dkimpy_arc.py sign|forward|verify ...")
