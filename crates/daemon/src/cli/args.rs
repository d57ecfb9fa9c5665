//! The command line, as DESIGN.md §7.1 fixes it. Parsing only; each subcommand's work lives in
//! its own module of `cli/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// mailcast: a fast mailing-list server (LMTP in, SMTP out, Mailman 3 compatible).
#[derive(Debug, Parser)]
#[command(name = "mailcast", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: $MAILCAST_CONFIG, then ./mailcast.toml, then built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: LMTP server, Maildir reader, runners, outbound delivery, /metrics.
    Serve,
    /// Manage domains (mail hosts).
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// Manage mailing lists.
    #[command(subcommand)]
    Lists(ListsCommand),
    /// Manage members, owners and moderators of a list.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Deliver one message from standard input to a list address (for MTA pipe delivery).
    ///
    /// Exit codes follow sysexits.h: 0 accepted, 65 unparseable message, 67 unknown list
    /// address, 75 temporary failure (the MTA retries), 77 refused by list policy.
    Inject(InjectArgs),
    /// Write the MTA's files under var/data (and run postmap for Postfix).
    Mta(MtaArgs),
    /// Inspect and repair the spool.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Moderate held posts.
    #[command(subcommand)]
    Held(HeldCommand),
    /// Pending subscription and unsubscription requests.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Ban addresses (or ^regex patterns) from a list or the whole site.
    #[command(subcommand)]
    Bans(BansCommand),
    /// Override Mailman's named templates for the site, a domain or a list.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Members' bounce scores, status and warnings (`bounces LIST`), or one member's recent
    /// bounce events (`bounces show LIST ADDRESS`).
    Bounces(BouncesArgs),
    /// Send, bump or inspect the lists' digests (Mailman's `mailman digests`).
    Digests(DigestsArgs),
    /// DKIM keys for signing outgoing mail.
    #[command(subcommand)]
    Dkim(DkimCommand),
}

/// `mailcast dkim`.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Write a new private key to var/dkim/DOMAIN.SELECTOR.key (mode 0600, never overwritten)
    /// and print the DNS TXT record to publish. RSA-2048 (made by `openssl genpkey`) unless
    /// --ed25519.
    Keygen {
        /// The list domain (`d=`).
        domain: String,
        /// The selector (`s=`): the record goes at SELECTOR._domainkey.DOMAIN.
        selector: String,
        /// An Ed25519 key (RFC 8463) instead of RSA-2048.
        #[arg(long)]
        ed25519: bool,
    },
}

