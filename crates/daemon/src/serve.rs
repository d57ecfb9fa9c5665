//! `mailcast serve`: wiring the daemon together, and taking it apart again on SIGTERM.
//!
//! Start-up order: open the store (migrations), open the spool and run its crash recovery,
//! load the directory snapshot, start the spool's group committer, bind the LMTP listeners
//! (so a port conflict fails before anything runs), then start the LMTP server, the Maildir
//! reader, the runners, the directory watcher and the HTTP endpoint.
//!
//! Shutdown order (SIGTERM or SIGINT): stop accepting connections and let every LMTP session
//! finish its transaction (the next command gets `421 4.3.2`), stop the runners (a delivery
//! batch in flight completes and records its progress), then flush and checkpoint the spool.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mailcast_proto::lmtp::{BareLineEndings as SessionBare, Config as SessionConfig};
use mailcast_spool::{CommitterOptions, Stage};
use mailcast_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{BareLineEndings, Settings};
use crate::directory::Directory;
use crate::inbound::accept::{Acceptor, AcceptorLimits};
use crate::inbound::lmtp::LmtpServer;
use crate::inbound::lmtp::connection::Timeouts;
use crate::posting::Posting;
use crate::runner::{self, RunnerContext, Wakeup};

/// How long shutdown waits for LMTP sessions to finish their transaction.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the daemon until SIGTERM/SIGINT, on its own runtime.
pub fn run_blocking(settings: Settings) -> anyhow::Result<()> {
    crate::logging::init(&settings.log_level, settings.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutdown requested");
            signals.cancel();
        });
        run(settings, shutdown).await
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the daemon still stops when killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    std::fs::create_dir_all(&settings.var_dir)
        .with_context(|| format!("cannot create {}", settings.var_dir.display()))?;
    // A DKIM key that cannot be used stops the start, naming the key (a config error).
    let dkim =
        crate::dkim::Signers::load(&settings.dkim).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    // One resolver and one cache for DMARC, DKIM and ARC; no query is sent here.
    let dns =
        crate::dns::Dns::from_config(&settings.dns).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    // `[arc]`: its key is read now; one that cannot be used stops the start, naming it.
    let arc = match &settings.arc {
        Some(arc) => Some(
            crate::arc::ArcSite::load(arc, dns.clone())
                .map_err(|e| anyhow::anyhow!("config: key `arc.key`: {e}"))?,
        ),
        None => None,
    };
    let store = Store::open(&settings.database_url).await?;
    let spool = settings.open_spool()?;
    let report = spool.recover().context("spool recovery failed")?;
    info!(?report, "spool recovered");
    // Digests this node was sending when it stopped are sent again now, not after the
    // claim's lease (their jobs derive from the digest, so none is queued twice).
    let released = store
        .release_digest_claims(&settings.site.node)
        .await
        .context("cannot release this node's digest claims")?;
    if released > 0 {
        info!(
            digests = released,
            "taking back the digests this node was sending"
        );
    }
    let directory = Directory::load(&store).await?;
    let prometheus = crate::http::install_metrics();

    let (wake_tx, wake_rx) = mpsc::unbounded_channel::<Wakeup>();
    // Told right after each commit: the runners take a new entry from the spool's memory
    // at once, usually before the spool writes any file for it.
    let committed = settings.runner.enabled.then(|| wake_tx.clone());
    let committer = spool
        .start_committer(CommitterOptions {
            on_committed: committed.map(|wake| -> mailcast_spool::CommittedFn {
                Box::new(move |stage: Stage, id: &mailcast_spool::EntryId| {
                    let _ = wake.send(Wakeup::Committed(stage, id.clone()));
                })
            }),
            ..CommitterOptions::default()
        })
        .context("cannot start the spool committer")?;

    let lmtp = LmtpServer::bind(&settings.lmtp.listen).await?;
    let unix_paths = lmtp.unix_paths();
    let posting = Arc::new(Posting::for_settings(store.clone(), &settings));
    let acceptor = Arc::new(
        Acceptor::new(
            acceptor_limits(&settings),
            settings.hostname.clone(),
            directory.clone(),
            posting.clone(),
            spool.clone(),
            committer.clone(),
        )
        .with_dns(dns.clone()),
    );
    let intake_shutdown = shutdown.child_token();
    let lmtp_tasks = lmtp.start(acceptor, intake_shutdown.clone());

    let api = crate::api::Api::new(crate::admin::Admin::new(
        settings.clone(),
        store.clone(),
        spool.clone(),
        directory.clone(),
        posting.clone(),
    ));
    let credentials =
        mailcast_rest::Credentials::new(&settings.rest.admin_user, &settings.rest.admin_pass);
    let http = crate::http::spawn(
        settings.rest.listen,
        mailcast_rest::router(api.clone(), credentials),
        prometheus,
        spool.clone(),
        shutdown.clone(),
    )
    .await?;
    let web = match &settings.web {
        Some(web) => {
            let tokens = crate::oneclick::tokens(&settings)?;
            Some(
                crate::http::spawn_web(
                    web.listen,
                    mailcast_rest::oneclick::router(api, tokens),
                    shutdown.clone(),
                )
                .await?,
            )
        }
        None => None,
    };

    let watcher = {
        let (directory, store, shutdown, wake) = (
            directory.clone(),
            store.clone(),
            shutdown.clone(),
            wake_tx.clone(),
        );
        tokio::spawn(directory.watch(store, shutdown, move |_| {
            let _ = wake.send(Wakeup::DirectoryChanged);
        }))
    };

    // The Maildir reader first: its start-up sweep removes Maildir files whose entry already
    // exists (a crash between adopting and unlinking) before any runner can finish that entry.
    let maildir = crate::inbound::maildir::start(
        &settings,
        &store,
        &spool,
        &directory,
        wake_tx.clone(),
        shutdown.clone(),
    );
    let runners = if settings.runner.enabled {
        Some(runner::start(
            RunnerContext::new(
                settings.clone(),
                store.clone(),
                spool.clone(),
                directory.clone(),
                posting,
                mailcast_outbound::Relay::new(runner::relay_config(&settings.smtp)),
                shutdown.clone(),
            )
            .with_one_click(crate::oneclick::OneClickLinks::from_settings(&settings)?)
            .with_dkim(dkim)
            .with_dns(dns)
            .with_arc(arc),
            wake_tx,
            wake_rx,
            shutdown.clone(),
        ))
    } else {
        drop(wake_rx);
        None
    };
    info!(hostname = %settings.hostname, "mailcast serving");

    shutdown.cancelled().await;
    if tokio::time::timeout(DRAIN_TIMEOUT, lmtp_tasks.wait())
        .await
        .is_err()
    {
        warn!("LMTP sessions did not finish within {DRAIN_TIMEOUT:?}; closing them");
    }
    for path in unix_paths {
        let _ = std::fs::remove_file(path);
    }
    if let Some(runners) = runners {
        runners.wait().await;
    }
    if let Some(maildir) = maildir {
        let _ = maildir.await;
    }
    let _ = watcher.await;
    let _ = http.await;
    if let Some(web) = web {
        let _ = web.await;
    }
    tokio::task::spawn_blocking(move || committer.shutdown())
        .await
        .context("spool committer shutdown panicked")?
        .context("spool committer shutdown failed")?;
    store.close().await;
    info!("mailcast stopped");
    Ok(())
}

fn acceptor_limits(settings: &Settings) -> AcceptorLimits {
    let l = &settings.lmtp;
    AcceptorLimits {
        session: Arc::new(SessionConfig {
            hostname: settings.hostname.clone(),
            max_message_size: l.max_message_size,
            max_recipients: l.max_recipients,
            max_line_length: l.max_line_length,
            max_command_line: l.max_command_line,
            max_errors: l.max_errors,
            bare_line_endings: match l.bare_line_endings {
                BareLineEndings::Reject => SessionBare::Reject,
                BareLineEndings::Accept => SessionBare::Accept,
            },
            chunking: l.chunking,
        }),
        timeouts: Timeouts {
            idle: l.idle_timeout,
            data: l.data_timeout,
        },
        spill_threshold: l.spill_threshold,
        max_connections: l.max_connections,
        max_connections_per_ip: l.max_connections_per_ip,
    }
}
