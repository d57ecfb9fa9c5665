//! Membership by mail, end to end and black box: the real `mailcast serve`, an SMTP sink as
//! the members' servers, mail in over LMTP, and exactly what each person received. One test
//! per case of the issue: joining (open, confirm, confirm_then_moderate), leaving, `help`,
//! `who`, unknown commands, third-party joins, moderation by reply, the autoresponder loop,
//! the daily cap, and the token and header-injection attacks.

mod support;

use mailcast_outbound::sink::{Received, Sink, SinkConfig};
use support::{Daemon, Site, body, header, message_with, post, sink_port, start_sink, wait_until};

const LIST: &str = "ant@example.org";
const OWNER: &str = "owner@example.com";
const MODERATOR: &str = "mod@example.com";
const MEMBER: &str = "anne@example.com";

/// A site with the list (one member, an owner, a moderator) and `settings` applied, running.
async fn running(settings: &[&str]) -> (Sink, Site, Daemon) {
    running_with(settings, |_| {}).await
}

async fn running_with(
    settings: &[&str],
    configure: impl FnOnce(&mut Site),
) -> (Sink, Site, Daemon) {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    configure(&mut site);
    site.create_list(LIST, &[MEMBER], &[OWNER], &[MODERATOR]);
    if !settings.is_empty() {
        let mut args = vec!["lists", "set", LIST];
        args.extend_from_slice(settings);
        site.ok(&args);
    }
    let daemon = site.start().await;
    (sink, site, daemon)
}

/// Sends `subject`/`text` from `from` to `to` over LMTP and expects 250.
async fn send(site: &Site, from: &str, to: &str, subject: &str, extra: &[&str], text: &str) {
    let message = message_with(from, to, subject, extra, text);
    let reply = post(site.lmtp, from, to, &message).await;
    assert_eq!(reply.code, 250, "{to}: {reply:?}");
}

/// Waits for the next mail to `rcpt` whose Subject contains `subject`.
async fn mail_to(sink: &Sink, rcpt: &str, subject: &str) -> Received {
    let mut found = None;
    wait_until(&format!("{rcpt} receives {subject:?}"), || {
        found = sink.received().into_iter().find(|r| {
            r.rcpts.iter().any(|x| x.eq_ignore_ascii_case(rcpt))
                && header(&r.data, "Subject").is_some_and(|s| s.contains(subject))
        });
        found.is_some()
    })
    .await;
    found.expect("found")
}

/// The mails `rcpt` received so far.
fn mails_to(sink: &Sink, rcpt: &str) -> Vec<Received> {
    sink.received()
        .into_iter()
        .filter(|r| r.rcpts.iter().any(|x| x.eq_ignore_ascii_case(rcpt)))
        .collect()
}

fn is_member(site: &Site, address: &str) -> bool {
    site.ok(&["members", "list", LIST, "--role", "member"])
        .lines()
        .any(|l| l.contains(address))
}

/// The address a confirmation came from (`ant-confirm+TOKEN@example.org`) and its token.
fn confirm_address(mail: &Received) -> (String, String) {
    let from = header(&mail.data, "From").expect("From");
    let address = from.trim_matches(|c| c == '<' || c == '>').to_string();
    let token = address
        .split_once('+')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(t, _)| t.to_string())
        .expect("a token in the From address");
    (address, token)
}

/// Waits until the command stage is empty (every command processed).
async fn commands_done(site: &Site) {
    wait_until("the command stage is empty", || {
        site.queue_count("command") == 0
    })
    .await;
}

/// Joins `who` by `-join` and confirms by replying; returns once the reply was processed.
async fn join_and_confirm(site: &Site, sink: &Sink, who: &str) {
    send(site, who, "ant-join@example.org", "join", &[], "").await;
    let confirmation = mail_to(sink, who, "Your confirmation is needed").await;
    let (reply_to, _) = confirm_address(&confirmation);
    send(
        site,
        who,
        &reply_to,
        "Re: Your confirmation is needed",
        &[],
        "yes\n",
    )
    .await;
    commands_done(site).await;
}

