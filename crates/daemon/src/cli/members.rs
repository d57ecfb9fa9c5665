//! `mailcast members add|remove|list|set`: parse, call the admin layer, print.
//!
//! `add` reads addresses from the arguments and from `--file FILE` or `-` (standard input), one
//! `addr`, `<addr>` or `Name <addr>` per line; blank lines and `#` comments are skipped. By
//! default a single malformed line refuses the whole import (nothing is written) and names the
//! line; `--skip-invalid` imports the valid ones and counts the others. The import is
//! idempotent and batched (thousands of rows per transaction); on a terminal a progress bar
//! shows large imports.

use std::io::{BufRead, BufReader, IsTerminal, Write};

use anyhow::{Context, bail};
use mailcast_model::{EmailAddress, ListAddress, Mailbox, MemberRole};

use super::{MembersCommand, RoleArg};
use crate::config::Settings;

pub fn role(arg: RoleArg) -> MemberRole {
    match arg {
        RoleArg::Member => MemberRole::Member,
        RoleArg::Owner => MemberRole::Owner,
        RoleArg::Moderator => MemberRole::Moderator,
        RoleArg::Nonmember => MemberRole::Nonmember,
    }
}

pub async fn run(settings: Settings, cmd: MembersCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    match cmd {
        MembersCommand::Set {
            list,
            address,
            settings: pairs,
            role: r,
        } => {
            let list = ListAddress::parse(&list)?;
            let address = EmailAddress::parse(&address)?;
            let member = admin
                .set_member(&list, &address, role(r), &super::key_values(&pairs)?)
                .await?;
            println!("{}", member_line(&member).trim_end());
        }
        MembersCommand::Add {
            list,
            addresses,
            file,
            role: r,
            skip_invalid,
        } => {
            let list = ListAddress::parse(&list)?;
            let mut lines: Vec<(String, String)> = addresses
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("argument {}", i + 1), a.clone()))
                .collect();
            if let Some(path) = file {
                let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                    Box::new(BufReader::new(std::io::stdin()))
                } else {
                    let f = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    Box::new(BufReader::new(f))
                };
                let name = path.display().to_string();
                for (n, line) in reader.lines().enumerate() {
                    let line = line.with_context(|| format!("cannot read {name}"))?;
                    let t = line.trim();
                    if !t.is_empty() && !t.starts_with('#') {
                        lines.push((format!("{name} line {}", n + 1), t.to_string()));
                    }
                }
            }
            let mut mailboxes = Vec::with_capacity(lines.len());
            let mut invalid = Vec::new();
            for (place, text) in &lines {
                match Mailbox::parse(text) {
                    Ok(m) => mailboxes.push(m),
                    Err(e) => invalid.push(format!("{place}: {e}")),
                }
            }
            if !invalid.is_empty() && !skip_invalid {
                bail!(
                    "{} invalid address(es), nothing imported (use --skip-invalid to import the others); first: {}",
                    invalid.len(),
                    invalid[0]
                );
            }
            if mailboxes.is_empty() && invalid.is_empty() {
                bail!("no addresses given (arguments, --file FILE or --file -)");
            }
            let bar = progress_bar(mailboxes.len());
            let mut on_progress = |done: usize| {
                if let Some(b) = &bar {
                    b.set_position(done as u64);
                }
            };
            let report = admin
                .import_members(&list, role(r), &mailboxes, &mut on_progress)
                .await?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            for line in invalid.iter().take(20) {
                eprintln!("skipped {line}");
            }
            println!(
                "{list}: added {}, already members {}, invalid {}",
                report.added,
                report.already_members,
                invalid.len()
            );
        }
        MembersCommand::Remove {
            list,
            addresses,
            role: r,
        } => {
            let list = ListAddress::parse(&list)?;
            let addresses = addresses
                .iter()
                .map(|a| EmailAddress::parse(a))
                .collect::<Result<Vec<_>, _>>()?;
            let report = admin
                .remove_members(&list, Some(role(r)), &addresses)
                .await?;
            println!("{list}: removed {}", report.removed);
            if !report.not_members.is_empty() {
                let names: Vec<&str> = report.not_members.iter().map(|a| a.as_str()).collect();
                bail!("not {}s of {list}: {}", role(r), names.join(", "));
            }
        }
        MembersCommand::Reenable { list, address } => {
            let list = ListAddress::parse(&list)?;
            let address = EmailAddress::parse(&address)?;
            let before = admin.reenable_member(&list, &address).await?;
            println!(
                "{list}: delivery to {address} re-enabled (was {}, bounce score {})",
                before.delivery_status, before.score
            );
        }
        MembersCommand::List { list, role: r } => {
            let list = ListAddress::parse(&list)?;
            let members = admin.members(&list, r.map(role)).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for m in members {
                let line = member_line(&m);
                if out.write_all(line.as_bytes()).is_err() {
                    return Ok(()); // the reader went away (e.g. `| head`)
                }
            }
            let _ = out.flush();
        }
    }
    Ok(())
}

/// One member on one line: the address (with its name), role, delivery status, then the
/// settings that differ from the defaults as `key=value`.
fn member_line(m: &mailcast_store::Member) -> String {
    let who = match &m.display_name {
        Some(name) => format!("{} <{}>", super::held::one_line(name), m.address),
        None => m.address.to_string(),
    };
    let mut extra = Vec::new();
    if let Some(action) = m.moderation_action {
        extra.push(format!("moderation_action={action}"));
    }
    if m.delivery_mode != mailcast_model::DeliveryMode::Regular {
        extra.push(format!("delivery_mode={}", m.delivery_mode));
    }
    let p = &m.preferences;
    for (name, value) in [
        ("receive_own_postings", p.receive_own_postings),
        ("receive_list_copy", p.receive_list_copy),
        ("acknowledge_posts", p.acknowledge_posts),
        ("hide_address", p.hide_address),
    ] {
        if let Some(value) = value {
            extra.push(format!("{name}={value}"));
        }
    }
    if let Some(language) = &p.preferred_language {
        extra.push(format!("preferred_language={language}"));
    }
    let mut line = format!("{who}\t{}\t{}", m.role, m.delivery_status);
    if !extra.is_empty() {
        line.push('\t');
        line.push_str(&extra.join(" "));
    }
    line.push('\n');
    line
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if total < 1000 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} members ({per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}
