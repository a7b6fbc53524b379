//! sct-serve: the reference update service — keys, publishing, and the server itself.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run the update service: generate a signing key, publish a signed catalog, serve it.
#[derive(Parser)]
#[command(version, after_help = AFTER_HELP)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an ed25519 signing key (file created with mode 0600); prints its public key.
    Keygen {
        /// The private key file to create (must not exist).
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
    },
    /// Hash every pack under ROOT/packs/, build the next catalog version, sign it and write it.
    Publish {
        /// The service root (holds packs/ and packs.json; catalog/ is written).
        #[arg(long, value_name = "ROOT")]
        root: PathBuf,
        /// Signing key file; repeat to sign with several keys (key rotation).
        #[arg(long = "key", value_name = "KEY", required = true)]
        keys: Vec<PathBuf>,
        /// Days until clients refuse the catalog.
        #[arg(long, value_name = "DAYS", default_value_t = sct::publish::DEFAULT_EXPIRES_IN_DAYS)]
        expires_in: u32,
        /// Pack metadata (sct.pack-metadata.v1) [default: ROOT/packs.json]
        #[arg(long, value_name = "FILE")]
        metadata: Option<PathBuf>,
        /// Bind the catalog to one hierarchy.
        #[arg(long, value_name = "GUID")]
        hierarchy_id: Option<uuid::Uuid>,
    },
    /// Serve ROOT: static catalog/ and packs/, and POST /api/v1/usage for usage cabs.
    Run {
        #[arg(long, value_name = "ROOT")]
        root: PathBuf,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// TLS certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); needs --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// File holding the bearer token uploads must carry [default: SCT_SERVICE_TOKEN, else none]
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Largest usage cab accepted, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = sct::serve::DEFAULT_MAX_UPLOAD)]
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
  sct-serve run --root /srv/sct --bind 127.0.0.1:8080
  SCT_SERVICE_TOKEN=s3cret sct-serve run --root /srv/sct --bind 0.0.0.0:8443 \\
      --tls-cert cert.pem --tls-key key.pem --public-url https://downloads.example.org

`run` prints one JSON line (sct.serve-listening.v1) with the bound address on stdout, then logs
to stderr until interrupted. Downloads are static files: nginx serving ROOT works as well.

Exit codes: 0 done, 1 input refused, 2 usage error, 3 local failure, 4 network failure";

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run("sct-serve", || run(args.command))
}

fn run(command: Command) -> anyhow::Result<()> {
    let stdout = std::io::stdout().lock();
    match command {
        Command::Keygen { out } => {
            let key = sct::signing::PrivateKey::generate();
            key.save(&out)?;
            sct::cli::note(
                "sct-serve",
                format!(
                    "private key written to {} (keep it secret); pin the public key below",
                    out.display()
                ),
            );
            sct::document::write_line(
                stdout,
                &serde_json::json!({
                    "schema": "sct.public-key.v1",
                    "public_key": key.public().to_string(),
                    "key_id": key.public().key_id(),
                }),
            )
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
                .map(|path| sct::signing::PrivateKey::load(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let refs: Vec<&sct::signing::PrivateKey> = keys.iter().collect();
            let options = sct::publish::PublishOptions {
                root,
                metadata,
                expires_in_days: expires_in,
                hierarchy_id,
            };
            let report = sct::publish::publish(&options, &refs)?;
            sct::cli::note(
                "sct-serve",
                format!(
                    "published catalog version {} ({} packs, {} files) valid until {}",
                    report.version, report.packs, report.files, report.expires_at
                ),
            );
            sct::document::write_pretty(stdout, &report)
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
                None => std::env::var(sct::serve::ENV_TOKEN)
                    .ok()
                    .filter(|t| !t.is_empty()),
            };
            let options = sct::serve::ServeOptions {
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

fn serve(options: sct::serve::ServeOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let ready = |address: SocketAddr| {
        let _ = sct::document::write_line(
            std::io::stdout().lock(),
            &serde_json::json!({
                "schema": "sct.serve-listening.v1",
                "address": address.to_string(),
                "url": format!("{scheme}://{address}"),
            }),
        );
        sct::cli::note("sct-serve", format!("listening on {scheme}://{address}"));
    };
    runtime.block_on(async {
        // Handlers are installed before the address is printed, so a supervisor's TERM right
        // after start-up already means "finish in-flight requests and stop".
        let shutdown = shutdown_signal()?;
        sct::serve::serve(options, ready, shutdown).await
    })
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
