//! `chainseal authority …` and `chainseal stack …`: thin wrappers over
//! `chainseal_authority`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chainseal_authority::http::{Authority, AuthorityConfig};
use chainseal_authority::stack::{self, StackConfig};
use chainseal_authority::store::{AuthorityDir, Component};
use clap::{Args, Subcommand, ValueEnum};

/// Authority subcommands: CA, TSA and development OIDC issuer.
#[derive(Subcommand)]
pub enum AuthorityCommand {
    /// Serve the CA (Fulcio v2 API), TSA (RFC 3161) and, with --dev-issuer, the development
    /// OIDC issuer.
    #[command(after_help = "Examples:
  chainseal authority serve --dir ./authority --issuer https://token.actions.githubusercontent.com
  chainseal authority serve --dir ./authority --dev-issuer    # local use only: it mints tokens

Keys are made on first start and never replaced; a folder with keys but no state is an error.")]
    Serve(ServeArgs),
    /// Print an identity token signed by the development issuer kept in --dir.
    #[command(after_help = "Examples:
  chainseal authority token --dir stack/authority --subject you@example.com > token.jwt
  chainseal authority token --dir stack/authority --subject spiffe://stack.local/factory/example \\
      --claim build_signer_uri=https://stack.local/pipelines/example --ttl 300")]
    Token(TokenArgs),
}

/// `chainseal authority serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// State directory (keys and certificates are created there on first start).
    #[arg(long)]
    dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// Public base URL (default: http://<listen address>); the development issuer's `iss`.
    #[arg(long)]
    url: Option<String>,
    /// Accept tokens from this external OIDC issuer (discovery + JWKS; https:// unless
    /// loopback). Repeatable.
    #[arg(long = "issuer")]
    issuers: Vec<String>,
    /// Run the development OIDC issuer (accept its tokens, serve its discovery and JWKS).
    /// It mints tokens for any subject: development and air-gapped use only.
    #[arg(long)]
    dev_issuer: bool,
    /// Longest accepted identity-token lifetime (exp - iat), in seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    max_token_lifetime: i64,
    /// Connection, time and load limits of the HTTP server.
    #[command(flatten)]
    limits: crate::log_cmd::ServerLimitsArgs,
}

/// `chainseal authority token` arguments.
#[derive(Args)]
pub struct TokenArgs {
    /// The authority's state directory (a stack's is <stack dir>/authority).
    #[arg(long)]
    dir: PathBuf,
    /// `sub` claim: a SPIFFE ID (spiffe://<td>/<path>), or an email address (which is then
    /// also the verified `email` claim unless --email is given).
    #[arg(long)]
    subject: String,
    /// `email` claim (marked verified); the certificate then carries it as SAN.
    #[arg(long)]
    email: Option<String>,
    /// A build claim NAME=VALUE (build_signer_uri, source_repository_digest, …), copied by
    /// the CA into the certificate's Fulcio extension for SPIFFE subjects. Repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// `aud` claim.
    #[arg(long, default_value = "sigstore")]
    audience: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 600)]
    ttl: i64,
    /// `iss` claim (default: the URL recorded by the last `serve`).
    #[arg(long)]
    issuer: Option<String>,
}

/// `chainseal stack` subcommands.
#[derive(Subcommand)]
pub enum StackCommand {
    /// Run log, witness and authority in one process on loopback.
    #[command(after_help = "Examples:
  chainseal stack serve --dir stack/
  chainseal stack serve --dir stack/ --max-connections 64 --header-timeout 5

The limits apply to each of the three servers (log, witness, authority) on its own port:
--max-connections 64 allows 64 connections to the log, 64 to the witness and 64 to the
authority.")]
    Serve(StackServeArgs),
    /// Rotate a component's keys; old keys stay in the trusted root with a closed validFor.
    #[command(after_help = "Example:
  chainseal stack rotate --dir ./stack ca    # then restart `stack serve`; clients reload trusted_root.json")]
    Rotate(StackRotateArgs),
}

/// `chainseal stack serve` arguments.
#[derive(Args)]
pub struct StackServeArgs {
    /// Stack directory.
    #[arg(long)]
    dir: PathBuf,
    /// First port on first start: log = base, witness = base+1, authority = base+2
    /// (0 = any free ports). Later starts reuse the recorded ports.
    #[arg(long, default_value_t = 0)]
    listen_base: u16,
    /// Accept tokens from this external OIDC issuer too. Repeatable.
    #[arg(long = "issuer")]
    issuers: Vec<String>,
    /// Connection, time and load limits of each of the three HTTP servers.
    #[command(flatten)]
    limits: crate::log_cmd::ServerLimitsArgs,
}

/// What `stack rotate` rotates.
#[derive(Clone, Copy, ValueEnum)]
pub enum RotateWhat {
    /// The certificate authority.
    Ca,
    /// The time-stamping authority.
    Tsa,
    /// The certificate transparency log.
    Ct,
    /// The transparency log (not supported: a new log is a new shard).
    Log,
}

