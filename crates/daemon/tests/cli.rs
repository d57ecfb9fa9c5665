//! The admin command line, black box: the real binary against a fresh database, on SQLite and
//! on PostgreSQL (each test runs on both; see mailcast_store::testing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailcast_store::testing::TestDb;

/// A temporary installation: var dir and config file pointing at a test database.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new(db: &TestDb) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("mailcast.toml");
        std::fs::write(
            &config,
            format!(
                "[paths]\nvar_dir = \"var\"\n[database]\nurl = \"{}\"\n[mta]\npostmap_command = \"true\"\n",
                db.url()
            ),
        )
        .expect("write config");
        Site { dir, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        run_with_config(&self.config, args)
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail with one clear line; returns that line.
    fn fails(&self, args: &[&str]) -> String {
        fails(self.run(args), args)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn run_with_config(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailcast"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAILCAST_CONFIG")
        .output()
        .expect("run mailcast")
}

fn fails(out: Output, args: &[&str]) -> String {
    assert!(
        !out.status.success(),
        "{args:?} should fail but succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: expected one line of error, got {err:?}"
    );
    assert!(lines[0].starts_with("mailcast: error: "), "{err}");
    lines[0].to_string()
}

async fn domains_lists_and_settings(db: TestDb) {
    let site = Site::new(&db);
    site.ok(&["domains", "add", "a.example"]);
    site.ok(&[
        "domains",
        "add",
        "b.example",
        "--alias-domain",
        "x.b.example",
    ]);
    assert_eq!(
        site.ok(&["domains", "list"]),
        "a.example\nb.example\talias_domain=x.b.example\n"
    );
    site.ok(&["lists", "create", "Dev@A.example"]);
    site.ok(&["lists", "create", "dev@b.example"]);
    let lists = site.ok(&["lists", "list"]);
    assert_eq!(lists, "dev@a.example\tDev\ndev@b.example\tDev\n");
    assert_eq!(
        site.ok(&["lists", "list", "--domain", "b.example"]),
        "dev@b.example\tDev\n"
    );
    site.ok(&[
        "lists",
        "set",
        "dev@a.example",
        "default_nonmember_action=reject",
        "subject_prefix=[a] ",
    ]);
    let shown = site.ok(&["lists", "show", "dev@a.example"]);
    assert!(shown.contains("list_id = dev.a.example"), "{shown}");
    assert!(
        shown.contains("default_nonmember_action = \"reject\""),
        "{shown}"
    );
    assert!(shown.contains("subject_prefix = \"[a] \""), "{shown}");
    let other = site.ok(&["lists", "show", "dev@b.example"]);
    assert!(
        other.contains("default_nonmember_action = \"hold\""),
        "{other}"
    );
    assert!(other.contains("subject_prefix = \"[Dev] \""), "{other}");
    // Every list keeps a var/lists/<list-id>/ directory (Mailman's Exim recipe checks it).
    assert!(site.path("var/lists/dev.a.example").is_dir());
    site.ok(&["lists", "remove", "dev@a.example"]);
    assert_eq!(site.ok(&["lists", "list"]), "dev@b.example\tDev\n");
    assert!(!site.path("var/lists/dev.a.example").exists());
    let refused = site.fails(&["domains", "remove", "b.example"]);
    assert!(refused.contains("b.example"), "{refused}");
    site.ok(&["domains", "remove", "b.example", "--force"]);
    assert_eq!(site.ok(&["lists", "list"]), "");
}

async fn members_import_is_idempotent_and_counts(db: TestDb) {
    let site = Site::new(&db);
    site.ok(&["domains", "add", "example.org"]);
    site.ok(&["lists", "create", "ant@example.org"]);
    let file = site.path("members.txt");
    std::fs::write(
        &file,
        "# a comment\nanne@example.com\nBart Person <bart@example.com>\n\n\"Cat, C.\" <cat@example.com>\nANNE@example.com\n",
    )
    .unwrap();
    let out = site.ok(&[
        "members",
        "add",
        "ant@example.org",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.trim(),
        "ant@example.org: added 3, already members 1, invalid 0"
    );
    let out = site.ok(&[
        "members",
        "add",
        "ant@example.org",
        "--file",
        file.to_str().unwrap(),
        "dave@example.com",
    ]);
    assert_eq!(
        out.trim(),
        "ant@example.org: added 1, already members 4, invalid 0"
    );
    let listed = site.ok(&["members", "list", "ant@example.org"]);
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(
        listed.contains("Bart Person <bart@example.com>\tmember\tenabled"),
        "{listed}"
    );
    site.ok(&[
        "members",
        "add",
        "ant@example.org",
        "--role",
        "owner",
        "owner@example.com",
    ]);
    assert_eq!(
        site.ok(&["members", "list", "ant@example.org", "--role", "owner"])
            .lines()
            .count(),
        1
    );
    site.ok(&["members", "remove", "ant@example.org", "dave@example.com"]);
    assert_eq!(
        site.ok(&["members", "list", "ant@example.org", "--role", "member"])
            .lines()
            .count(),
        3
    );
    let err = site.fails(&["members", "remove", "ant@example.org", "nobody@example.com"]);
    assert!(err.contains("nobody@example.com"), "{err}");
}

async fn members_from_stdin_and_invalid_lines(db: TestDb) {
    let site = Site::new(&db);
    site.ok(&["domains", "add", "example.org"]);
    site.ok(&["lists", "create", "ant@example.org"]);
    let file = site.path("bad.txt");
    std::fs::write(
        &file,
        "good@example.com\nnot an address\nalso@example.com\n",
    )
    .unwrap();
    let err = site.fails(&[
        "members",
        "add",
        "ant@example.org",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        site.ok(&["members", "list", "ant@example.org"]),
        "",
        "nothing is half-written"
    );
    let out = site.ok(&[
        "members",
        "add",
        "ant@example.org",
        "--skip-invalid",
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.contains("added 2, already members 0, invalid 1"),
        "{out}"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcast"))
        .args([
            "--config",
            site.config.to_str().unwrap(),
            "members",
            "add",
            "ant@example.org",
            "--file",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"stdin1@example.com\nStdin Two <stdin2@example.com>\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("added 2"),
        "{out:?}"
    );
}

async fn bad_input_gets_one_clear_line(db: TestDb) {
    let site = Site::new(&db);
    site.ok(&["domains", "add", "d.example"]);
    site.ok(&["lists", "create", "dup@d.example"]);
    let long = format!("{}@d.example", "a".repeat(65));
    for (args, needle) in [
        (vec!["lists", "create", "../x@d.example"], "../x"),
        (vec!["lists", "create", "a/b@d.example"], "a/b"),
        (vec!["lists", "create", "a b@d.example"], "a b"),
        (vec!["lists", "create", long.as_str()], "aaaa"),
        (
            vec!["lists", "create", "x@nosuch.example"],
            "nosuch.example",
        ),
        (vec!["lists", "create", "dup@d.example"], "dup"),
        (vec!["lists", "create", "DUP@d.example"], "dup"),
        (
            vec!["lists", "remove", "ghost@d.example"],
            "ghost@d.example",
        ),
        (vec!["lists", "show", "ghost@d.example"], "ghost@d.example"),
        (
            vec!["lists", "set", "dup@d.example", "no_such_setting=1"],
            "no_such_setting",
        ),
        (
            vec!["lists", "set", "dup@d.example", "max_message_size=big"],
            "max_message_size",
        ),
        (
            vec![
                "lists",
                "set",
                "dup@d.example",
                "default_member_action=maybe",
            ],
            "default_member_action",
        ),
        (
            vec!["lists", "set", "dup@d.example", "emergency"],
            "emergency",
        ),
        (
            vec!["members", "add", "dup@d.example", "not-an-address"],
            "not-an-address",
        ),
        (
            vec!["members", "add", "ghost@d.example", "a@b.example"],
            "ghost@d.example",
        ),
        (vec!["domains", "add", "bad domain"], "bad domain"),
        (vec!["domains", "add", "d.example"], "d.example"),
        (vec!["queue", "show", "not/an/id"], "not/an/id"),
    ] {
        let line = site.fails(&args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
    // A refused setting change leaves the others untouched (validated before anything is saved).
    site.fails(&[
        "lists",
        "set",
        "dup@d.example",
        "emergency=true",
        "max_num_recipients=-1",
    ]);
    assert!(
        site.ok(&["lists", "show", "dup@d.example"])
            .contains("emergency = false")
    );
}

async fn member_settings_bans_requests_and_templates(db: TestDb) {
    let site = Site::new(&db);
    site.ok(&["domains", "add", "t.example"]);
    site.ok(&["lists", "create", "ant@t.example"]);
    site.ok(&[
        "members",
        "add",
        "ant@t.example",
        "Anne Lee <anne@x.example>",
    ]);
    site.ok(&[
        "members",
        "set",
        "ant@t.example",
        "anne@x.example",
        "moderation_action=hold",
        "receive_own_postings=false",
        "delivery_mode=mime_digests",
    ]);
    let listed = site.ok(&["members", "list", "ant@t.example"]);
    assert!(
        listed.contains("moderation_action=hold")
            && listed.contains("delivery_mode=mime_digests")
            && listed.contains("receive_own_postings=false"),
        "{listed}"
    );
    site.ok(&[
        "members",
        "set",
        "ant@t.example",
        "anne@x.example",
        "moderation_action=-",
    ]);
    assert!(
        !site
            .ok(&["members", "list", "ant@t.example"])
            .contains("moderation_action")
    );
    let line = fails(
        site.run(&[
            "members",
            "set",
            "ant@t.example",
            "anne@x.example",
            "colour=blue",
        ]),
        &["members", "set"],
    );
    assert!(line.contains("unknown member setting"), "{line}");
    let line = fails(
        site.run(&[
            "members",
            "set",
            "ant@t.example",
            "nobody@x.example",
            "hide_address=true",
        ]),
        &["members", "set"],
    );
    assert!(line.contains("nobody@x.example"), "{line}");

    // Settings stored but not acted on are named, as a warning and in `lists show`.
    let out = site.run(&[
        "lists",
        "set",
        "ant@t.example",
        "gateway_to_news=true",
        "emergency=false",
    ]);
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("gateway_to_news") && !warning.contains("emergency"),
        "{warning}"
    );
    let shown = site.ok(&["lists", "show", "ant@t.example"]);
    assert!(
        shown.contains("gateway_to_news = true    # stored, not acted on yet"),
        "{shown}"
    );

    site.ok(&["bans", "add", "^.*@spam\\.example$", "ant@t.example"]);
    site.ok(&["bans", "add", "eve@x.example", "--global"]);
    assert_eq!(
        site.ok(&["bans", "list", "ant@t.example"]),
        "^.*@spam\\.example$\n"
    );
    assert_eq!(site.ok(&["bans", "list", "--global"]), "eve@x.example\n");
    site.ok(&["bans", "remove", "eve@x.example", "--global"]);
    assert_eq!(site.ok(&["bans", "list", "--global"]), "");
    let line = fails(
        site.run(&["bans", "add", "^([", "--global"]),
        &["bans", "add"],
    );
    assert!(line.contains("^(["), "{line}");

    assert_eq!(site.ok(&["requests", "list", "ant@t.example"]), "");
    let line = fails(
        site.run(&["requests", "approve", "ant@t.example", "0123abcd"]),
        &["requests", "approve"],
    );
    assert!(line.contains("did not match"), "{line}");

    let names = site.ok(&["templates", "list", "--names"]);
    assert!(names.contains("list:user:notice:welcome\n"), "{names}");
    let default = site.ok(&["templates", "show", "list:user:notice:welcome"]);
    assert!(default.contains("$display_name"), "{default}");
    let file = site.dir.path().join("welcome.txt");
    std::fs::write(&file, "Hello from $display_name!\n").unwrap();
    site.ok(&[
        "templates",
        "set",
        "list:user:notice:welcome",
        file.to_str().unwrap(),
        "--list",
        "ant@t.example",
    ]);
    site.ok(&[
        "templates",
        "set",
        "list:user:notice:goodbye",
        "--text",
        "Bye.",
        "--domain",
        "t.example",
    ]);
    assert_eq!(
        site.ok(&[
            "templates",
            "show",
            "list:user:notice:welcome",
            "--list",
            "ant@t.example"
        ]),
        "Hello from $display_name!\n"
    );
    let listed = site.ok(&["templates", "list"]);
    assert!(
        listed.contains("list ant@t.example\tlist:user:notice:welcome\tfile://"),
        "{listed}"
    );
    assert!(
        listed.contains("domain t.example\tlist:user:notice:goodbye"),
        "{listed}"
    );
    site.ok(&[
        "templates",
        "remove",
        "list:user:notice:welcome",
        "--list",
        "ant@t.example",
    ]);
    let line = fails(
        site.run(&["templates", "set", "list:no:such:thing", "--text", "x"]),
        &["templates", "set"],
    );
    assert!(line.contains("list:no:such:thing"), "{line}");
}

mailcast_store::backend_tests!(
    member_settings_bans_requests_and_templates,
    domains_lists_and_settings,
    members_import_is_idempotent_and_counts,
    members_from_stdin_and_invalid_lines,
    bad_input_gets_one_clear_line,
);

#[test]
fn unreachable_database_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailcast.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"postgres://mc:s3cret@127.0.0.1:1/mailcast\"\n",
    )
    .unwrap();
    let line = fails(
        run_with_config(&config, &["lists", "list"]),
        &["lists", "list"],
    );
    assert!(
        line.contains("postgres://mc:***@127.0.0.1:1/mailcast"),
        "{line}"
    );
    assert!(!line.contains("s3cret"), "{line}");
}

#[test]
fn config_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailcast.toml");
    std::fs::write(&config, "[lmtp]\nmax_recipents = 10\n").unwrap();
    let line = fails(
        run_with_config(&config, &["lists", "list"]),
        &["lists", "list"],
    );
    assert!(
        line.contains("max_recipents") && line.contains("mailcast.toml"),
        "{line}"
    );
    let missing = dir.path().join("nope.toml");
    let line = fails(
        run_with_config(&missing, &["lists", "list"]),
        &["lists", "list"],
    );
    assert!(line.contains("nope.toml"), "{line}");
}
