//! Throughput of the pipeline on a 4 KB plain-text post: intake, the posting chain, the
//! handlers (with the default footer), and per-recipient rendering. Run with
//! `cargo bench -p mailcast-pipeline`; it prints time per operation and operations per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mailcast_model::settings::{ListSettings, Personalization};
use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use mailcast_pipeline::chain;
use mailcast_pipeline::handlers::{ProcessOptions, process};
use mailcast_pipeline::personalize::Personalizer;
use mailcast_pipeline::rules::RuleContext;
use mailcast_pipeline::{
    ListContext, Message, MessageFacts, RecipientFacts, SenderFacts, SiteFacts, intake,
};

fn post() -> Vec<u8> {
    let mut text = String::from(
        "Received: from mx.example.net (mx.example.net [192.0.2.1])\r\n\tby lists.example.com (Postfix) with ESMTPS id 4AbCdEf\r\n\tfor <ant@example.com>; Fri, 01 Aug 2025 10:00:00 +0000 (UTC)\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=mail;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; h=From:To:Subject:Date;\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBzaGFwZQ==\r\n\
From: Anne Person <anne@example.net>\r\nTo: ant@example.com\r\nSubject: Re: [Ant] Benchmarking the pipeline\r\n\
Message-ID: <bench-1@mail.example.net>\r\nDate: Fri, 01 Aug 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    while text.len() < 4096 {
        text.push_str("A line of body text that is about as long as the lines people write.\r\n");
    }
    text.into_bytes()
}

fn list(footer: &str, personalize: Personalization) -> ListContext {
    let address = ListAddress::parse("ant@example.com").expect("valid list address");
    let mut settings = ListSettings::defaults_for(&address);
    settings.footer_text.0 = footer.to_string();
    settings.personalize = personalize;
    ListContext::new(address, settings, SiteFacts::default())
}

fn bench(name: &str, mut op: impl FnMut()) {
    // Warm up, then run for about a second.
    for _ in 0..100 {
        op();
    }
    let mut iterations = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            op();
        }
        iterations += 100;
    }
    let per_op = start.elapsed() / u32::try_from(iterations).unwrap_or(u32::MAX);
    let per_second = iterations as f64 / start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>9.2} µs/op {per_second:>12.0} ops/s",
        per_op.as_secs_f64() * 1e6
    );
}

fn main() {
    let raw = post();
    println!("post size: {} bytes", raw.len());
    let bulk = list(
        mailcast_model::settings::DEFAULT_FOOTER,
        Personalization::None,
    );
    let fixed = intake::fix_message(&raw, "anne@example.net", "gen@lists.example.com")
        .expect("the post parses");
    let senders = [SenderFacts {
        address: "anne@example.net".into(),
        roles: vec![MemberRole::Member],
        ..SenderFacts::default()
    }];

    bench("intake::fix_message", || {
        black_box(
            intake::fix_message(black_box(&raw), "anne@example.net", "gen@lists.example.com").ok(),
        );
    });
    bench("chain::run (member post)", || {
        let message = Message::parse(black_box(&fixed)).expect("parses");
        let facts = MessageFacts {
            original_size: raw.len() as u64,
            ..MessageFacts::default()
        };
        let ctx = RuleContext::new(&message, &bulk, &senders, Some("anne@example.net"), facts);
        black_box(chain::run(&ctx));
    });
    let decorate = ProcessOptions {
        post_number: 7,
        decorate: true,
        anonymous_message_id: "",
        remove_dkim_headers: false,
    };
    bench("handlers::process (default footer)", || {
        black_box(process(black_box(&fixed), &bulk, &decorate).ok());
    });

    let personal = list(
        "-- \n$display_name: $listname\nSent to $user_name_or_address <$user_address>\n",
        Personalization::Full,
    );
    let undecorated = ProcessOptions {
        decorate: false,
        ..decorate
    };
    let processed = process(&fixed, &personal, &undecorated).expect("processes");
    let personalizer = Personalizer::new(&processed, &personal).expect("parses");
    let addresses: Vec<EmailAddress> = (0..1000)
        .map(|i| EmailAddress::parse(&format!("member{i}@example.org")).expect("valid"))
        .collect();
    let mut out = Vec::with_capacity(8192);
    let mut i = 0;
    bench("Personalizer::render (full, footer)", || {
        let address = &addresses[i % addresses.len()];
        i += 1;
        out.clear();
        personalizer.render(
            &RecipientFacts {
                address,
                display_name: Some("Member Name"),
                language: None,
                one_click: None,
            },
            &mut out,
        );
        black_box(&out);
    });
}
