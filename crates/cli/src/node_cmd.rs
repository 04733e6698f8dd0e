//! `custos init`, `serve`, `authority …` and `user …`: setting up and running a node.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use custos_jose::{PrivateJwk, PublicJwk};
use custos_ledger::SignerKey;
use custos_service::offline::{self, OfflineError};
use custos_service::ops::NewAuthority;
use custos_service::query::Role;
use custos_service::{Config, Node, NodeDir};
use jiff::Timestamp;

use crate::Failure;
use crate::out::{errln, outln};

/// Writes a secret file readable only by its owner; never overwrites.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

pub fn init(
    dir: &Path,
    origin: &str,
    profile: &str,
    database: Option<&str>,
) -> Result<(), Failure> {
    let setup = |e: anyhow::Error| Failure::Setup(e);
    let config_path = dir.join(custos_service::config::CONFIG_FILE);
    if config_path.exists() {
        return Err(Failure::Input(format!(
            "{} already exists: this directory is already a node. Nothing was changed (keys are never overwritten).",
            config_path.display()
        )));
    }
    if !custos_safeguards::BUILTIN_PROFILES.contains(&profile) && !dir.join(profile).exists() {
        return Err(Failure::Input(format!(
            "--profile {profile}: not a built-in profile ({}) nor a file in {}",
            custos_safeguards::BUILTIN_PROFILES.join(", "),
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
        .map_err(setup)?;
    let mut config = Config::new(origin);
    config.profile = profile.to_owned();
    if let Some(database) = database {
        config.database = database.to_owned();
    }
    let key = SignerKey::generate(origin, &mut rand_core::OsRng)
        .map_err(|e| Failure::Input(format!("--origin {origin:?} cannot name a C2SP key: {e}")))?;
    // The database first: a server's database that is unreachable or already holds a log
    // fails `init` before any key is written.
    let rt = runtime().map_err(setup)?;
    rt.block_on(NodeDir::create_database(dir, &config))
        .map_err(setup)?;
    write_secret(
        &dir.join(&config.key),
        &format!("{}\n", key.to_private_string().as_str()),
    )
    .map_err(setup)?;
    // The verifier key is public: an outside auditor runs `custos audit` with it alone.
    std::fs::write(
        dir.join(custos_service::integrity::VERIFIER_FILE),
        format!("{}\n", key.verifier()),
    )
    .map_err(|e| setup(e.into()))?;
    std::fs::write(&config_path, config.to_toml().map_err(setup)?).map_err(|e| setup(e.into()))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    errln!(
        "initialised a Custos node in {}; its verifier key (publish it):",
        dir.display()
    );
    outln!("{}", key.verifier())
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn serve(dir: &Path, listen: Option<String>) -> Result<(), Failure> {
    let setup = |e: anyhow::Error| Failure::Setup(e);
    // Diagnostics go to stderr, filtered by CUSTOS_LOG (default `info`). The service never logs
    // request contents, target identifiers or key material.
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    // Every connection costs a descriptor; many systems start processes at 1,024.
    custos_service::serve::raise_descriptor_limit();
    let rt = runtime().map_err(setup)?;
    rt.block_on(async {
        let node = Node::open(dir).await?;
        let limits = custos_service::serve::Limits::new(&node.config.http);
        let addr = listen.unwrap_or_else(|| node.config.listen.clone());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        // Catch up on what fell due while the node was down before answering anyone: the
        // listener already holds arriving connections in its backlog meanwhile.
        let (caught_up, first_pass) = tokio::sync::oneshot::channel();
        tokio::spawn(node.clone().run_scheduler(Some(caught_up)));
        let _ = first_pass.await;
        tokio::spawn(node.clone().follow_database());
        tokio::spawn(node.clone().run_cosigning());
        errln!(
            "custos: serving {} on http://{local}  (console: http://{local}/console/; log verifier key: {})",
            dir.display(),
            node.log.verifier()
        );
        // The JSON API and the reviewer console, on one listener.
        let app = custos_service::http::router(node.clone())
            .merge(custos_console::router(node.clone()));
        custos_service::serve::serve(listener, app, limits, async {
                let ctrl_c = tokio::signal::ctrl_c();
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return drop(ctrl_c.await),
                    };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        })
        .await?;
        node.close().await;
        anyhow::Ok(())
    })
    .map_err(setup)
}

pub fn keygen(out: &Path, public: Option<PathBuf>) -> Result<(), Failure> {
    let key = PrivateJwk::generate();
    write_secret(out, &format!("{}\n", key.to_json().as_str())).map_err(Failure::Setup)?;
    let public_path = public.unwrap_or_else(|| out.with_extension("pub.jwk"));
    std::fs::write(&public_path, format!("{}\n", key.public().to_json()))
        .with_context(|| format!("cannot write {}", public_path.display()))
        .map_err(Failure::Setup)?;
    errln!(
        "private key: {} (mode 0600); public key: {}",
        out.display(),
        public_path.display()
    );
    outln!("{}", key.public().thumbprint())
}

pub struct AddArgs {
    pub dir: PathBuf,
    pub state: String,
    pub name: String,
    pub kind: String,
    pub jwk: PathBuf,
    pub channels: Vec<String>,
    pub age_recipient: Option<String>,
    pub confirm_jwks: Vec<PathBuf>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

fn read_public_jwk(path: &Path) -> Result<PublicJwk, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    PublicJwk::parse(&text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

const CHANNELS: [&str; 3] = ["mla", "network_24_7", "direct"];

/// The channels `authority add --channels` accepts (its `--help` lists them).
pub fn channels() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(CHANNELS)
}

pub fn authority_add(a: AddArgs) -> Result<(), Failure> {
    let state = a.state.to_ascii_uppercase();
    state
        .parse::<custos_model::StateCode>()
        .map_err(|e| Failure::Input(format!("--state {}: {e}", a.state)))?;
    serde_json::from_value::<custos_model::AuthorityKind>(serde_json::Value::String(
        a.kind.clone(),
    ))
    .map_err(|e| Failure::Input(format!("--kind {}: {e}", a.kind)))?;
    for c in &a.channels {
        if !CHANNELS.contains(&c.as_str()) {
            return Err(Failure::Input(format!(
                "--channels: {c:?} is not one of {}",
                CHANNELS.join(", ")
            )));
        }
    }
    if a.name.trim().is_empty() {
        return Err(Failure::Input("--name must not be blank".into()));
    }
    if let Some(r) = &a.age_recipient
        && !r.starts_with("age1")
    {
        return Err(Failure::Input(format!(
            "--age-recipient {r:?}: an age X25519 recipient starts with age1"
        )));
    }
    let jwk = read_public_jwk(&a.jwk)?;
    let confirm = a
        .confirm_jwks
        .iter()
        .map(|p| read_public_jwk(p))
        .collect::<Result<Vec<_>, _>>()?;
    let contact = match (a.contact_name, a.contact_phone) {
        (Some(name), Some(phone)) => Some(custos_service::ops::Contact { name, phone }),
        (None, None) => None,
        _ => {
            return Err(Failure::Input(
                "give --contact-name and --contact-phone together: a call-back needs both".into(),
            ));
        }
    };
    let new = NewAuthority {
        state,
        name: a.name.trim().to_owned(),
        kind: a.kind,
        channels: a.channels,
        jwk,
        age_recipient: a.age_recipient,
    };
    let added = offline_write(&a.dir, async |nd| {
        offline::add_authority(nd, new, confirm, contact, Timestamp::now()).await
    })?;
    errln!(
        "added {} ({}, {}) for channels {}, with {} confirmation key(s)",
        added.name,
        added.state,
        added.kind,
        added.channels.join(", "),
        a.confirm_jwks.len()
    );
    outln!("{}", added.kid)
}

/// `authority confirm-key add`: a confirmation key for an authority already registered.
pub fn confirm_key_add(dir: &Path, authority: &str, jwk: &Path) -> Result<(), Failure> {
    let jwk = read_public_jwk(jwk)?;
    let kid = offline_write(dir, async |nd| {
        offline::add_confirmation_key(nd, authority, jwk, Timestamp::now()).await
    })?;
    errln!(
        "added a confirmation key for {authority}: it may confirm emergencies, not sign requests"
    );
    outln!("{kid}")
}

/// `authority contact set`: an authority's call-back contact, set or changed.
pub fn contact_set(dir: &Path, authority: &str, name: &str, phone: &str) -> Result<(), Failure> {
    let contact = custos_service::ops::Contact {
        name: name.to_owned(),
        phone: phone.to_owned(),
    };
    let c = offline_write(dir, async |nd| {
        offline::set_contact(nd, authority, contact, Timestamp::now()).await
    })?;
    outln!(
        "call-back contact of {authority}: {} ({}); reviewers call only this number",
        c.name,
        c.phone
    )
}

pub fn authority_revoke(dir: &Path, kid: &str, reason: &str) -> Result<(), Failure> {
    if reason.trim().is_empty() {
        return Err(Failure::Input(
            "--reason must say why the key is revoked".into(),
        ));
    }
    let a = offline_write(dir, async |nd| {
        offline::revoke_authority(nd, kid, reason.trim(), Timestamp::now()).await
    })?;
    errln!("revoked the key {} of {} ({})", a.kid, a.name, a.state);
    Ok(())
}

pub fn authority_list(dir: &Path, json: bool) -> Result<(), Failure> {
    let rt = runtime().map_err(Failure::Setup)?;
    let all = rt
        .block_on(async {
            let nd = NodeDir::open_to_read(dir).await?;
            let all = nd.query().authorities().await;
            nd.close().await;
            anyhow::Ok(all?)
        })
        .map_err(Failure::Setup)?;
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|a| serde_json::json!({
                "kid": a.kid, "state": a.state, "name": a.name, "kind": a.kind, "channels": a.channels,
                "age_recipient": a.age_recipient, "added_at": a.added_at.to_string(),
                "revoked_at": a.revoked_at.map(|t| t.to_string()), "revoke_reason": a.revoke_reason,
            }))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())?;
    } else {
        for a in &all {
            let status = match a.revoked_at {
                Some(t) => format!("REVOKED {t}"),
                None => "active".into(),
            };
            outln!(
                "{}  {}  {:<18} {:<40} {:<28} {}",
                a.kid,
                a.state,
                a.kind,
                a.name,
                a.channels.join(","),
                status
            )?;
        }
    }
    Ok(())
}

pub fn user_add(dir: &Path, name: &str, role: &str) -> Result<(), Failure> {
    if !custos_service::auth::valid_user_name(name) {
        return Err(Failure::Input(format!(
            "--name {name:?}: use 1-64 lower-case letters, digits, - or _"
        )));
    }
    let role = Role::parse(role).ok_or_else(|| {
        Failure::Input(format!(
            "--role {role}: one of reviewer, supervisor, auditor, admin"
        ))
    })?;
    let token = offline_write(dir, async |nd| {
        offline::add_user(nd, name, role, Timestamp::now()).await
    })?;
    errln!(
        "added {name} ({}); the API token below is shown once, keep it secret:",
        role.as_str()
    );
    outln!("{}", token.as_str())
}

/// `custos user password`: sets a console password from the first line of standard input.
pub fn user_password(dir: &Path, name: &str) -> Result<(), Failure> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::Input(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\r', '\n']);
    let hash =
        custos_service::auth::hash_password(password).map_err(|p| Failure::Input(p.detail))?;
    offline_write(dir, async |nd| {
        offline::set_password(nd, name, &hash, Timestamp::now()).await
    })?;
    errln!("console password set for {name}");
    Ok(())
}

/// Opens the node in `dir` and runs one of `custos_service::offline`'s writes on it: a
/// refusal is invalid input (exit 2), anything else a failure of the node directory (exit 1).
pub(crate) fn offline_write<T>(
    dir: &Path,
    write: impl AsyncFnOnce(&NodeDir) -> Result<T, OfflineError>,
) -> Result<T, Failure> {
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let nd = NodeDir::open(dir).await?;
        let result = write(&nd).await;
        nd.close().await;
        result
    })
    .map_err(|e| match e {
        OfflineError::Refused(p) => Failure::Input(p.detail),
        OfflineError::Setup(e) => Failure::Setup(e),
    })
}

pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.join(custos_service::config::CONFIG_FILE).exists() {
        bail!(
            "{} is not a Custos node directory; run `custos init --dir {}`",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}
