//! Moderation end to end, black box: the real `mailcast serve` with an SMTP sink as the
//! members' server, lists made with the CLI, posts over LMTP, and exactly what each person
//! received.
//!
//! "Nothing was delivered" is asserted with a barrier: a member's post sent afterwards is
//! waited for, and the sink must hold nothing else (deliveries of one list keep their order
//! closely enough for this: the refused post was never stored at all).

mod support;

use mailcast_outbound::sink::{Received, Sink, SinkConfig};
use support::{
    Daemon, Site, body, header, message, message_with, post, received_by, sink_port, start_sink,
    wait_until,
};

const LIST: &str = "ant@example.org";
const MEMBERS: [&str; 3] = ["anne@example.com", "bart@example.com", "cat@example.net"];
const OWNER: &str = "owner@example.com";
const MODERATOR: &str = "mod@example.com";
const OUTSIDER: &str = "zed@outside.example";

/// A site with the list, its three members, an owner and a moderator; `settings` are
/// `KEY=VALUE` list settings applied before the daemon starts.
fn site_with_list(smtp_port: u16, settings: &[&str]) -> Site {
    let site = Site::new(smtp_port);
    site.create_list(LIST, &MEMBERS, &[OWNER], &[MODERATOR]);
    if !settings.is_empty() {
        let mut args = vec!["lists", "set", LIST];
        args.extend_from_slice(settings);
        site.ok(&args);
    }
    site
}

/// The request ids of the list's held posts.
fn held_ids(site: &Site) -> Vec<u64> {
    site.ok(&["held", "list", LIST])
        .lines()
        .map(|line| {
            line.split('\t')
                .next()
                .and_then(|id| id.parse().ok())
                .expect("a request id")
        })
        .collect()
}

/// Waits until a member's post (the barrier) has reached every member, then returns what the
/// sink received apart from it.
async fn after_barrier(
    site: &Site,
    sink: &mailcast_outbound::sink::Sink,
    delivered_before: u64,
) -> Vec<Received> {
    let barrier = message(MEMBERS[0], LIST, "Barrier", "The last post of the test.\n");
    let reply = post(site.lmtp, MEMBERS[0], LIST, &barrier).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(delivered_before + MEMBERS.len() as u64, support::DEADLINE)
        .await
        .expect("the barrier post is delivered");
    sink.received()
        .into_iter()
        .filter(|r| header(&r.data, "Subject").is_none_or(|s| !s.contains("Barrier")))
        .collect()
}

