//! `mailcast bounces LIST` (each member's score, last bounce, delivery status and warnings)
//! and `mailcast bounces show LIST ADDRESS` (one member's recent events and diagnostics).

use std::fmt::Write as _;

use jiff::Timestamp;
use mailcast_model::{EmailAddress, ListAddress};

use super::{BouncesArgs, BouncesCommand};
use crate::config::Settings;

fn when(ts: Option<Timestamp>) -> String {
    ts.map_or_else(
        || "-".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%MZ").to_string(),
    )
}

/// Runs one `mailcast bounces` command.
pub async fn run(settings: Settings, args: BouncesArgs) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    let mut out = String::new();
    match (args.command, args.list) {
        (
            Some(BouncesCommand::Show {
                list,
                address,
                limit,
            }),
            _,
        ) => {
            let list = ListAddress::parse(&list)?;
            let address = EmailAddress::parse(&address)?;
            let events = admin.bounce_events(&list, &address, limit).await?;
            if events.is_empty() {
                println!("no bounces of {address} on {list}");
            }
            for e in events {
                let _ = writeln!(
                    out,
                    "{}  {:<9} {:<6} status={} outcome={} source={}{}",
                    when(Some(e.at)),
                    e.class,
                    e.context,
                    e.status.as_deref().unwrap_or("-"),
                    e.outcome,
                    e.source,
                    e.diagnostic
                        .map(|d| format!("\n    {d}"))
                        .unwrap_or_default(),
                );
            }
        }
        (None, Some(list)) => {
            let list = ListAddress::parse(&list)?;
            let rows = admin.bounce_summaries(&list).await?;
            let _ = writeln!(
                out,
                "{:<40} {:>5} {:<17} {:<11} {:>8} {:<17}",
                "ADDRESS", "SCORE", "LAST BOUNCE", "DELIVERY", "WARNINGS", "LAST WARNING"
            );
            for row in rows {
                let s = row.state;
                let _ = writeln!(
                    out,
                    "{:<40} {:>5} {:<17} {:<11} {:>8} {:<17}",
                    s.email.original(),
                    s.score,
                    when(s.last_bounce_received),
                    s.delivery_status.as_str(),
                    s.total_warnings_sent,
                    when(s.last_warning_sent),
                );
            }
        }
        (None, None) => anyhow::bail!("name a list: mailcast bounces LIST"),
    }
    print!("{out}");
    admin.store.close().await;
    Ok(())
}
