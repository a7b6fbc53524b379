//! `sct-serve`: the reference update service — keys, publishing, and the server itself.

use crate::cli::OperatorArgs;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-serve";

/// Run the update service: generate a signing key, publish a signed catalog, serve it.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(&format!("{AFTER_HELP}{AFTER_HELP_NOTES}"), EXIT_CODES))]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// What `sct-serve` does.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate an ed25519 signing key (a file only its owner can read); prints its public key.
    #[command(after_help = KEYGEN_EXAMPLES)]
    Keygen {
        /// The private key file to create (must not exist).
        #[arg(long, value_name = "KEY", value_parser = crate::core::paths::path_flag)]
        out: PathBuf,
        /// catalog: signs catalogs, pinned by clients, may stay offline. timestamp: signs the
        /// short-lived freshness statements online (`run --timestamp-key`, `timestamp`); publish
        /// names it with --timestamp-key.
        #[arg(long, value_name = "ROLE", default_value = "catalog")]
        role: Role,
    },
    /// Hash every pack under ROOT/packs/, build the next catalog version, sign it and write it.
    #[command(after_help = PUBLISH_EXAMPLES)]
    Publish {
        /// The service root (holds packs/ and packs.json; catalog/ is written).
        #[arg(long, value_name = "ROOT", value_parser = crate::core::paths::path_flag)]
        root: PathBuf,
        /// Signing key file; repeat to sign with several keys (key rotation).
        #[arg(long = "key", value_name = "KEY", required = true, value_parser = crate::core::paths::path_flag)]
        keys: Vec<PathBuf>,
        /// Days until clients refuse the catalog (1 to 3650; clients refuse more than 90 unless
        /// their max_catalog_validity_days is raised).
        #[arg(long, value_name = "DAYS", default_value_t = crate::service::publish::DEFAULT_EXPIRES_IN_DAYS)]
        expires_in: u32,
        /// Pack metadata (sct.pack-metadata.v1) [default: ROOT/packs.json]
        #[arg(long, value_name = "FILE", value_parser = crate::core::paths::path_flag)]
        metadata: Option<PathBuf>,
        /// Bind the catalog to one hierarchy.
        #[arg(long, value_name = "GUID")]
        hierarchy_id: Option<uuid::Uuid>,
        /// A key allowed to sign freshness statements: `ed25519:...` or the key file `keygen
        /// --role timestamp` wrote; repeat to name several (rotation) [default: those the
        /// previous catalog named]
        #[arg(long = "timestamp-key", value_name = "KEY")]
        timestamp_keys: Vec<String>,
    },
    /// Sign the freshness statement (catalog/timestamp.json) for the published catalog once: for
    /// a static host or CDN, from a cron job or scheduled task well within its lifetime.
    #[command(
        after_help = "Examples:\n  sct-serve timestamp --root /srv/sct --key /etc/sct/timestamp-key.json\n  crontab: 0 */4 * * *  sct-serve timestamp --root /srv/sct --key /etc/sct/timestamp-key.json --quiet\n  schtasks /create /sc hourly /mo 4 /tn sct-timestamp /tr \"C:\\sct\\sct-serve.exe timestamp --root D:\\sct --key C:\\sct\\timestamp-key.json\""
    )]
    Timestamp {
        /// The service root (its catalog/ is read and timestamp.json written there).
        #[arg(long, value_name = "ROOT", value_parser = crate::core::paths::path_flag)]
        root: PathBuf,
        /// The timestamp key file (made by `keygen --role timestamp`).
        #[arg(long, value_name = "KEY", value_parser = crate::core::paths::path_flag)]
        key: PathBuf,
        /// Hours until clients refuse the statement (1 to 168).
        #[arg(long, value_name = "HOURS", default_value_t = crate::core::freshness::DEFAULT_LIFETIME_HOURS)]
        lifetime: u32,
    },
    /// Serve ROOT: static catalog/ and packs/, and POST /api/v1/usage for usage cabs.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// The service root (catalog/ and packs/ are served from it; uploads/ is written).
        #[arg(long, value_name = "ROOT", value_parser = crate::core::paths::path_flag)]
        root: PathBuf,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// TLS certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key", value_parser = crate::core::paths::path_flag)]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); needs --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert", value_parser = crate::core::paths::path_flag)]
        tls_key: Option<PathBuf>,
        /// File holding the bearer token uploads must carry [default: SCT_SERVICE_TOKEN]
        #[arg(long, value_name = "FILE", value_parser = crate::core::paths::path_flag)]
        token_file: Option<PathBuf>,
        /// Accept uploads without a token (nobody is authenticated: anyone who reaches the service can upload).
        #[arg(long)]
        allow_anonymous_uploads: bool,
        /// Largest usage cab accepted, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = crate::service::serve::DEFAULT_MAX_UPLOAD)]
        max_upload: u64,
        /// Bytes of usage cabs stored under ROOT/uploads/ before uploads are refused (507).
        #[arg(long, value_name = "BYTES", default_value_t = crate::service::serve::quota::DEFAULT_QUOTA_BYTES)]
        upload_quota: u64,
        /// Usage cabs stored under ROOT/uploads/ before uploads are refused (507).
        #[arg(long, value_name = "N", default_value_t = crate::service::serve::quota::DEFAULT_QUOTA_FILES)]
        upload_quota_files: u64,
        /// Uploads received at once; more are answered 503 (the client retries).
        #[arg(long, value_name = "N", default_value_t = crate::service::serve::DEFAULT_CONCURRENT_UPLOADS)]
        max_concurrent_uploads: usize,
        /// Open connections at once (lowered to fit the file-descriptor limit); when full, the oldest idle one is closed.
        #[arg(long, value_name = "N", default_value_t = crate::service::serve::connections::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
        /// Open connections from one address at once.
        #[arg(long, value_name = "N", default_value_t = crate::service::serve::connections::DEFAULT_MAX_PER_IP)]
        max_connections_per_ip: usize,
        /// Seconds a client has to send a request's headers before the connection is closed.
        #[arg(long, value_name = "SECS", default_value_t = crate::service::serve::connections::DEFAULT_HEADER_TIMEOUT.as_secs_f64())]
        header_timeout: f64,
        /// Base URL receipts offer for downloads (e.g. an nginx serving the same ROOT) [default: the address listened on; required with a wildcard --bind]
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// The timestamp key file: sign the freshness statement at start, and again whenever it
        /// has lived half its lifetime or a new catalog is published.
        #[arg(long, value_name = "KEY", value_parser = crate::core::paths::path_flag)]
        timestamp_key: Option<PathBuf>,
        /// Hours until clients refuse each statement signed (1 to 168).
        #[arg(long, value_name = "HOURS", default_value_t = crate::core::freshness::DEFAULT_LIFETIME_HOURS, requires = "timestamp_key")]
        timestamp_lifetime: u32,
    },
}