/// A list that sends no notices about holds, a running daemon, and `post` from an outsider
/// held on it (accepted at LMTP time); returns them with the held post's id.
async fn quietly_held(post_body: &[u8]) -> (Sink, Site, Daemon, String) {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(
        sink_port(&sink),
        &["admin_immed_notify=false", "respond_to_post_requests=false"],
    );
    let daemon = site.start().await;
    let reply = post(site.lmtp, OUTSIDER, LIST, post_body).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_until("the post is held", || held_ids(&site).len() == 1).await;
    let id = held_ids(&site)[0].to_string();
    (sink, site, daemon, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_post_is_approved_and_delivered() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &["subject_prefix=[Ant] "]);
    let daemon = site.start().await;

    let reply = post(
        site.lmtp,
        OUTSIDER,
        LIST,
        &message(OUTSIDER, LIST, "Hello ants", "First line.\nSecond line.\n"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_until("the post is held", || held_ids(&site).len() == 1).await;
    let listed = site.ok(&["held", "list", LIST]);
    assert!(
        listed.contains(OUTSIDER) && listed.contains("Hello ants"),
        "{listed}"
    );
    assert!(
        listed.contains("The message is not from a list member"),
        "{listed}"
    );

    // The moderators' notice (to the owner and the moderator) and the poster's.
    sink.wait_for_recipients(3, support::DEADLINE)
        .await
        .expect("the hold notices arrive");
    let received = sink.received();
    let to_moderators = received_by(&received, MODERATOR);
    assert_eq!(to_moderators.len(), 1, "{received:#?}");
    let notice = to_moderators[0];
    assert_eq!(received_by(&received, OWNER).len(), 1);
    assert_eq!(notice.mail_from, "postmaster@example.org");
    assert_eq!(
        header(&notice.data, "Subject").as_deref(),
        Some("ant@example.org post from zed@outside.example requires approval")
    );
    assert!(
        String::from_utf8_lossy(&notice.data).contains("Subject: confirm "),
        "the notice has a confirmation part"
    );
    let to_poster = received_by(&received, OUTSIDER);
    assert_eq!(to_poster.len(), 1, "{received:#?}");
    assert_eq!(
        to_poster[0].mail_from, "",
        "answers to posters come from the null sender"
    );
    assert_eq!(
        header(&to_poster[0].data, "Subject").as_deref(),
        Some("Your message to ant@example.org awaits moderator approval")
    );
    assert_eq!(
        header(&to_poster[0].data, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    for member in MEMBERS {
        assert!(
            received_by(&received, member).is_empty(),
            "{member} got the post before approval"
        );
    }

    let approved = site.ok(&["held", "approve", LIST, &held_ids(&site)[0].to_string()]);
    assert!(approved.contains("approved"), "{approved}");
    assert!(held_ids(&site).is_empty());
    sink.wait_for_recipients(3 + MEMBERS.len() as u64, support::DEADLINE)
        .await
        .expect("the post reaches the members");
    let received = sink.received();
    for member in MEMBERS {
        let copies = received_by(&received, member);
        assert_eq!(copies.len(), 1, "{member} got {} copies", copies.len());
        let copy = copies[0];
        assert_eq!(copy.mail_from, "ant-bounces@example.org");
        assert_eq!(
            header(&copy.data, "Subject").as_deref(),
            Some("[Ant] Hello ants")
        );
        assert_eq!(
            header(&copy.data, "List-Id").as_deref(),
            Some("Ant <ant.example.org>")
        );
        assert_eq!(
            header(&copy.data, "List-Post").as_deref(),
            Some("<mailto:ant@example.org>")
        );
        assert_eq!(header(&copy.data, "From").as_deref(), Some(OUTSIDER));
        assert!(
            header(&copy.data, "X-Mailman-Approved-At").is_some(),
            "approval is recorded"
        );
        assert_eq!(
            header(&copy.data, "X-Mailman-Rule-Hits").as_deref(),
            Some("nonmember-moderation")
        );
        let text = body(&copy.data);
        assert!(
            text.starts_with("First line.\r\nSecond line.\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Ant mailing list -- ant@example.org\r\n"),
            "footer: {text}"
        );
        assert!(
            text.contains("To unsubscribe send an email to ant-leave@example.org\r\n"),
            "footer: {text}"
        );
    }
    wait_until("the spool is empty", || {
        site.queue_counts().iter().all(|(_, n)| *n == 0)
    })
    .await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nonmember_post_is_refused_at_lmtp_when_the_action_is_reject() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &["default_nonmember_action=reject"]);
    let daemon = site.start().await;

    let reply = post(
        site.lmtp,
        OUTSIDER,
        LIST,
        &message(OUTSIDER, LIST, "Spam", "Buy now.\n"),
    )
    .await;
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(reply.text.starts_with("5.7.1 "), "{reply:?}");
    assert!(
        reply.text.contains("The message is not from a list member"),
        "{reply:?}"
    );
    assert_eq!(
        site.queue_count("incoming") + site.queue_count("held"),
        0,
        "nothing is stored"
    );

    let before = after_barrier(&site, &sink, 0).await;
    assert!(
        before.is_empty(),
        "nothing but the barrier was delivered: {before:#?}"
    );
    assert!(held_ids(&site).is_empty());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_that_already_went_through_the_list_is_refused_as_a_loop() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &[]);
    let daemon = site.start().await;

    for looped in [
        "List-Id: Ant <ant.example.org>",
        "X-BeenThere: ant@example.org",
    ] {
        let looping = message_with(MEMBERS[1], LIST, "Re: something", &[looped], "Echo.\n");
        let reply = post(site.lmtp, MEMBERS[1], LIST, &looping).await;
        assert_eq!(reply.code, 550, "{looped}: {reply:?}");
        assert!(reply.text.starts_with("5.4.6 "), "{looped}: {reply:?}");
    }
    let before = after_barrier(&site, &sink, 0).await;
    assert!(
        before.is_empty(),
        "nothing but the barrier was delivered: {before:#?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_held_post_sends_the_reason_to_the_sender() {
    let (sink, site, daemon, id) =
        quietly_held(&message(OUTSIDER, LIST, "Off topic", "Something else.\n")).await;
    let out = site.ok(&[
        "held",
        "reject",
        LIST,
        &id,
        "--reason",
        "Please stay on topic",
    ]);
    assert!(out.contains("rejected"), "{out}");
    assert!(held_ids(&site).is_empty());
    assert_eq!(site.queue_count("held"), 0);

    sink.wait_for_recipients(1, support::DEADLINE)
        .await
        .expect("the rejection notice arrives");
    let received = sink.received();
    let notices = received_by(&received, OUTSIDER);
    assert_eq!(notices.len(), 1, "{received:#?}");
    let notice = notices[0];
    assert_eq!(notice.rcpts, vec![OUTSIDER.to_string()]);
    assert_eq!(
        notice.mail_from, "",
        "the notice comes from the null sender"
    );
    assert_eq!(
        header(&notice.data, "From").as_deref(),
        Some("<ant-owner@example.org>")
    );
    assert_eq!(
        header(&notice.data, "Subject").as_deref(),
        Some("Off topic")
    );
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("was rejected") && text.contains("Please stay on topic"),
        "{text}"
    );

    // A second decision on the same request is an error, not a second notice.
    let again = site.fails(&["held", "reject", LIST, &id]);
    assert!(again.contains("no held message"), "{again}");
    let before = after_barrier(&site, &sink, 1).await;
    assert_eq!(
        before.len(),
        1,
        "only the notice and the barrier: {before:#?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owner_mail_reaches_the_owners_and_moderators_unmodified() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &[]);
    let daemon = site.start().await;

    let sent = message(
        OUTSIDER,
        "ant-owner@example.org",
        "A question for the owners",
        "Who runs this list?\n",
    );
    let reply = post(site.lmtp, OUTSIDER, "ant-owner@example.org", &sent).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(2, support::DEADLINE)
        .await
        .expect("owner mail is forwarded");
    let received = sink.received();
    assert_eq!(received.len(), 1, "one bulk transaction: {received:#?}");
    let forwarded = &received[0];
    let mut rcpts = forwarded.rcpts.clone();
    rcpts.sort();
    assert_eq!(rcpts, vec![MODERATOR.to_string(), OWNER.to_string()]);
    assert_eq!(
        forwarded.mail_from, "postmaster@example.org",
        "the site owner, never a list address"
    );
    // Unmodified: the original header and body, followed only by the intake fields.
    assert!(
        forwarded
            .data
            .starts_with(&sent[..sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
    );
    assert!(forwarded.data.ends_with(b"\r\n\r\nWho runs this list?\r\n"));
    assert_eq!(
        header(&forwarded.data, "Subject").as_deref(),
        Some("A question for the owners")
    );
    assert_eq!(
        header(&forwarded.data, "X-MailFrom").as_deref(),
        Some(OUTSIDER)
    );
    assert!(header(&forwarded.data, "List-Id").is_none());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_banned_sender_is_refused() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &[]);
    // Bans have no CLI yet (the REST API manages them); set one in the store directly.
    let store = mailcast_store::Store::open(&site.database_url())
        .await
        .expect("open the store");
    let list = mailcast_model::ListAddress::parse(LIST).unwrap();
    assert!(
        store
            .add_ban(Some(&list), MEMBERS[2])
            .await
            .expect("ban a member")
    );
    store.close().await;
    let daemon = site.start().await;

    let reply = post(
        site.lmtp,
        MEMBERS[2],
        LIST,
        &message(MEMBERS[2], LIST, "Let me in", "Please.\n"),
    )
    .await;
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(reply.text.starts_with("5.7.1 "), "{reply:?}");
    assert!(reply.text.contains("banned"), "{reply:?}");
    let before = after_barrier(&site, &sink, 0).await;
    assert!(
        before.is_empty(),
        "nothing but the barrier was delivered: {before:#?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_discarded_held_post_is_gone_without_a_word() {
    let (sink, site, daemon, id) =
        quietly_held(&message(OUTSIDER, LIST, "Noise", "Noise.\n")).await;
    site.ok(&["held", "discard", LIST, &id]);
    assert!(held_ids(&site).is_empty());
    assert_eq!(site.queue_count("held"), 0);
    let before = after_barrier(&site, &sink, 0).await;
    assert!(
        before.is_empty(),
        "nothing but the barrier was delivered: {before:#?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_to_a_removed_list_is_shunted_for_the_operator() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(sink_port(&sink), &[]);
    // Committed by another process while no daemon runs; then the list goes away.
    let sent = message(MEMBERS[0], LIST, "Too late", "The list is gone.\n");
    let out = site.cli_with_stdin(&["inject", LIST], Some(&sent));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(site.queue_count("incoming"), 1);
    site.ok(&["lists", "remove", LIST]);

    let daemon = site.start().await;
    wait_until("the post is shunted", || site.queue_count("shunt") == 1).await;
    let shunted = site.ok(&["queue", "list", "shunt"]);
    assert!(
        shunted.contains("the list ant@example.org no longer exists"),
        "{shunted}"
    );
    let id = shunted.split('\t').next().expect("an entry id");
    let shown = site.ok(&["queue", "show", id]);
    assert!(shown.contains("\"whichq\": \"incoming\""), "{shown}");
    assert_eq!(site.queue_count("incoming"), 0);
    daemon.stop().await;
    assert!(sink.received().is_empty());
}

/// A post over the spill threshold is judged whole: its `Approved:` body line approves it,
/// although its header section alone would be refused at LMTP time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_post_is_judged_with_its_body() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = site_with_list(
        sink_port(&sink),
        &[
            "default_nonmember_action=reject",
            "moderator_password=pw1",
            "max_message_size=0",
        ],
    );
    site.set("lmtp.spill_threshold", 4096);
    let daemon = site.start().await;
    let mut text = String::from("Approved: pw1\n\n");
    for n in 0..400 {
        text.push_str(&format!(
            "line {n} of a long post that is larger than the spill threshold\n"
        ));
    }
    let reply = post(
        site.lmtp,
        OUTSIDER,
        LIST,
        &message(OUTSIDER, LIST, "Big", &text),
    )
    .await;
    assert_eq!(reply.code, 250, "the body's approval counts: {reply:?}");
    sink.wait_for_recipients(MEMBERS.len() as u64, support::DEADLINE)
        .await
        .expect("the approved post is delivered");
    let got = sink.received();
    assert!(
        got.iter().all(|r| !body(&r.data).contains("pw1")),
        "the password is removed"
    );
    // Without the password line, the same large post is still refused (after the full chain,
    // with a notice, since only the headers were seen at LMTP time).
    let reply = post(
        site.lmtp,
        OUTSIDER,
        LIST,
        &message(
            OUTSIDER,
            LIST,
            "Big",
            &text.replace("Approved: pw1", "Hello"),
        ),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_until("the rejection notice reaches the poster", || {
        !received_by(&sink.received(), OUTSIDER).is_empty()
    })
    .await;
    daemon.stop().await;
}