/// `mailcast digests`.
#[derive(Debug, Args)]
pub struct DigestsArgs {
    /// A list (posting address or List-Id); may be repeated. Every list when none is given.
    #[arg(short = 'l', long = "list")]
    pub lists: Vec<String>,
    /// Send the waiting posts now, even below the size threshold.
    #[arg(short, long)]
    pub send: bool,
    /// Move the volume and issue numbers on first, as sending a digest would.
    #[arg(short, long)]
    pub bump: bool,
    /// Send the waiting posts of the lists with `digest_send_periodic` only.
    #[arg(short, long)]
    pub periodic: bool,
    /// Change nothing; with --verbose, show what would happen.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Say what is done.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// List the pending requests of a list.
    List { list: String },
    /// Approve a request that waits for the moderators.
    Approve { list: String, token: String },
    /// Reject a request: the subscriber is told, with the reason.
    Reject {
        list: String,
        token: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Drop a request silently.
    Discard { list: String, token: String },
    /// Leave a request for later.
    Defer { list: String, token: String },
}

#[derive(Debug, Args)]
pub struct BanScope {
    /// The list (omit with --global).
    pub list: Option<String>,
    /// The site-wide bans.
    #[arg(long, conflicts_with = "list")]
    pub global: bool,
}

#[derive(Debug, Subcommand)]
pub enum BansCommand {
    /// Ban an address or a ^regex.
    Add {
        pattern: String,
        #[command(flatten)]
        scope: BanScope,
    },
    /// Lift a ban.
    Remove {
        pattern: String,
        #[command(flatten)]
        scope: BanScope,
    },
    /// List the bans.
    List {
        #[command(flatten)]
        scope: BanScope,
    },
}

#[derive(Debug, Args)]
pub struct TemplateScopeArgs {
    /// A list's override.
    #[arg(long, conflicts_with = "domain")]
    pub list: Option<String>,
    /// A domain's override.
    #[arg(long)]
    pub domain: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Set an override from a file (or file: URL), an http(s): URL (fetched now), or --text.
    Set {
        /// The template name, e.g. list:user:notice:welcome.
        name: String,
        /// A file: URL, a path, or an http: or https: URL.
        #[arg(required_unless_present = "text", conflicts_with = "text")]
        source: Option<String>,
        /// The text itself.
        #[arg(long)]
        text: Option<String>,
        #[command(flatten)]
        scope: TemplateScopeArgs,
    },
    /// Print the text in force for a scope (the override, else the default).
    Show {
        name: String,
        #[command(flatten)]
        scope: TemplateScopeArgs,
    },
    /// List the overrides (of one scope, or all); --names lists every template name.
    List {
        #[command(flatten)]
        scope: TemplateScopeArgs,
        #[arg(long)]
        names: bool,
    },
    /// Remove an override.
    Remove {
        name: String,
        #[command(flatten)]
        scope: TemplateScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// Add a domain.
    Add {
        /// The mail host, e.g. lists.example.org.
        domain: String,
        /// A fictitious alias domain for Postfix virtual alias domains (Mailman 3's alias_domain).
        #[arg(long)]
        alias_domain: Option<String>,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Remove a domain (refused while it has lists, unless --force removes them too).
    Remove {
        domain: String,
        /// Also remove the domain's lists and their members.
        #[arg(long)]
        force: bool,
    },
    /// List the domains.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ListsCommand {
    /// Create a list; its address is its identity (name@domain).
    Create { address: String },
    /// Remove a list with its members and held posts.
    Remove { address: String },
    /// List the lists.
    List {
        /// Only the lists of this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Show a list's settings (Mailman 3 attribute names) and state.
    Show { address: String },
    /// Change settings: KEY=VALUE with Mailman 3 attribute names.
    Set {
        address: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Member,
    Owner,
    Moderator,
    Nonmember,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Subscribe addresses (idempotent). Reads `addr`, `Name <addr>` lines from --file or - (stdin).
    Add {
        list: String,
        addresses: Vec<String>,
        /// A file with one address per line; `-` reads standard input.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
        /// Import the valid lines even if some are malformed (default: refuse the whole import).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Unsubscribe addresses.
    Remove {
        list: String,
        #[arg(required = true)]
        addresses: Vec<String>,
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
    },
    /// List members.
    List {
        list: String,
        /// Only this role (default: all roles).
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
    },
    /// Change a member's settings: moderation_action, delivery_mode, delivery_status,
    /// receive_own_postings, receive_list_copy, acknowledge_posts, hide_address,
    /// preferred_language (`-` clears one).
    Set {
        list: String,
        address: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
    },
    /// Turn a member's delivery back on after bounces disabled it, and clear its bounce
    /// score and warnings.
    Reenable { list: String, address: String },
}

/// `mailcast bounces LIST` or `mailcast bounces show LIST ADDRESS`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BouncesArgs {
    #[command(subcommand)]
    pub command: Option<BouncesCommand>,
    /// The list whose members' bounce records to show.
    pub list: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// The recent bounce events of one member, newest first, with their diagnostics.
    Show {
        list: String,
        address: String,
        /// How many events.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The recipient list address (any of its sub-addresses too).
    pub list_address: String,
    /// Envelope sender (default: $SENDER as set by Postfix local(8), else the From: header).
    #[arg(long, short = 'f')]
    pub sender: Option<String>,
}

#[derive(Debug, Args)]
pub struct MtaArgs {
    /// Which MTA's files to write.
    #[arg(value_enum, default_value = "postfix")]
    pub mta: MtaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MtaKind {
    Postfix,
    Exim,
    Sendmail,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Count entries per stage, or list the entries of one stage.
    List { stage: Option<String> },
    /// Show one entry's envelope and headers.
    Show {
        id: String,
        /// Print the whole message.
        #[arg(long)]
        body: bool,
    },
    /// Move a shunted (or held, deferred) entry back to where it failed, to be tried again now.
    Retry { id: String },
    /// Delete an entry for good.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum HeldCommand {
    /// List the posts held for moderation.
    List { list: String },
    /// Approve a held post: it continues down the pipeline.
    Approve { list: String, id: u64 },
    /// Reject a held post: the sender gets a notice with the reasons.
    Reject {
        list: String,
        id: u64,
        /// Text added to the notice.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Discard a held post silently.
    Discard { list: String, id: u64 },
    /// Leave a held post for later.
    Defer { list: String, id: u64 },
}
