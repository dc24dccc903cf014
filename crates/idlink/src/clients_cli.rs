//! `idlink client …`: third-party app registration from the command line
//! (SPEC TP1), through the same use cases as `/v1/oauth/clients`. Secrets
//! go to stdout once; everything else to stderr, so `$(idlink client create …)`
//! captures only what must be stored.

use crate::config::Config;
use crate::serve::{self, Runtime};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use idlink_core::clients::{Actor, ClientError, ClientPatch, ClientView, Clients, Registration};
use idlink_domain::ClientId;
use std::process::ExitCode;

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an app; its secrets are printed once.
    Create(Box<CreateArgs>),
    /// Every registered app.
    List,
    /// One app (never its secrets).
    Show { id: String },
    /// A new client secret, printed once; the old one works for `oidc.secret_overlap_secs`.
    RotateSecret { id: String },
    /// Refuse new authorizations, tokens and introspection for the app.
    Disable { id: String },
}

/// What `idlink client create` registers.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// Exact redirect URIs (repeat or comma-separate).
    #[arg(long = "redirect-uri", value_delimiter = ',', required = true)]
    redirect_uris: Vec<String>,
    /// `confidential` (default) or `public`.
    #[arg(long)]
    kind: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`.
    #[arg(long)]
    auth_method: Option<String>,
    /// From openid, phone, identity, offline_access (default openid).
    #[arg(long, value_delimiter = ',')]
    scopes: Vec<String>,
    /// From name, birthdate, age_over_18, phone_number, phone_number_verified, verified_claims.
    #[arg(long, value_delimiter = ',')]
    claims: Vec<String>,
    #[arg(long)]
    logo_url: Option<String>,
    /// ES256 (default) or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    #[arg(long)]
    webhook_url: Option<String>,
    #[arg(long, value_delimiter = ',')]
    webhook_events: Vec<String>,
    /// A resource server that may introspect other apps' tokens.
    #[arg(long)]
    introspect_any: bool,
}

fn describe(v: &ClientView) -> String {
    let c = &v.row;
    let hook = v.webhook.as_ref().map(|w| format!("{} ({})", w.url, w.state)).unwrap_or_else(|| "-".into());
    format!(
        "{}\t{}\t{}\t{}\t{}\tscopes {}\tclaims {}\tredirect {}\twebhook {hook}",
        c.id,
        c.name,
        c.kind.as_str(),
        c.auth_method.as_str(),
        c.state.as_str(),
        c.allowed_scopes.join(","),
        c.allowed_claims.join(","),
        c.redirect_uris.join(","),
    )
}

fn refused(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Invalid(issues) | ClientError::ReceiverRefused(issues) => {
            let lines: Vec<String> = issues.into_iter().map(|i| format!("  {}: {} ({})", i.field, i.detail, i.code)).collect();
            anyhow::anyhow!("the registration is refused:\n{}", lines.join("\n"))
        }
        ClientError::NotFound => anyhow::anyhow!("no such client"),
        other => anyhow::Error::new(other),
    }
}

pub async fn run(config: &Config, rt: &Runtime, cmd: ClientCommand) -> Result<ExitCode> {
    let store = serve::open_store(config).await?;
    let vault = serve::open_vault(config, &store, rt).await?;
    let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
    let (oidc, events) = (config.oidc_settings(config.server.listen), config.event_settings());
    let clients = Clients {
        store: &store,
        streams: &store,
        keys: &store,
        vault: &vault,
        clock: rt.clock.as_ref(),
        ids: &ids,
        oidc: &oidc,
        events: &events,
    };
    let cli = Actor { actor: "cli".into(), request_id: None };
    let id = |raw: &str| ClientId::parse(raw).map_err(anyhow::Error::from);
    match cmd {
        ClientCommand::Create(args) => {
            let CreateArgs {
                name,
                redirect_uris,
                kind,
                auth_method,
                scopes,
                claims,
                logo_url,
                id_token_alg,
                backchannel_logout_uri,
                webhook_url,
                webhook_events,
                introspect_any,
            } = *args;
            let reg = Registration {
                name,
                logo_url,
                redirect_uris,
                kind,
                token_endpoint_auth_method: auth_method,
                jwks: None,
                scopes,
                claims,
                id_token_signed_response_alg: id_token_alg,
                backchannel_logout_uri,
                backchannel_logout_session_required: false,
                webhook_url,
                webhook_event_types: webhook_events,
                introspect_any,
            };
            let done = clients.register(&cli, reg).await.map_err(refused)?;
            println!("client_id={}", done.client.row.id);
            if let Some(s) = &done.client_secret {
                println!("client_secret={s}");
            }
            println!("webhook_secret={}", done.webhook.secret);
            println!("webhook_public_key={}", done.webhook.public_key);
            eprintln!("registered {}; the secrets above are shown once: store them now", describe(&done.client));
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::List => {
            for c in clients.list().await.map_err(refused)? {
                println!("{}", describe(&c));
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Show { id: raw } => {
            println!("{}", describe(&clients.get(&id(&raw)?).await.map_err(refused)?));
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::RotateSecret { id: raw } => {
            let (secret, until) = clients.rotate_secret(&cli, &id(&raw)?).await.map_err(refused)?;
            println!("client_secret={secret}");
            eprintln!("the previous secret works until {until}; the one above is shown once");
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Disable { id: raw } => {
            let patch = ClientPatch { state: Some("disabled".into()), ..ClientPatch::default() };
            let v = clients.update(&cli, &id(&raw)?, patch).await.map_err(refused)?;
            if v.row.state.as_str() != "disabled" {
                bail!("{} is still {}", v.row.id, v.row.state.as_str());
            }
            println!("disabled {}", v.row.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}
