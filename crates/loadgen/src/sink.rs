//! The do-nothing LMTP server the generator's own ceiling is measured against: the outbound
//! crate's test sink in LMTP mode, keeping no message data.
//!
//! It answers every recipient with `250 2.0.0 Ok: queued as N` as soon as the data ends, so a
//! run against it measures the generator (and the loopback) alone. It is a benchmark fixture,
//! never a mail server: it stores nothing and accepts every address. It stops by itself after
//! its lifetime, so a forgotten one does not linger.

use std::path::PathBuf;
use std::time::Duration;

use mailcast_outbound::Target;
use mailcast_outbound::sink::{Sink, SinkConfig, SinkCounters};

/// Where the sink listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkListen {
    /// 127.0.0.1, a port of the system's choice.
    Loopback,
    /// A Unix-domain socket at this path (which must not exist).
    Unix(PathBuf),
}

/// A running do-nothing LMTP server.
pub struct NullServer {
    sink: Sink,
}

impl NullServer {
    /// Starts listening.
    pub async fn start(listen: &SinkListen) -> std::io::Result<NullServer> {
        let config = SinkConfig {
            record_data: false,
            hostname: "sink.loadgen.invalid".into(),
            ..SinkConfig::lmtp()
        };
        let sink = match listen {
            SinkListen::Loopback => Sink::start(config).await?,
            SinkListen::Unix(path) => Sink::start_unix(path, config).await?,
        };
        Ok(NullServer { sink })
    }

    /// Where clients connect.
    pub fn target(&self) -> Target {
        self.sink.target()
    }

    /// What it saw so far.
    pub fn counters(&self) -> SinkCounters {
        self.sink.counters()
    }

    /// Serves until `lifetime` passed or `stop` completes, then stops.
    pub async fn serve(self, lifetime: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::select! {
            () = tokio::time::sleep(lifetime) => {}
            () = stop => {}
        }
        drop(self.sink);
    }
}