/// `keygen --role`: what the key signs.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Role {
    Catalog,
    Timestamp,
}

impl From<Role> for crate::core::signing::KeyRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Catalog => Self::Catalog,
            Role::Timestamp => Self::Timestamp,
        }
    }
}

/// The examples, in the words of the system the binary runs on (Windows paths and `set` on
/// Windows, where no administrator has `/srv` or `export`).
const AFTER_HELP: &str = if cfg!(windows) {
    "\
Examples:
  sct-serve keygen --out C:\\sct\\keys\\signing-key.json
  sct-demo packs --root D:\\sct
  sct-serve keygen --role timestamp --out C:\\sct\\keys\\timestamp-key.json
  sct-serve publish --root D:\\sct --key C:\\sct\\keys\\signing-key.json --expires-in 30 ^
      --timestamp-key C:\\sct\\keys\\timestamp-key.json
  sct-serve run --root D:\\sct --token-file C:\\sct\\keys\\upload-token --log C:\\sct\\logs\\serve.log ^
      --timestamp-key C:\\sct\\keys\\timestamp-key.json
  set SCT_SERVICE_TOKEN=s3cret
  sct-serve run --root D:\\sct --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem ^
      --public-url https://downloads.example.org
"
} else {
    "\
Examples:
  sct-serve keygen --out /etc/sct/signing-key.json
  sct-serve keygen --role timestamp --out /etc/sct/timestamp-key.json
  sct-demo packs --root /srv/sct
  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30 \\
      --timestamp-key /etc/sct/timestamp-key.json
  sct-serve run --root /srv/sct --token-file /etc/sct/upload-token --log /var/log/sct/serve.log \\
      --timestamp-key /etc/sct/timestamp-key.json
  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 \\
      --tls-cert cert.pem --tls-key key.pem --public-url https://downloads.example.org
"
};

const AFTER_HELP_NOTES: &str = "
`run` prints one JSON line (sct.serve-listening.v1) with the bound address on stdout, then logs
to stderr until interrupted. Downloads are static files: nginx serving ROOT works as well.
Uploads need the token in SCT_SERVICE_TOKEN (or --token-file) unless --allow-anonymous-uploads.";

