use super::*;

fn load(text: &str) -> anyhow::Result<Settings> {
    Settings::from_toml(
        text,
        Path::new("/etc/mailcast"),
        Some(PathBuf::from("/etc/mailcast/mailcast.toml")),
    )
}

fn err(text: &str) -> String {
    let e = load(text).expect_err("config should be refused");
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "error must be one line: {msg:?}");
    msg
}

#[test]
fn defaults_follow_design() {
    let s = load("").unwrap();
    assert_eq!(s.var_dir, PathBuf::from("/etc/mailcast/var"));
    assert_eq!(s.database_url, "sqlite:///etc/mailcast/var/mailcast.db");
    assert_eq!(
        s.lmtp.listen,
        vec![Listen::Tcp("127.0.0.1:8024".parse().unwrap())]
    );
    assert_eq!(s.lmtp.max_message_size, 33_554_432);
    assert_eq!(s.lmtp.max_recipients, 1000);
    assert_eq!(s.lmtp.idle_timeout, Duration::from_secs(300));
    assert_eq!(s.lmtp.data_timeout, Duration::from_secs(600));
    assert_eq!(s.lmtp.max_connections, 1000);
    assert_eq!((s.smtp.host.as_str(), s.smtp.port), ("127.0.0.1", 25));
    assert_eq!(s.rest.listen, "127.0.0.1:8001".parse().unwrap());
    assert_eq!(
        (s.rest.admin_user.as_str(), s.rest.admin_pass.as_str()),
        ("restadmin", "restpass")
    );
    assert_eq!(s.mta.lmtp_port, 8024);
}

#[test]
fn fixed_keys_are_read() {
    let s = load(
        r#"
[paths]
var_dir = "/srv/mc"
[database]
url = "postgres://mc:secret@db/mailcast"
[lmtp]
listen = ["127.0.0.1:2424", "unix:run/lmtp.sock"]
max_message_size = 1000000
max_recipients = 200
idle_timeout = 60
data_timeout = 120
max_connections = 50
[smtp]
host = "mx.internal"
port = 2525
[rest]
listen = "0.0.0.0:9001"
admin_user = "a"
admin_pass = "b"
"#,
    )
    .unwrap();
    assert_eq!(s.var_dir, PathBuf::from("/srv/mc"));
    assert_eq!(s.database_url, "postgres://mc:secret@db/mailcast");
    assert_eq!(
        s.lmtp.listen,
        vec![
            Listen::Tcp("127.0.0.1:2424".parse().unwrap()),
            Listen::Unix(PathBuf::from("/etc/mailcast/run/lmtp.sock"))
        ]
    );
    assert_eq!(s.lmtp.max_recipients, 200);
    assert_eq!(s.smtp.port, 2525);
    assert_eq!(s.mta.lmtp_port, 2424);
}

#[test]
fn unknown_key_is_named() {
    let msg = err("[lmtp]\nmax_recipient = 5\n");
    assert!(msg.contains("max_recipient"), "{msg}");
    assert!(msg.contains("/etc/mailcast/mailcast.toml"), "{msg}");
    let msg = err("[nosuchsection]\nx = 1\n");
    assert!(msg.contains("nosuchsection"), "{msg}");
}

#[test]
fn wrong_type_names_the_key() {
    let msg = err("[lmtp]\nmax_recipients = \"many\"\n");
    assert!(msg.contains("lmtp.max_recipients"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn bad_values_name_the_key() {
    assert!(err("[database]\nurl = \"mysql://x\"\n").contains("database.url"));
    assert!(err("[lmtp]\nlisten = \"nowhere\"\n").contains("lmtp.listen"));
    assert!(err("[lmtp]\nmax_recipients = 10\n").contains("lmtp.max_recipients"));
    assert!(err("[lmtp]\nbare_line_endings = \"maybe\"\n").contains("lmtp.bare_line_endings"));
    assert!(
        err("[smtp]\ndelivery_retry_period = \"soon\"\n").contains("smtp.delivery_retry_period")
    );
    assert!(err("[mta]\ntransport_file_type = \"btree\"\n").contains("mta.transport_file_type"));
    assert!(err("[logging]\nformat = \"xml\"\n").contains("logging.format"));
    assert!(err("[site]\npending_request_life = \"soon\"\n").contains("site.pending_request_life"));
    assert!(err("[site]\nmaintenance_interval = 0\n").contains("site.maintenance_interval"));
    assert!(err("[site]\nnode = \"two words\"\n").contains("site.node"));
    assert!(err("[site]\nmax_autoresponses_per_day = -1\n").contains("max_autoresponses_per_day"));
}

#[test]
fn syntax_error_is_one_line_with_the_line_number() {
    let msg = err("[lmtp\n");
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn missing_explicit_file_is_named() {
    let e = Settings::load(Some(Path::new("/nonexistent/mailcast.toml"))).unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent/mailcast.toml"));
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        redact_url("postgres://mc:secret@db/x"),
        "postgres://mc:***@db/x"
    );
    assert_eq!(redact_url("postgres://mc@db/x"), "postgres://mc@db/x");
}

#[test]
fn the_rest_api_needs_a_password_beyond_loopback() {
    let m = err("[rest]\nlisten = \"0.0.0.0:8001\"\n");
    assert!(
        m.contains("rest.admin_pass") && m.contains("default"),
        "{m}"
    );
    let m = err("[rest]\nlisten = \"192.0.2.1:8001\"\nadmin_pass = \"\"\n");
    assert!(m.contains("empty"), "{m}");
    let s = load("[rest]\nlisten = \"0.0.0.0:8001\"\nadmin_pass = \"s3cret\"\n").unwrap();
    assert_eq!(s.rest.admin_pass, "s3cret");
    let s = load("[rest]\nlisten = \"[::1]:8001\"\n").unwrap();
    assert!(s.rest.listen.ip().is_loopback());
    assert!(err("[rest]\nadmin_user = \"a:b\"\n").contains("rest.admin_user"));
}

#[test]
fn web_is_off_unless_listen_is_set() {
    assert!(load("").unwrap().web.is_none());
    let s = load("[web]\nlisten = \"127.0.0.1:8002\"\n").unwrap();
    assert_eq!(s.web.unwrap().base_url, "http://127.0.0.1:8002");
    let s = load("[web]\nlisten = \"127.0.0.1:8002\"\nbase_url = \"https://lists.example.org/\"\n")
        .unwrap();
    assert_eq!(s.web.unwrap().base_url, "https://lists.example.org");
    assert!(err("[web]\nbase_url = \"https://x.example\"\n").contains("web.listen"));
    assert!(
        err("[web]\nlisten = \"127.0.0.1:8002\"\nbase_url = \"ftp://x\"\n")
            .contains("web.base_url")
    );
    assert!(err("[web]\nlisten = \"nowhere\"\n").contains("web.listen"));
}

#[test]
fn archivers_are_off_unless_enabled() {
    assert_eq!(load("").unwrap().archivers, ArchiverSettings::default());
    let s = load("[archiver.mbox]\nenable = true\n").unwrap();
    assert!(s.archivers.mbox && !s.archivers.prototype);
    let s = load("[archiver.prototype]\nenable = true\n").unwrap();
    assert!(s.archivers.prototype && !s.archivers.mbox);
    assert!(err("[archiver.mhonarc]\nenable = true\n").contains("mhonarc"));
    assert!(err("[archiver.mbox]\nenabled = true\n").contains("enabled"));
}
