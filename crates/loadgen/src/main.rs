//! The `mailcast-loadgen` binary: parse arguments, run a load or a do-nothing server, print
//! the report, and report an error in one place.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mailcast_loadgen::sink::{NullServer, SinkListen};
use mailcast_loadgen::{ClientKind, LoadConfig, MessageSpec, Retry, ack_log, parse_target};

/// LMTP load generator for mailcast (and any LMTP server).
#[derive(Debug, Parser)]
#[command(name = "mailcast-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send messages over N concurrent connections and report durable messages/s and the
    /// latency from the end of data to the 250s.
    Run(RunArgs),
    /// Serve a do-nothing LMTP server (answers 250 to everything, keeps nothing), to measure
    /// the generator's own ceiling. Prints `target: ADDRESS` on its first line.
    Sink(SinkArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The server: HOST:PORT or unix:PATH.
    #[arg(long, default_value = "127.0.0.1:8024")]
    target: String,
    /// Concurrent connections.
    #[arg(short = 'c', long, default_value_t = 4)]
    connections: usize,
    /// Messages per connection.
    #[arg(short = 'm', long, default_value_t = 1000)]
    messages: u64,
    /// Message size in octets.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Envelope sender and From: address.
    #[arg(long, default_value = "loadgen@example.net")]
    from: String,
    /// Envelope recipient (repeat for several); the first is the To: address.
    #[arg(long = "rcpt", default_value = "bench@lists.example.org")]
    rcpts: Vec<String>,
    /// Which client sends.
    #[arg(long, value_enum, default_value_t = ClientArg::Lean)]
    client: ClientArg,
    /// Send again messages that got a 4xx or lost their connection, up to this many attempts
    /// in all (reconnecting as needed); 1 sends each message once.
    #[arg(long, default_value_t = 1)]
    attempts: u32,
    /// Milliseconds to wait before a resend or a reconnect.
    #[arg(long, default_value_t = 50)]
    retry_pause_ms: u64,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    deadline: u64,
    /// Seconds allowed for each connect, write and read.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Name sent in LHLO.
    #[arg(long, default_value = "loadgen.localdomain")]
    helo: String,
    /// Print the report as one JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// Write the acknowledgement log (Message-ID and queue id of every durable message) here.
    #[arg(long)]
    ack_log: Option<PathBuf>,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClientArg {
    /// This crate's client (latency from the end of data, queue ids kept).
    Lean,
    /// mailcast-outbound's Connection (latency of the whole transaction).
    Outbound,
}

#[derive(Debug, clap::Args)]
struct SinkArgs {
    /// Listen on this Unix socket instead of a free port on 127.0.0.1.
    #[arg(long)]
    unix: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 900)]
    lifetime: u64,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "mailcast-loadgen: error: {}",
                format!("{error:#}").replace('\n', " ")
            );
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let runtime = runtime(args.threads)?;
            runtime.block_on(load(args))
        }
        Command::Sink(args) => {
            let runtime = runtime(args.threads)?;
            runtime.block_on(sink(args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    Ok(builder.enable_all().build()?)
}

/// Runs the load; exit status 1 when some message was not durable.
async fn load(args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(!args.rcpts.is_empty(), "--rcpt is needed");
    let target = parse_target(&args.target).map_err(anyhow::Error::msg)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?;
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_string(&jiff::Timestamp::now())
        .context("cannot format the date")?;
    let config = LoadConfig {
        target,
        client: match args.client {
            ClientArg::Lean => ClientKind::Lean,
            ClientArg::Outbound => ClientKind::Outbound,
        },
        connections: args.connections,
        messages_per_connection: args.messages,
        mail_from: args.from.clone(),
        rcpts: args.rcpts.clone(),
        message: MessageSpec {
            size: args.size,
            from: args.from,
            to: args.rcpts[0].clone(),
            date,
            run_token: format!("{:x}.{:x}", now.as_micros(), std::process::id()),
        },
        helo_name: args.helo,
        io_timeout: Duration::from_secs(args.timeout.max(1)),
        retry: (args.attempts > 1).then(|| Retry {
            attempts: args.attempts,
            pause: Duration::from_millis(args.retry_pause_ms),
        }),
        deadline: Duration::from_secs(args.deadline.max(1)),
        record_acks: args.ack_log.is_some(),
    };
    let outcome = mailcast_loadgen::run(config).await;
    if let Some(path) = &args.ack_log {
        std::fs::write(path, ack_log(&outcome))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", outcome.report.to_json_line());
    } else {
        println!("{}", outcome.report);
    }
    let all = args.connections as u64 * args.messages;
    Ok(if outcome.report.durable == all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn sink(args: SinkArgs) -> anyhow::Result<()> {
    let listen = match args.unix {
        Some(path) => SinkListen::Unix(path),
        None => SinkListen::Loopback,
    };
    let server = NullServer::start(&listen)
        .await
        .context("cannot start the sink")?;
    println!("target: {}", server.target());
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    server
        .serve(Duration::from_secs(args.lifetime), async {
            tokio::select! {
                () = stop => {}
                () = terminate => {}
            }
        })
        .await;
    Ok(())
}