const KEYGEN_EXAMPLES: &str = if cfg!(windows) {
    "Examples:\n  sct-serve keygen --out C:\\sct\\keys\\signing-key.json\n  sct-serve keygen --role timestamp --out C:\\sct\\keys\\timestamp-key.json"
} else {
    "Examples:\n  sct-serve keygen --out /etc/sct/signing-key.json | jq -r .public_key\n  sct-serve keygen --role timestamp --out /etc/sct/timestamp-key.json"
};

const PUBLISH_EXAMPLES: &str = if cfg!(windows) {
    "Examples:\n  sct-serve publish --root D:\\sct --key C:\\sct\\keys\\signing-key.json --expires-in 30\n  sct-serve publish --root D:\\sct --key old-key.json --key new-key.json"
} else {
    "Examples:\n  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30\n  sct-serve publish --root /srv/sct --key old-key.json --key new-key.json"
};

const RUN_EXAMPLES: &str = if cfg!(windows) {
    "Examples:\n  sct-serve run --root D:\\sct --token-file C:\\sct\\keys\\upload-token --log C:\\sct\\logs\\serve.log\n  set SCT_SERVICE_TOKEN=s3cret\n  sct-serve run --root D:\\sct --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --public-url https://updates.example.org"
} else {
    "Examples:\n  sct-serve run --root /srv/sct --token-file /etc/sct/upload-token --log /var/log/sct/serve.log\n  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --public-url https://updates.example.org"
};

/// The exit codes `sct-serve` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, ""),
    (crate::core::error::ExitCode::Rejected, ""),
    (crate::core::error::ExitCode::Usage, ""),
    (crate::core::error::ExitCode::Io, ""),
    (crate::core::error::ExitCode::Network, ""),
];

