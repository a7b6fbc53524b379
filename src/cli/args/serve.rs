//! `sct-serve`: the reference update service — keys, publishing, and the server itself.

use crate::cli::OperatorArgs;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-serve";

/// Run the update service: generate a signing key, publish a signed catalog, serve it.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// What `sct-serve` does.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate an ed25519 signing key (file created with mode 0600); prints its public key.
    #[command(
        after_help = "Examples:\n  sct-serve keygen --out /etc/sct/signing-key.json | jq -r .public_key"
    )]
    Keygen {
        /// The private key file to create (must not exist).
        #[arg(long, value_name = "KEY", value_parser = crate::core::paths::path_flag)]
        out: PathBuf,
    },
    /// Hash every pack under ROOT/packs/, build the next catalog version, sign it and write it.
    #[command(
        after_help = "Examples:\n  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30\n  sct-serve publish --root /srv/sct --key old-key.json --key new-key.json"
    )]
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
    },
    /// Serve ROOT: static catalog/ and packs/, and POST /api/v1/usage for usage cabs.
    #[command(
        after_help = "Examples:\n  sct-serve run --root /srv/sct --token-file /etc/sct/upload-token --log /var/log/sct/serve.log\n  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --public-url https://updates.example.org"
    )]
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
    },
}

const AFTER_HELP: &str = "\
Examples:
  sct-serve keygen --out /etc/sct/signing-key.json
  sct-demo packs --root /srv/sct
  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30
  sct-serve run --root /srv/sct --token-file /etc/sct/upload-token --log /var/log/sct/serve.log
  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 \\
      --tls-cert cert.pem --tls-key key.pem --public-url https://downloads.example.org

`run` prints one JSON line (sct.serve-listening.v1) with the bound address on stdout, then logs
to stderr until interrupted. Downloads are static files: nginx serving ROOT works as well.
Uploads need the token in SCT_SERVICE_TOKEN (or --token-file) unless --allow-anonymous-uploads.";

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
        Command::Keygen { out } => {
            let key = crate::core::signing::PrivateKey::generate();
            key.save(&out)?;
            crate::cli::note(
                TOOL,
                format!(
                    "private key written to {} (keep it secret); pin the public key below",
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
                &crate::core::signing::public_key_document(&key.public()),
            )
        }
        Command::Publish {
            root,
            keys,
            expires_in,
            metadata,
            hierarchy_id,
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
                ..crate::service::serve::ServeOptions::new(root, bind)
            };
            options.check()?;
            serve(options)
        }
    }
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