/// `chainseal stack rotate` arguments.
#[derive(Args)]
pub struct StackRotateArgs {
    /// Stack directory.
    #[arg(long)]
    dir: PathBuf,
    /// Component to rotate.
    what: RotateWhat,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Run an authority subcommand.
pub fn run(cmd: AuthorityCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthorityCommand::Serve(args) => {
            let dir = AuthorityDir::open(&args.dir)?;
            let limits = args.limits.limits()?;
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&args.listen)
                    .await
                    .with_context(|| format!("binding {}", args.listen))?;
                let addr = listener.local_addr()?;
                let url = args.url.unwrap_or_else(|| format!("http://{addr}"));
                dir.set_public_url(&url)?;
                let mut cfg = AuthorityConfig::new(&url);
                cfg.issuers = args.issuers;
                cfg.dev_issuer = args.dev_issuer;
                cfg.token_policy.max_lifetime_secs = args.max_token_lifetime;
                let authority = Arc::new(Authority::load_with(&dir, &cfg)?);
                eprintln!("chainseal authority: listening on {url}");
                if args.dev_issuer {
                    eprintln!(
                        "chainseal authority: development OIDC issuer enabled (iss {url}): it mints tokens for any subject"
                    );
                    if !addr.ip().is_loopback() {
                        let warning = format!(
                            "the development OIDC issuer is enabled on non-loopback address {addr}: anyone who can read {} can obtain certificates for any identity",
                            args.dir.display()
                        );
                        eprintln!("chainseal authority: WARNING: {warning}");
                    }
                } else if cfg.issuers.is_empty() {
                    eprintln!(
                        "chainseal authority: no OIDC issuer accepted (pass --issuer URL or --dev-issuer): signingCert will refuse every token"
                    );
                }
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                chainseal_authority::http::serve_with(listener, authority, limits, shutdown)
                    .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        AuthorityCommand::Token(args) => {
            let dir = AuthorityDir::open(&args.dir)?;
            let url = match args.issuer {
                Some(u) => u,
                None => dir.public_url()?,
            };
            let dev = chainseal_authority::oidc::DevIssuer::new(&url, dir.dev_key()?)?;
            let mut extra = serde_json::Map::new();
            let email = args.email.clone().or_else(|| {
                chainseal_authority::oidc::is_addr_spec(&args.subject).then(|| args.subject.clone())
            });
            if let Some(e) = email {
                extra.insert("email".into(), e.into());
                extra.insert("email_verified".into(), true.into());
            }
            for c in &args.claims {
                let (name, value) = c
                    .split_once('=')
                    .with_context(|| format!("--claim {c:?}: expected NAME=VALUE"))?;
                if chainseal_authority::claims::build_claim_arc(name).is_none() {
                    let known: Vec<_> = chainseal_authority::claims::BUILD_CLAIMS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect();
                    anyhow::bail!(
                        "--claim {name:?} is not a build claim; known: {}",
                        known.join(", ")
                    );
                }
                let value = serde_json::Value::from(value);
                chainseal_authority::claims::validate_build_claim(name, &value)?;
                extra.insert(name.to_owned(), value);
            }
            println!(
                "{}",
                dev.mint_with_claims(&args.subject, &args.audience, args.ttl, &extra)?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Run a stack subcommand.
pub fn run_stack(cmd: StackCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StackCommand::Serve(args) => {
            let limits = args.limits.limits()?;
            let cfg = StackConfig {
                dir: args.dir,
                listen_base: args.listen_base,
                issuers: args.issuers,
            };
            runtime()?.block_on(async move {
                let s = stack::start_with(&cfg, limits).await?;
                eprintln!("chainseal stack: log       {}", s.log_url);
                eprintln!("chainseal stack: witness   {}", s.witness_url);
                eprintln!("chainseal stack: authority {}", s.authority_url);
                eprintln!(
                    "chainseal stack: development OIDC issuer enabled at {} (loopback; mints tokens for any subject)",
                    s.dev_issuer_url
                );
                eprintln!(
                    "chainseal stack: wrote {}/{{trusted_root,signing_config,client_trust_config}}.json",
                    cfg.dir.display()
                );
                let _ = tokio::signal::ctrl_c().await;
                s.stop().await;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        StackCommand::Rotate(args) => {
            let c = match args.what {
                RotateWhat::Ca => Component::Ca,
                RotateWhat::Tsa => Component::Tsa,
                RotateWhat::Ct => Component::Ct,
                RotateWhat::Log => anyhow::bail!(
                    "rotating the transparency log means starting a new log shard; not supported by `stack rotate`"
                ),
            };
            let id = stack::rotate(&args.dir, c)?;
            eprintln!(
                "chainseal stack: rotated to generation {id}; restart `chainseal stack serve` to use it"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