/// Runs `sct-serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let command = args.command;
    let stdout = std::io::stdout().lock();
    match command {
        Command::Keygen { out, role } => {
            let role = crate::core::signing::KeyRole::from(role);
            let key = crate::core::signing::PrivateKey::generate();
            key.save_as(&out, role)?;
            let then = match role {
                crate::core::signing::KeyRole::Catalog => "pin the public key below",
                crate::core::signing::KeyRole::Timestamp => {
                    "name the public key below when publishing (--timestamp-key)"
                }
            };
            crate::cli::note(
                TOOL,
                format!(
                    "{} key written to {} (keep it secret); {then}",
                    role.name(),
                    out.display()
                ),
            );
            crate::core::logging::info(
                TOOL,
                format!(
                    "Signing key written to {} (key ID {})",
                    out.display(),
                    key.public().key_id()
                ),
            );
            crate::core::document::write_line(
                stdout,
                &crate::core::signing::public_key_document(&key.public(), role),
            )
        }
        Command::Publish {
            root,
            keys,
            expires_in,
            metadata,
            hierarchy_id,
            timestamp_keys,
        } => {
            for key in &keys {
                crate::service::serve::contained::check_not_served(&root, key, "the signing key")?;
            }
            let keys = keys
                .iter()
                .map(|path| crate::core::signing::PrivateKey::load(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let refs: Vec<&crate::core::signing::PrivateKey> = keys.iter().collect();
            let options = crate::service::publish::PublishOptions {
                root,
                metadata,
                expires_in_days: expires_in,
                hierarchy_id,
                timestamp_keys: timestamp_public_keys(&timestamp_keys)?,
            };
            let report = crate::service::publish::publish(&options, &refs)?;
            let published = format!(
                "published catalog version {} ({} packs, {} files) valid until {}",
                report.version, report.packs, report.files, report.expires_at
            );
            crate::core::logging::info(TOOL, &published);
            crate::cli::note(TOOL, published);
            crate::core::document::write_pretty(stdout, &report)
        }
        Command::Timestamp {
            root,
            key,
            lifetime,
        } => {
            let signer = timestamp_signer(&key, lifetime)?;
            let root = crate::service::publish::ServiceRoot::new(&root);
            let Some(statement) = signer.sign_current(&root, crate::core::clock::now())? else {
                return Err(crate::core::error::Error::Usage(format!(
                    "`{}` has no published catalog to vouch for: run sct-serve publish first",
                    root.catalog().display()
                ))
                .into());
            };
            crate::cli::note(
                TOOL,
                format!(
                    "freshness statement for catalog version {} signed, valid until {}",
                    statement.catalog_version, statement.expires_at
                ),
            );
            crate::core::document::write_pretty(stdout, &statement)
        }
        Command::Run {
            root,
            bind,
            tls_cert,
            tls_key,
            token_file,
            allow_anonymous_uploads,
            max_upload,
            upload_quota,
            upload_quota_files,
            max_concurrent_uploads,
            max_connections,
            max_connections_per_ip,
            header_timeout,
            public_url,
            timestamp_key,
            timestamp_lifetime,
        } => {
            if !(header_timeout > 0.0 && header_timeout.is_finite()) {
                return Err(crate::core::error::Error::Usage(
                    "--header-timeout must be a positive number of seconds".into(),
                )
                .into());
            }
            let served = |file: Option<&PathBuf>, what: &str| {
                file.map_or(Ok(()), |f| {
                    crate::service::serve::contained::check_not_served(&root, f, what)
                })
            };
            served(token_file.as_ref(), "the upload token file")?;
            served(tls_key.as_ref(), "the TLS private key")?;
            let options = crate::service::serve::ServeOptions {
                tls: tls_cert.zip(tls_key),
                token: read_token(token_file.as_deref())?,
                allow_anonymous_uploads,
                max_upload,
                max_concurrent_uploads,
                quota: crate::service::serve::quota::Quota {
                    max_bytes: upload_quota,
                    max_files: upload_quota_files,
                },
                public_url,
                limits: crate::service::serve::connections::Limits {
                    max_connections,
                    max_per_ip: max_connections_per_ip,
                    header_timeout: std::time::Duration::from_secs_f64(header_timeout),
                },
                timestamp: timestamp_key
                    .map(|key| timestamp_signer(&key, timestamp_lifetime))
                    .transpose()?,
                ..crate::service::serve::ServeOptions::new(root, bind)
            };
            options.check()?;
            serve(options)
        }
    }
}

/// `--timestamp-key` of publish: each `ed25519:...`, or a key file `keygen --role timestamp`
/// wrote (only its public key is read); none keeps the previous catalog's.
fn timestamp_public_keys(
    items: &[String],
) -> anyhow::Result<Option<Vec<crate::core::signing::PublicKey>>> {
    if items.is_empty() {
        return Ok(None);
    }
    let parse = |item: &String| {
        if crate::core::signing::is_key_text(item) {
            return crate::core::signing::PublicKey::parse(item);
        }
        let path = crate::core::paths::path_flag(item).map_err(crate::core::error::Error::Usage)?;
        let key = crate::core::signing::PrivateKey::load_as(
            &path,
            crate::core::signing::KeyRole::Timestamp,
        )?;
        Ok(key.public())
    };
    items
        .iter()
        .map(parse)
        .collect::<anyhow::Result<_>>()
        .map(Some)
}

/// The online timestamp key and statement lifetime of `run` and `timestamp`.
fn timestamp_signer(
    key: &std::path::Path,
    lifetime_hours: u32,
) -> anyhow::Result<crate::service::timestamp::TimestampSigner> {
    let key =
        crate::core::signing::PrivateKey::load_as(key, crate::core::signing::KeyRole::Timestamp)?;
    crate::service::timestamp::TimestampSigner::new(key, lifetime_hours)
}

/// The upload token: `--token-file` (trimmed), else `SCT_SERVICE_TOKEN`; registered as a secret
/// at once so no log or message can show it.
fn read_token(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<crate::core::secret::Secret>> {
    let text = match file {
        Some(path) => Some(zeroize::Zeroizing::new(fs_err::read_to_string(path)?)),
        None => std::env::var(crate::core::wire::ENV_TOKEN)
            .ok()
            .map(zeroize::Zeroizing::new),
    };
    let token = text
        .as_deref()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(crate::core::secret::Secret::new);
    if let Some(token) = &token {
        crate::core::logging::register_secret(token.expose());
    }
    Ok(token)
}

fn serve(options: crate::service::serve::ServeOptions) -> anyhow::Result<()> {
    let runtime = crate::core::runtime::build()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let ready = |address: SocketAddr| {
        let _ = crate::core::document::write_line(
            std::io::stdout().lock(),
            &crate::service::serve::listening_document(scheme, address),
        );
        crate::core::logging::info(TOOL, format!("Listening on {scheme}://{address}"));
        crate::cli::note(TOOL, format!("listening on {scheme}://{address}"));
    };
    runtime.block_on(async {
        // Handlers are installed before the address is printed, so a supervisor's TERM right
        // after start-up already means "finish in-flight requests and stop".
        let shutdown = shutdown_signal()?;
        crate::service::serve::serve(options, ready, shutdown).await
    })?;
    crate::core::logging::info(TOOL, "Stopped");
    Ok(())
}

#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = term.recv() => {},
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
