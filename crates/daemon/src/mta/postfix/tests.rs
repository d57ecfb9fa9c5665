//! Golden files: testdata/mta/<case>/<file>. `UPDATE_EXPECT=1` rewrites them.

use super::*;
use crate::mta::{exim, sendmail};

const NOW: &str = "2026-01-01 00:00:00";

fn list(name: &str, host: &str, alias: Option<&str>) -> MtaList {
    MtaList {
        name: name.into(),
        mail_host: host.into(),
        alias_domain: alias.map(String::from),
    }
}

fn check(case: &str, file: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/mta")
        .join(case)
        .join(file);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (UPDATE_EXPECT=1 to rewrite)",
        path.display()
    );
}

fn three_domains() -> Vec<MtaList> {
    vec![
        list("test", "example.com", None),
        list("other", "example.net", None),
        list("third", "example.org", Some("x.example.org")),
    ]
}

#[test]
fn header_has_seven_lines() {
    let h = header(NOW, "    ");
    assert_eq!(h.lines().count(), 7);
    assert_eq!(h.lines().nth(6), Some("    "));
    assert_eq!(header(NOW, "").lines().nth(6), Some(""));
}

#[test]
fn one_list_hash() {
    let lists = [list("test", "example.com", None)];
    check(
        "one-list",
        "postfix_lmtp",
        &lmtp(&lists, MapKind::Hash, "127.0.0.1", 9024, NOW),
    );
    check(
        "one-list",
        "postfix_domains",
        &domains(&lists, MapKind::Hash, NOW),
    );
    assert_eq!(vmap(&lists, MapKind::Hash, NOW), None);
}

#[test]
fn two_lists_sorted_within_domain() {
    let lists = [
        list("test", "example.com", None),
        list("other", "example.com", None),
    ];
    check(
        "two-lists",
        "postfix_lmtp",
        &lmtp(&lists, MapKind::Hash, "127.0.0.1", 9024, NOW),
    );
    check(
        "two-lists",
        "postfix_domains",
        &domains(&lists, MapKind::Hash, NOW),
    );
}

#[test]
fn three_domains_with_alias_domain() {
    let lists = three_domains();
    check(
        "alias-domain",
        "postfix_lmtp",
        &lmtp(&lists, MapKind::Hash, "127.0.0.1", 9024, NOW),
    );
    check(
        "alias-domain",
        "postfix_domains",
        &domains(&lists, MapKind::Hash, NOW),
    );
    check(
        "alias-domain",
        "postfix_vmap",
        &vmap(&lists, MapKind::Hash, NOW).unwrap(),
    );
}

#[test]
fn regex_mode() {
    let lists = [
        list("test", "example.com", None),
        list("test.list.name.dots", "example.com", None),
    ];
    check(
        "regex",
        "postfix_lmtp",
        &lmtp(&lists, MapKind::Regex, "127.0.0.1", 9024, NOW),
    );
    check(
        "regex",
        "postfix_domains",
        &domains(&lists, MapKind::Regex, NOW),
    );
    let aliased = [list("other", "example.org", Some("x.example.org"))];
    check(
        "regex-alias",
        "postfix_lmtp",
        &lmtp(&aliased, MapKind::Regex, "127.0.0.1", 9024, NOW),
    );
    check(
        "regex-alias",
        "postfix_vmap",
        &vmap(&aliased, MapKind::Regex, NOW).unwrap(),
    );
}

#[test]
fn same_name_in_two_domains() {
    let lists = [
        list("dev", "a.example", None),
        list("dev", "b.example", None),
    ];
    let text = lmtp(&lists, MapKind::Hash, "127.0.0.1", 8024, NOW);
    assert!(text.contains("dev@a.example "));
    assert!(text.contains("dev@b.example "));
    check("virtual-hosting", "postfix_lmtp", &text);
}

#[test]
fn maildir_and_pipe_modes() {
    let lists = three_domains();
    check(
        "maildir",
        "postfix_vmailbox",
        &vmailbox(&lists, MapKind::Hash, NOW),
    );
    check(
        "maildir",
        "postfix_vmailbox_domains",
        &vmailbox_domains(&lists, MapKind::Hash, NOW),
    );
    check(
        "pipe",
        "postfix_pipe_vmap",
        &pipe_vmap(&lists, MapKind::Hash, NOW),
    );
    check(
        "pipe",
        "postfix_pipe_domains",
        &pipe_domains(&lists, MapKind::Hash, NOW),
    );
    check(
        "pipe",
        "postfix_aliases",
        &pipe_aliases(&lists, "/usr/bin/mailcast --config /etc/mailcast.toml", NOW),
    );
}

#[test]
fn exim_and_sendmail() {
    let lists = three_domains();
    let cfg = exim::render(&lists, "127.0.0.1", 8024, "/var/lib/mailcast", NOW);
    check("exim", "exim4_mailcast_main", &cfg.main);
    check("exim", "exim4_mailcast_router", &cfg.router);
    check("exim", "exim4_mailcast_transport", &cfg.transport);
    check(
        "sendmail",
        "sendmail_mailertable",
        &sendmail::mailertable(&lists, "127.0.0.1", NOW),
    );
    check(
        "sendmail",
        "sendmail_mailer.m4",
        &sendmail::mailer(8024, NOW),
    );
}
