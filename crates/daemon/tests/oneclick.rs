//! RFC 8058 one-click unsubscription, end to end: a personalized post carries the member's
//! own `List-Unsubscribe` URL and `List-Unsubscribe-Post`; the `[web]` endpoint shows a page
//! on GET without acting, refuses a wrong body and a forged or moved token, and on the
//! one-click POST ends the membership.

mod support;

use mailcast_outbound::sink::SinkConfig;
use support::{Site, header, http, message, post, received_by, sink_port, start_sink, wait_until};

const LIST: &str = "ant@example.org";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_one_click_link_unsubscribes_that_member_only() {
    let sink = start_sink(SinkConfig::smtp()).await;
    let mut site = Site::new(sink_port(&sink));
    let web = format!("127.0.0.1:{}", support::free_port());
    site.set("web.listen", web.clone());
    site.set("web.base_url", format!("http://{web}/"));
    site.create_list(
        LIST,
        &["anne@example.com", "bart@example.com"],
        &["owner@example.org"],
        &[],
    );
    site.ok(&[
        "lists",
        "set",
        LIST,
        "personalize=individual",
        "unsubscription_policy=confirm",
    ]);
    let daemon = site.start().await;

    let reply = post(
        site.lmtp,
        "anne@example.com",
        LIST,
        &message("anne@example.com", LIST, "Hello", "Hi all\n"),
    )
    .await;
    assert_eq!(reply.code, 250, "{reply:?}");
    let mut copies = Vec::new();
    wait_until("both members get their copy", || {
        copies = sink.received();
        ["anne@example.com", "bart@example.com"]
            .iter()
            .all(|m| !received_by(&copies, m).is_empty())
    })
    .await;
    let link = |rcpt: &str| {
        let copy = received_by(&copies, rcpt)[0].data.clone();
        assert_eq!(
            header(&copy, "List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let value = header(&copy, "List-Unsubscribe").expect("List-Unsubscribe");
        assert!(
            value.starts_with("<mailto:ant-leave@example.org>,"),
            "{value}"
        );
        let url = value
            .split('<')
            .nth(2)
            .and_then(|u| u.split('>').next())
            .expect("an https part")
            .to_string();
        let prefix = format!("http://{web}/u/");
        assert!(url.starts_with(&prefix), "{url}");
        url[prefix.len() - 3..].to_string()
    };
    let (anne, bart) = (link("anne@example.com"), link("bart@example.com"));
    assert_ne!(anne, bart, "each member has an own link");
    let addr = web.parse().expect("the web address");

    let form = "application/x-www-form-urlencoded";
    let (status, _, page) = http(addr, "GET", &anne, false, form, "");
    assert_eq!(status, 200);
    assert!(
        page.contains("anne@example.com") && page.contains("method=\"post\""),
        "{page}"
    );
    let (status, _, _) = http(addr, "POST", &anne, false, form, "something=else");
    assert_eq!(status, 400, "the RFC 8058 body is required");
    let mut forged = anne.clone();
    forged.pop();
    let (status, _, _) = http(
        addr,
        "POST",
        &forged,
        false,
        form,
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 404, "a damaged token is refused");
    let members = site.ok(&["members", "list", LIST, "--role", "member"]);
    assert!(
        members.contains("anne@example.com"),
        "nothing happened yet: {members}"
    );

    let (status, _, page) = tokio::task::spawn_blocking({
        let anne = anne.clone();
        move || {
            http(
                addr,
                "POST",
                &anne,
                false,
                form,
                "List-Unsubscribe=One-Click",
            )
        }
    })
    .await
    .expect("the request");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("unsubscribed"), "{page}");
    let members = site.ok(&["members", "list", LIST, "--role", "member"]);
    assert!(
        !members.contains("anne@example.com"),
        "one click, no confirmation: {members}"
    );
    assert!(members.contains("bart@example.com"), "{members}");
    let (status, _, page) = http(
        addr,
        "POST",
        &anne,
        false,
        form,
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200, "a second click is harmless: {page}");
    daemon.stop().await;
}
