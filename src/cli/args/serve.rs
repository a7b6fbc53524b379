//! `sct-serve`: the reference update service — keys, publishing, and the server itself.

use crate::cli::OperatorArgs;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-serve";

/// Run the update service: generate a signing key, publish a signed catalog, serve it.
#[derive(Parser, Debug)]
#[command(version, after_help = AFTER_HELP)]
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
        #[arg(long, value_name = "KEY", value_parser = crate::paths::path_flag)]
        out: PathBuf,
    },
    /// Hash every pack under ROOT/packs/, build the next catalog version, sign it and write it.
    #[command(
        after_help = "Examples:\n  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30\n  sct-serve publish --root /srv/sct --key old-key.json --key new-key.json"
    )]
    Publish {
        /// The service root (holds packs/ and packs.json; catalog/ is written).
        #[arg(long, value_name = "ROOT", value_parser = crate::paths::path_flag)]
        root: PathBuf,
        /// Signing key file; repeat to sign with several keys (key rotation).
        #[arg(long = "key", value_name = "KEY", required = true, value_parser = crate::paths::path_flag)]
        keys: Vec<PathBuf>,
        /// Days until clients refuse the catalog.
        #[arg(long, value_name = "DAYS", default_value_t = crate::publish::DEFAULT_EXPIRES_IN_DAYS)]
        expires_in: u32,
        /// Pack metadata (sct.pack-metadata.v1) [default: ROOT/packs.json]
        #[arg(long, value_name = "FILE", value_parser = crate::paths::path_flag)]
        metadata: Option<PathBuf>,
        /// Bind the catalog to one hierarchy.
        #[arg(long, value_name = "GUID")]
        hierarchy_id: Option<uuid::Uuid>,
    },
    /// Serve ROOT: static catalog/ and packs/, and POST /api/v1/usage for usage cabs.
    #[command(
        after_help = "Examples:\n  sct-serve run --root /srv/sct --bind 127.0.0.1:8080 --log /var/log/sct/serve.log\n  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem"
    )]
    Run {
        /// The service root (catalog/ and packs/ are served from it; uploads/ is written).
        #[arg(long, value_name = "ROOT", value_parser = crate::paths::path_flag)]
        root: PathBuf,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// TLS certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key", value_parser = crate::paths::path_flag)]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); needs --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert", value_parser = crate::paths::path_flag)]
        tls_key: Option<PathBuf>,
        /// File holding the bearer token uploads must carry [default: SCT_SERVICE_TOKEN, else none]
        #[arg(long, value_name = "FILE", value_parser = crate::paths::path_flag)]
        token_file: Option<PathBuf>,
        /// Largest usage cab accepted, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = crate::serve::DEFAULT_MAX_UPLOAD)]
        max_upload: u64,
        /// Base URL offered for downloads (e.g. an nginx serving the same ROOT) [default: this server]
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
}

const AFTER_HELP: &str = "\
Examples:
  sct-serve keygen --out /etc/sct/signing-key.json
  sct-demo packs --root /srv/sct
  sct-serve publish --root /srv/sct --key /etc/sct/signing-key.json --expires-in 30
  sct-serve run --root /srv/sct --bind 127.0.0.1:8080 --log /var/log/sct/serve.log
  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 \\
      --tls-cert cert.pem --tls-key key.pem --public-url https://downloads.example.org

`run` prints one JSON line (sct.serve-listening.v1) with the bound address on stdout, then logs
to stderr until interrupted. Downloads are static files: nginx serving ROOT works as well.

Exit codes: 0 done, 1 input refused, 2 usage error, 3 local failure, 4 network failure";

/// Runs `sct-serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let command = args.command;
    let stdout = std::io::stdout().lock();
    match command {
        Command::Keygen { out } => {
            let key = crate::signing::PrivateKey::generate();
            key.save(&out)?;
            crate::cli::note(
                TOOL,
                format!(
                    "private key written to {} (keep it secret); pin the public key below",
                    out.display()
                ),
            );
            crate::logging::info(
                TOOL,
                format!(
                    "Signing key written to {} (key ID {})",
                    out.display(),
                    key.public().key_id()
                ),
            );
            crate::document::write_line(stdout, &crate::signing::public_key_document(&key.public()))
        }
        Command::Publish {
            root,
            keys,
            expires_in,
            metadata,
            hierarchy_id,
        } => {
            let keys = keys
                .iter()
                .map(|path| crate::signing::PrivateKey::load(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let refs: Vec<&crate::signing::PrivateKey> = keys.iter().collect();
            let options = crate::publish::PublishOptions {
                root,
                metadata,
                expires_in_days: expires_in,
                hierarchy_id,
            };
            let report = crate::publish::publish(&options, &refs)?;
            let published = format!(
                "published catalog version {} ({} packs, {} files) valid until {}",
                report.version, report.packs, report.files, report.expires_at
            );
            crate::logging::info(TOOL, &published);
            crate::cli::note(TOOL, published);
            crate::document::write_pretty(stdout, &report)
        }
        Command::Run {
            root,
            bind,
            tls_cert,
            tls_key,
            token_file,
            max_upload,
            public_url,
        } => {
            let token = match token_file {
                Some(path) => Some(fs_err::read_to_string(path)?.trim().to_owned()),
                None => std::env::var(crate::serve::ENV_TOKEN)
                    .ok()
                    .filter(|t| !t.is_empty()),
            };
            let options = crate::serve::ServeOptions {
                root,
                bind,
                tls: tls_cert.zip(tls_key),
                token,
                max_upload,
                public_url,
            };
            serve(options)
        }
    }
}

fn serve(options: crate::serve::ServeOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let ready = |address: SocketAddr| {
        let _ = crate::document::write_line(
            std::io::stdout().lock(),
            &crate::serve::listening_document(scheme, address),
        );
        crate::logging::info(TOOL, format!("Listening on {scheme}://{address}"));
        crate::cli::note(TOOL, format!("listening on {scheme}://{address}"));
    };
    runtime.block_on(async {
        // Handlers are installed before the address is printed, so a supervisor's TERM right
        // after start-up already means "finish in-flight requests and stop".
        let shutdown = shutdown_signal()?;
        crate::serve::serve(options, ready, shutdown).await
    })?;
    crate::logging::info(TOOL, "Stopped");
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