#[tokio::test]
async fn confirm_join_round_trip_through_the_confirm_address() {
    let (sink, site, daemon) = running(&["send_welcome_message=true"]).await;
    let joiner = "bob@example.net";
    send(&site, joiner, "ant-join@example.org", "please", &[], "").await;
    let confirmation = mail_to(&sink, joiner, "Your confirmation is needed to join").await;
    assert_eq!(
        header(&confirmation.data, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(!is_member(&site, joiner), "not a member before confirming");
    let (reply_to, token) = confirm_address(&confirmation);
    assert_eq!(token.len(), 40, "160-bit tokens");
    assert!(body(&confirmation.data).contains(&token));
    // No results mail for the -join address.
    assert_eq!(mails_to(&sink, joiner).len(), 1);
    send(
        &site,
        joiner,
        &reply_to,
        "Re: Your confirmation is needed to join",
        &[],
        "ok\n",
    )
    .await;
    let welcome = mail_to(&sink, joiner, "Welcome to the \"Ant\" mailing list").await;
    assert!(
        body(&welcome.data).contains(LIST),
        "{}",
        body(&welcome.data)
    );
    assert!(is_member(&site, joiner));
    commands_done(&site).await;
    daemon.stop().await;
}

#[tokio::test]
async fn open_join_of_a_verified_address_needs_no_confirmation() {
    let (sink, site, daemon) = running(&[]).await;
    site.ok(&["lists", "create", "bee@example.org"]);
    site.ok(&[
        "lists",
        "set",
        "bee@example.org",
        "subscription_policy=open",
    ]);
    let joiner = "cleo@example.net";
    // Confirming on one list verifies the address (Mailman's verified_on) ...
    join_and_confirm(&site, &sink, joiner).await;
    assert!(is_member(&site, joiner));
    // ... so joining an open list subscribes at once.
    send(&site, joiner, "bee-join@example.org", "join", &[], "").await;
    mail_to(&sink, joiner, "Welcome to the \"Bee\" mailing list").await;
    let members = site.ok(&["members", "list", "bee@example.org"]);
    assert!(members.contains(joiner), "{members}");
    assert!(
        !mails_to(&sink, joiner)
            .iter()
            .any(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("join the bee@"))),
        "no confirmation for the open list"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn confirm_then_moderate_is_approved_from_the_cli() {
    let (sink, site, daemon) = running(&["subscription_policy=confirm_then_moderate"]).await;
    let joiner = "dan@example.net";
    join_and_confirm(&site, &sink, joiner).await;
    assert!(!is_member(&site, joiner), "waits for the moderators");
    let notice = mail_to(
        &sink,
        MODERATOR,
        "New subscription request to Ant from dan@example.net",
    )
    .await;
    let requests = site.ok(&["requests", "list", LIST]);
    let line = requests
        .lines()
        .find(|l| l.contains(joiner))
        .expect("a pending request");
    let token = line.split('\t').next().unwrap();
    assert!(line.contains("moderator"), "{line}");
    assert!(body(&notice.data).contains(token));
    let out = site.ok(&["requests", "approve", LIST, token]);
    assert!(out.contains("approved"), "{out}");
    mail_to(&sink, joiner, "Welcome to the").await;
    assert!(is_member(&site, joiner));
    assert!(site.ok(&["requests", "list", LIST]).trim().is_empty());
    daemon.stop().await;
}

#[tokio::test]
async fn leave_under_confirm_takes_a_confirmation() {
    let (sink, site, daemon) = running(&[]).await;
    send(
        &site,
        MEMBER,
        "ant-leave@example.org",
        "unsubscribe",
        &[],
        "",
    )
    .await;
    let confirmation = mail_to(&sink, MEMBER, "Your confirmation is needed to leave").await;
    assert!(is_member(&site, MEMBER), "still a member before confirming");
    let (reply_to, _) = confirm_address(&confirmation);
    send(&site, MEMBER, &reply_to, "Re: leave", &[], "").await;
    mail_to(
        &sink,
        MEMBER,
        "You have been unsubscribed from the Ant mailing list",
    )
    .await;
    assert!(!is_member(&site, MEMBER));
    daemon.stop().await;
}

#[tokio::test]
async fn help_by_request_gets_the_results_mail() {
    let (sink, site, daemon) = running(&[]).await;
    send(
        &site,
        "eve@example.net",
        "ant-request@example.org",
        "help",
        &[],
        "",
    )
    .await;
    let results = mail_to(
        &sink,
        "eve@example.net",
        "The results of your email commands",
    )
    .await;
    let text = body(&results.data);
    for part in ["- Results:", "join", "leave", "confirm", "- Done."] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert_eq!(
        header(&results.data, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    commands_done(&site).await;
    daemon.stop().await;
}

#[tokio::test]
async fn unknown_commands_are_named_in_the_results() {
    let (sink, site, daemon) = running(&[]).await;
    send(
        &site,
        "fay@example.net",
        "ant-request@example.org",
        "frobnicate now",
        &[],
        "echo hello there\n",
    )
    .await;
    let results = mail_to(
        &sink,
        "fay@example.net",
        "The results of your email commands",
    )
    .await;
    let text = body(&results.data);
    assert!(text.contains("No such command: frobnicate"), "{text}");
    assert!(text.contains("hello there"), "{text}");
    daemon.stop().await;
}

#[tokio::test]
async fn who_follows_member_roster_visibility() {
    let (sink, site, daemon) = running(&["member_roster_visibility=moderators"]).await;
    send(&site, MEMBER, "ant-request@example.org", "who", &[], "").await;
    let refused = mail_to(&sink, MEMBER, "The results").await;
    assert!(
        body(&refused.data).contains("not allowed"),
        "{}",
        body(&refused.data)
    );
    send(&site, MODERATOR, "ant-request@example.org", "who", &[], "").await;
    let shown = mail_to(&sink, MODERATOR, "The results").await;
    assert!(body(&shown.data).contains(MEMBER), "{}", body(&shown.data));
    site.ok(&["lists", "set", LIST, "member_roster_visibility=members"]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send(&site, MEMBER, "ant-request@example.org", "who", &[], "").await;
    wait_until("the member gets the roster", || {
        mails_to(&sink, MEMBER)
            .iter()
            .any(|m| body(&m.data).contains("Members of"))
    })
    .await;
    send(
        &site,
        "out@example.net",
        "ant-request@example.org",
        "who",
        &[],
        "",
    )
    .await;
    let outsider = mail_to(&sink, "out@example.net", "The results").await;
    assert!(body(&outsider.data).contains("not allowed"));
    site.ok(&["lists", "set", LIST, "member_roster_visibility=public"]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send(
        &site,
        "pub@example.net",
        "ant-request@example.org",
        "who",
        &[],
        "",
    )
    .await;
    let public = mail_to(&sink, "pub@example.net", "The results").await;
    assert!(
        body(&public.data).contains(MEMBER),
        "{}",
        body(&public.data)
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_third_party_join_asks_the_address_itself() {
    let (sink, site, daemon) = running(&[]).await;
    let victim = "gus@example.net";
    send(
        &site,
        "mallory@example.net",
        "ant-request@example.org",
        "join address=gus@example.net",
        &[],
        "",
    )
    .await;
    let results = mail_to(&sink, "mallory@example.net", "The results").await;
    assert!(body(&results.data).contains("Confirmation email sent to gus@example.net"));
    mail_to(&sink, victim, "Your confirmation is needed to join").await;
    assert!(
        !is_member(&site, victim),
        "not a member until the address confirms"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_banned_address_cannot_join() {
    let (sink, site, daemon) = running(&[]).await;
    site.ok(&["bans", "add", "^.*@spam\\.example$", LIST]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send(
        &site,
        "x@spam.example",
        "ant-request@example.org",
        "join",
        &[],
        "",
    )
    .await;
    let results = mail_to(&sink, "x@spam.example", "The results").await;
    assert!(
        body(&results.data).contains("banned"),
        "{}",
        body(&results.data)
    );
    assert!(
        !mails_to(&sink, "x@spam.example")
            .iter()
            .any(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("confirmation")))
    );
    assert!(!is_member(&site, "x@spam.example"));
    daemon.stop().await;
}

#[tokio::test]
async fn an_autoresponder_answering_our_confirmation_ends_the_exchange() {
    let (sink, site, daemon) = running(&[]).await;
    let joiner = "vac@example.net";
    send(&site, joiner, "ant-join@example.org", "join", &[], "").await;
    let confirmation = mail_to(&sink, joiner, "Your confirmation is needed").await;
    let (reply_to, _) = confirm_address(&confirmation);
    // The vacation responder answers, marked as RFC 3834 says.
    send(
        &site,
        joiner,
        &reply_to,
        "Out of office",
        &["Auto-Submitted: auto-replied"],
        "Away.\n",
    )
    .await;
    send(
        &site,
        joiner,
        "ant-request@example.org",
        "Re: results",
        &["Precedence: junk"],
        "help\n",
    )
    .await;
    commands_done(&site).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        !is_member(&site, joiner),
        "an automatic reply confirms nothing"
    );
    assert_eq!(
        mails_to(&sink, joiner).len(),
        1,
        "nothing answers the autoresponder"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn the_daily_cap_sends_one_no_more_today_notice() {
    let (sink, site, daemon) =
        running_with(&[], |site| site.set("site.max_autoresponses_per_day", 2)).await;
    let who = "hal@example.net";
    for _ in 0..5 {
        send(&site, who, "ant-request@example.org", "help", &[], "").await;
    }
    commands_done(&site).await;
    mail_to(&sink, who, "Last autoresponse notification for today").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mails = mails_to(&sink, who);
    let results = mails
        .iter()
        .filter(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("The results")))
        .count();
    let last = mails
        .iter()
        .filter(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("Last autoresponse")))
        .count();
    assert_eq!(
        (results, last),
        (2, 1),
        "two answers, one notice, then silence"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn tokens_are_single_use_bound_to_their_list_and_action_and_expire() {
    let (sink, site, daemon) =
        running_with(&[], |site| site.set("site.pending_request_life", "3s")).await;
    site.ok(&["lists", "create", "bee@example.org"]);
    let joiner = "ivy@example.net";
    send(&site, joiner, "ant-join@example.org", "join", &[], "").await;
    let confirmation = mail_to(&sink, joiner, "Your confirmation is needed").await;
    let (_, token) = confirm_address(&confirmation);
    // Another list's confirm address.
    send(
        &site,
        joiner,
        "bee-request@example.org",
        &format!("confirm {token}"),
        &[],
        "",
    )
    .await;
    let other = mail_to(&sink, joiner, "The results").await;
    assert!(
        body(&other.data).contains("another list"),
        "{}",
        body(&other.data)
    );
    // Another action: a moderator's approval of a request that waits for the subscriber.
    let refused = site.fails(&["requests", "approve", LIST, &token]);
    assert!(refused.contains("not for a moderator"), "{refused}");
    // Expired.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    send(
        &site,
        joiner,
        "ant-request@example.org",
        &format!("confirm {token}"),
        &[],
        "",
    )
    .await;
    wait_until("the expiry is reported", || {
        mails_to(&sink, joiner)
            .iter()
            .any(|m| body(&m.data).contains("expired"))
    })
    .await;
    assert!(!is_member(&site, joiner));
    // A fresh request works, once.
    send(&site, joiner, "ant-join@example.org", "join", &[], "").await;
    wait_until("a second confirmation", || {
        mails_to(&sink, joiner)
            .iter()
            .filter(|m| {
                header(&m.data, "Subject").is_some_and(|s| s.contains("confirmation is needed"))
            })
            .count()
            == 2
    })
    .await;
    let second = mails_to(&sink, joiner)
        .into_iter()
        .rev()
        .find(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("confirmation is needed")))
        .unwrap();
    let (_, token2) = confirm_address(&second);
    assert_ne!(token, token2);
    for _ in 0..2 {
        send(
            &site,
            joiner,
            "ant-request@example.org",
            &format!("confirm {token2}"),
            &[],
            "",
        )
        .await;
    }
    commands_done(&site).await;
    wait_until("the reuse is refused", || {
        mails_to(&sink, joiner)
            .iter()
            .any(|m| body(&m.data).contains("did not match"))
    })
    .await;
    assert!(is_member(&site, joiner));
    daemon.stop().await;
}

#[tokio::test]
async fn a_hostile_display_name_or_subject_injects_no_header() {
    let (sink, site, daemon) = running(&[]).await;
    // A display name with an encoded CR LF, and a subject with one.
    let hostile = "=?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.net>";
    let message = format!(
        "From: {hostile}\r\nTo: ant-request@example.org\r\nSubject: =?utf-8?q?help=0D=0ABcc=3A_victim=40example=2Ecom?=\r\nMessage-ID: <h1@example.net>\r\n\r\njoin\r\n"
    );
    let reply = post(
        site.lmtp,
        "eve@example.net",
        "ant-request@example.org",
        message.as_bytes(),
    )
    .await;
    assert_eq!(reply.code, 250);
    let results = mail_to(&sink, "eve@example.net", "The results").await;
    let confirmation = mail_to(&sink, "eve@example.net", "confirmation is needed").await;
    for mail in [&results, &confirmation] {
        let head = String::from_utf8_lossy(&mail.data);
        let head = head.split("\r\n\r\n").next().unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{head}"
        );
        assert!(!mail.rcpts.iter().any(|r| r.contains("victim")));
    }
    assert!(
        sink.received()
            .iter()
            .all(|r| !r.rcpts.iter().any(|x| x.contains("victim")))
    );
    daemon.stop().await;
}

/// A post held for the moderators; returns the token of their notice.
async fn held_post(site: &Site, sink: &Sink, subject: &str) -> String {
    send(
        site,
        "out@outside.example",
        LIST,
        subject,
        &[],
        "Please let me in.\n",
    )
    .await;
    let mut text = String::new();
    wait_until("the moderators are told", || {
        text = mails_to(sink, MODERATOR)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).to_string())
            .find(|t| {
                t.contains("requires approval") && t.contains(&format!("Subject: {subject}\r\n"))
            })
            .unwrap_or_default();
        !text.is_empty()
    })
    .await;
    let line = text
        .lines()
        .find(|l| l.starts_with("Subject: confirm "))
        .expect("the confirmation part");
    line.trim_start_matches("Subject: confirm ")
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_moderator_reply_approves_or_discards_a_held_post() {
    let (sink, site, daemon) = running(&[
        "moderator_password=s3cret",
        "respond_to_post_requests=false",
    ])
    .await;
    let token = held_post(&site, &sink, "First").await;
    send(
        &site,
        MODERATOR,
        "ant-request@example.org",
        &format!("Re: confirm {token}"),
        &[],
        "Approved: s3cret\n",
    )
    .await;
    let delivered = mail_to(&sink, MEMBER, "First").await;
    assert!(!body(&delivered.data).contains("s3cret"));
    wait_until("no post is held", || {
        site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    let token = held_post(&site, &sink, "Second").await;
    send(
        &site,
        MODERATOR,
        "ant-request@example.org",
        &format!("Re: confirm {token}"),
        &[],
        "no thanks\n",
    )
    .await;
    wait_until("no post is held", || {
        site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    commands_done(&site).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        !mails_to(&sink, MEMBER)
            .iter()
            .any(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("Second")))
    );
    daemon.stop().await;
}

#[tokio::test]
async fn no_command_mail_stays_in_the_command_stage() {
    let (sink, site, daemon) = running(&[]).await;
    for (to, subject) in [
        ("ant-request@example.org", "help"),
        ("ant-join@example.org", "x"),
        ("ant-subscribe@example.org", "x"),
        ("ant-leave@example.org", "x"),
        ("ant-unsubscribe@example.org", "x"),
        ("ant-confirm@example.org", "confirm 0123"),
        ("ant-confirm+abcdef@example.org", "x"),
    ] {
        send(&site, "kim@example.net", to, subject, &[], "").await;
    }
    commands_done(&site).await;
    mail_to(&sink, "kim@example.net", "The results").await;
    assert_eq!(site.queue_count("command"), 0);
    assert_eq!(site.queue_count("shunt"), 0, "{:?}", site.queue_counts());
    daemon.stop().await;
}

#[tokio::test]
async fn a_held_post_expires_after_max_days_to_hold() {
    let (sink, site, daemon) = running(&["max_days_to_hold=1"]).await;
    send(
        &site,
        "late@outside.example",
        LIST,
        "Anyone?",
        &[],
        "Hello.\n",
    )
    .await;
    wait_until("the post is held", || {
        !site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    daemon.stop().await;
    // Two days later: the periodic work runs at start-up.
    let later = site.start_with_env(&support::faketime("+2d")).await;
    let notice = mail_to(&sink, "late@outside.example", "was discarded").await;
    assert!(
        body(&notice.data).contains("Anyone?"),
        "{}",
        body(&notice.data)
    );
    wait_until("nothing is held", || {
        site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    assert_eq!(site.queue_count("held"), 0);
    assert!(
        !mails_to(&sink, MEMBER)
            .iter()
            .any(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("Anyone?"))),
        "the expired post is not delivered"
    );
    later.stop().await;
}

/// Two nodes share one database, each with its own spool: a decision taken on the node that
/// does not hold the post is recorded, and the node that holds it carries it out.
#[tokio::test]
async fn a_held_post_can_be_decided_from_another_node() {
    let (sink, site, daemon) = running_with(&["respond_to_post_requests=false"], |site| {
        site.set("site.node", "node-a");
        site.set("site.maintenance_interval", 1);
    })
    .await;
    send(
        &site,
        "far@outside.example",
        LIST,
        "From afar",
        &[],
        "Hello.\n",
    )
    .await;
    wait_until("the post is held", || {
        !site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    let id = site.ok(&["held", "list", LIST]);
    let id = id.split('\t').next().unwrap().to_string();
    // Node B: the same database, another var directory (so another spool).
    let config = std::fs::read_to_string(site.config_path()).unwrap();
    let mut other: toml::Table = config.parse().unwrap();
    let database = site.database_url();
    other["paths"]["var_dir"] = toml::Value::String(site.path("node-b").display().to_string());
    other["database"]["url"] = toml::Value::String(database);
    other["site"]["node"] = toml::Value::String("node-b".into());
    let other_path = site.path("node-b.toml");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailcast"))
        .arg("--config")
        .arg(&other_path)
        .args(["held", "approve", LIST, &id])
        .env_remove("MAILCAST_CONFIG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("node node-a carries it out"), "{said}");
    mail_to(&sink, MEMBER, "From afar").await;
    wait_until("nothing is held", || {
        site.ok(&["held", "list", LIST]).trim().is_empty()
    })
    .await;
    daemon.stop().await;
}

#[tokio::test]
async fn auto_discards_are_forwarded_and_posts_acknowledged_and_autoresponded() {
    let (sink, site, daemon) = running(&[
        "default_nonmember_action=discard",
        "autorespond_postings=respond_and_continue",
        "autoresponse_postings_text=Thanks for writing to $display_name.",
    ])
    .await;
    // Discarded by the rules: the moderators see it (forward_auto_discards, on by default).
    send(&site, "spam@outside.example", LIST, "Cheap", &[], "Buy.\n").await;
    let forwarded = mail_to(&sink, MODERATOR, "Auto-discard notification").await;
    assert!(String::from_utf8_lossy(&forwarded.data).contains("Subject: Cheap"));
    // A member who asked for acknowledgements gets one, and the postings autoresponse.
    site.ok(&["members", "set", LIST, MEMBER, "acknowledge_posts=true"]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send(&site, MEMBER, LIST, "Hello all", &[], "Hi.\n").await;
    mail_to(&sink, MEMBER, "Ant post acknowledgment").await;
    let auto = mail_to(&sink, MEMBER, "Auto-response for your message").await;
    assert!(
        body(&auto.data).contains("Thanks for writing to Ant."),
        "{}",
        body(&auto.data)
    );
    assert_eq!(header(&auto.data, "X-Ack").as_deref(), Some("No"));
    // respond_and_continue: the post itself went out too.
    wait_until("the post is delivered", || {
        mails_to(&sink, MEMBER)
            .iter()
            .any(|m| header(&m.data, "Subject").is_some_and(|s| s == "[Ant] Hello all"))
    })
    .await;
    // Within the grace period there is no second autoresponse.
    send(&site, MEMBER, LIST, "Again", &[], "Hi.\n").await;
    mail_to(&sink, MEMBER, "[Ant] Again").await;
    let autos = mails_to(&sink, MEMBER)
        .iter()
        .filter(|m| header(&m.data, "Subject").is_some_and(|s| s.contains("Auto-response")))
        .count();
    assert_eq!(autos, 1);
    daemon.stop().await;
}
