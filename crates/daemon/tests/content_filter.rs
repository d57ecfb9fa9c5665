//! Content filtering end to end, black box: the real `mailcast serve`, lists set with the CLI,
//! posts over LMTP, and what the SMTP sink received.

mod support;

use support::{Site, body, header, message, post, received_by, sink_port, start_sink, wait_until};

use mailcast_outbound::sink::SinkConfig;

const LIST: &str = "ant@example.org";
const MEMBERS: [&str; 2] = ["anne@example.com", "bart@example.com"];
const OWNER: &str = "owner@example.com";

fn site_with_list(smtp_port: u16, settings: &[&str]) -> Site {
    let site = Site::new(smtp_port);
    site.create_list(LIST, &MEMBERS, &[OWNER], &[]);
    let mut args = vec!["lists", "set", LIST];
    args.extend_from_slice(settings);
    site.ok(&args);
    site
}

/// An HTML post with a Windows program attached.
fn html_with_attachment(subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {LIST}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}.{pid}@client.example.net>\r\n\
         Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n\
         --mix\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><p>Meeting at <b>noon</b>, see \
         <a href=\"https://example.org/agenda\">the agenda</a>.</p></body></html>\r\n\
         --mix\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"Agenda.EXE\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--mix--\r\n",
        from = MEMBERS[0],
        pid = std::process::id(),
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_html_post_with_an_attachment_arrives_filtered() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(
        sink_port(&sink),
        &[
            "filter_content=true",
            "filter_extensions=exe",
            "convert_html_to_plaintext=true",
        ],
    );
    let daemon = site.start().await;
    let reply = post(site.lmtp, MEMBERS[0], LIST, &html_with_attachment("agenda")).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(MEMBERS.len() as u64, support::DEADLINE)
        .await
        .expect("the post is delivered");
    let received = sink.received();
    let copy = received_by(&received, MEMBERS[1]);
    assert_eq!(copy.len(), 1, "{received:#?}");
    let data = &copy[0].data;
    assert_eq!(
        header(data, "X-Content-Filtered-By").as_deref(),
        Some("mailcast/MimeDel")
    );
    // The program is gone, the multipart with one part left is recast, the HTML is text.
    let content_type = header(data, "Content-Type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = body(data);
    assert!(
        !text.contains("TVqQ") && !text.contains("Agenda.EXE"),
        "{text}"
    );
    assert!(
        !text.contains("<b>") && text.contains("Meeting at noon"),
        "{text}"
    );
    assert!(text.contains("https://example.org/agenda"), "{text}");
    // The handlers still ran after the filter.
    assert!(header(data, "List-Id").is_some());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_filtered_away_with_reject_sends_the_reason_to_the_sender() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(
        sink_port(&sink),
        &[
            "filter_content=true",
            "filter_types=text/html,application",
            "filter_action=reject",
        ],
    );
    let daemon = site.start().await;
    let reply = post(
        site.lmtp,
        MEMBERS[0],
        LIST,
        &html_with_attachment("rejected"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(1, support::DEADLINE)
        .await
        .expect("the rejection notice arrives");
    let received = sink.received();
    let notices = received_by(&received, MEMBERS[0]);
    assert_eq!(notices.len(), 1, "{received:#?}");
    let notice = notices[0];
    assert_eq!(
        notice.mail_from, "",
        "the notice comes from the null sender"
    );
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("After content filtering, the message was empty"),
        "{text}"
    );

    // Nothing went to the members: a plain post afterwards is all they get.
    let barrier = message(MEMBERS[1], LIST, "Barrier", "Plain text passes.\n");
    let reply = post(site.lmtp, MEMBERS[1], LIST, &barrier).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(1 + MEMBERS.len() as u64, support::DEADLINE)
        .await
        .expect("the barrier post is delivered");
    let others: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|r| header(&r.data, "Subject").is_none_or(|s| !s.contains("Barrier")))
        .collect();
    assert_eq!(others.len(), 1, "only the notice: {others:#?}");
    assert_eq!(site.queue_count("shunt"), 0);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_filtered_away_with_preserve_is_kept_in_the_shunt_stage() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(
        sink_port(&sink),
        &[
            "filter_content=true",
            "pass_types=text/plain",
            "filter_action=preserve",
        ],
    );
    let daemon = site.start().await;
    let reply = post(site.lmtp, MEMBERS[0], LIST, &html_with_attachment("kept")).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_until("the post is preserved", || site.queue_count("shunt") == 1).await;
    assert_eq!(site.queue_count("incoming"), 0);
    assert!(sink.received().is_empty(), "{:#?}", sink.received());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_filtered_away_with_forward_goes_to_the_owners() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let site = site_with_list(
        sink_port(&sink),
        &[
            "filter_content=true",
            "filter_extensions=exe",
            "pass_types=multipart,text/plain",
            "filter_action=forward",
        ],
    );
    let daemon = site.start().await;
    let reply = post(
        site.lmtp,
        MEMBERS[0],
        LIST,
        &html_with_attachment("forwarded"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    sink.wait_for_recipients(1, support::DEADLINE)
        .await
        .expect("the owners' notice arrives");
    let received = sink.received();
    let notices = received_by(&received, OWNER);
    assert_eq!(notices.len(), 1, "{received:#?}");
    assert_eq!(
        header(&notices[0].data, "Subject").as_deref(),
        Some("Content filter message notification")
    );
    let text = String::from_utf8_lossy(&notices[0].data);
    assert!(
        text.contains("content\r\nfiltering rules") && text.contains("Agenda.EXE"),
        "the explanation and the post attached: {text}"
    );
    assert!(received_by(&received, MEMBERS[1]).is_empty());
    daemon.stop().await;
}
