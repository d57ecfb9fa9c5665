//! dkimpy (from the `.venv` scripts/tools-install.sh makes) as the independent DKIM verifier
//! of the end-to-end tests, with the public keys asked from the loopback NSD
//! ([`super::nsd`]) through dnspython: the keys come from DNS as a receiver's would.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::nsd::Nsd;

/// dkimpy's verdict on each file, the keys asked from NSD at 127.0.0.1:<argv[1]>.
const VERIFY: &str = r#"
import sys
import dkim, dns.resolver
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(sys.argv[1])
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        answer = resolver.resolve(name, "TXT", lifetime=timeout)
    except Exception:
        return None
    return b"".join(b"".join(r.strings) for r in answer)
for path in sys.argv[2:]:
    print(bool(dkim.verify(open(path, "rb").read(), dnsfunc=dnsfunc)))
"#;

/// The venv's Python when it can import `modules` (comma-separated, e.g. `"dkim, nacl"`);
/// `None` (skip) outside CI, a failure under `CI=true`.
pub fn python(modules: &str) -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the .venv cannot import {modules} (run scripts/tools-install.sh)"
    );
    eprintln!("skipped: the .venv cannot import {modules} (run scripts/tools-install.sh)");
    None
}

/// dkimpy's verdict on each message, one per message, in order.
pub fn verify(python: &Path, nsd: &Nsd, messages: &[Vec<u8>]) -> Vec<bool> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec![
        "-c".to_string(),
        VERIFY.to_string(),
        nsd.addr().port().to_string(),
    ];
    for (i, data) in messages.iter().enumerate() {
        let path = dir.path().join(format!("{i}.eml"));
        std::fs::write(&path, data).expect("write a copy");
        args.push(path.display().to_string());
    }
    let out = Command::new(python)
        .args(&args)
        .output()
        .expect("run dkimpy");
    assert!(
        out.status.success(),
        "dkimpy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim() == "True")
        .collect();
    assert_eq!(verdicts.len(), messages.len(), "one verdict per message");
    verdicts
}

/// The TXT data of `mailcast dkim keygen`'s one-line record (`NAME. IN TXT "…" "…"`).
pub fn txt_data(line: &str) -> String {
    let quoted = line.split_once(" IN TXT ").expect("a TXT record").1;
    quoted
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat()
}
