//! The HTTP endpoints: on `[rest] listen` the REST API (`/3.1/...`, from `mailcast-rest`) and
//! Prometheus `/metrics`; on `[web] listen`, if set, the public one-click unsubscribe
//! endpoint (RFC 8058). Queue depths are sampled into gauges every few seconds.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use mailcast_spool::Spool;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often queue depths are sampled.
const DEPTH_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the process-wide metrics recorder (once) and returns the handle that renders it.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; the handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Binds `addr` and serves `api` and `/metrics` until `shutdown`.
pub async fn spawn(
    addr: SocketAddr,
    api: Router,
    prometheus: PrometheusHandle,
    spool: Spool,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
    let render = prometheus.clone();
    let app = Router::new()
        .route("/metrics", get(move || std::future::ready(render.render())))
        .merge(api);
    let sampler = {
        let shutdown = shutdown.clone();
        let prometheus = prometheus.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(DEPTH_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.cancelled() => return,
                }
                // Histogram samples are folded into their summaries only by upkeep; without it
                // they accumulate until the next scrape.
                prometheus.run_upkeep();
                let spool = spool.clone();
                if let Ok(Ok(counts)) = tokio::task::spawn_blocking(move || spool.counts()).await {
                    for (stage, n) in counts {
                        metrics::gauge!("mailcast_queue_depth", "stage" => stage.as_str())
                            .set(n as f64);
                    }
                }
            }
        })
    };
    Ok(tokio::spawn(async move {
        serve(listener, app, shutdown).await;
        let _ = sampler.await;
    }))
}

/// Binds `addr` and serves `app` (the public web endpoint) until `shutdown`.
pub async fn spawn_web(
    addr: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
    Ok(tokio::spawn(serve(listener, app, shutdown)))
}

async fn serve(listener: tokio::net::TcpListener, app: Router, shutdown: CancellationToken) {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let _ = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
}
