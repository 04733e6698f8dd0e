//! The directory of authorities and the node's users: registration, revocation, roles and
//! console passwords. Only the log says who may sign or decide (see `directory.rs`, which folds these events).

use custos_jose::PublicJwk;
use custos_model::EventType;
use custos_store::{Authority, Batch, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Appended, emit, internal};
use crate::problem::Problem;

/// A new directory entry, as given by the operator.
#[derive(Debug, Clone)]
pub struct NewAuthority {
    /// State code.
    pub state: String,
    /// Name.
    pub name: String,
    /// Kind (request-format authority kinds).
    pub kind: String,
    /// Allowed channels.
    pub channels: Vec<String>,
    /// Its public key.
    pub jwk: PublicJwk,
    /// Its age recipient, if any.
    pub age_recipient: Option<String>,
}

/// An authority's call-back contact as the operator registered it: whom a reviewer calls to
/// verify an emergency (issue 13, §2). Never taken from a request: a forged request would give
/// the forger's own number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Who answers, e.g. the duty office's name.
    #[schema(min_length = 1)]
    pub name: String,
    /// The number to call, as the authority gave it out of band.
    #[schema(min_length = 1)]
    pub phone: String,
}

/// Sets (or changes) an authority's call-back contact (`authority.contact_set`).
pub async fn set_contact(
    b: &mut Batch,
    out: &mut Appended,
    authority_kid: &str,
    contact: &Contact,
    now: Timestamp,
) -> Result<Contact, Problem> {
    let Some(a) = b.authority(authority_kid).await? else {
        return Err(Problem::not_found(format!(
            "no authority with key {authority_kid}; `custos authority list` shows them"
        )));
    };
    if a.revoked_at.is_some() {
        return Err(Problem::conflict(
            "already-revoked",
            format!("the key {authority_kid} was revoked; register the authority's new key first"),
        ));
    }
    let (name, phone) = (contact.name.trim(), contact.phone.trim());
    for (field, value) in [("name", name), ("phone", phone)] {
        if custos_model::is_blank(value) {
            return Err(Problem::unprocessable(
                "invalid-contact",
                format!("the contact's {field} is blank; give the duty office's {field}"),
            ));
        }
    }
    let contact = Contact {
        name: name.to_owned(),
        phone: phone.to_owned(),
    };
    emit(
        b,
        out,
        EventType::AuthorityContactSet,
        now,
        None,
        json!({ "authority_kid": authority_kid, "name": contact.name, "phone": contact.phone }),
    )
    .await?;
    Ok(contact)
}

/// Adds an authority to the directory (`authority.added`).
pub async fn add_authority(
    b: &mut Batch,
    out: &mut Appended,
    a: &NewAuthority,
    now: Timestamp,
) -> Result<Authority, Problem> {
    let kid = a.jwk.thumbprint();
    if let Some(owner) = confirmation_key_owner(b, &kid).await? {
        return Err(Problem::conflict(
            "key-registered",
            format!(
                "the key {kid} is registered as a confirmation key of {owner}; one key has one use"
            ),
        ));
    }
    if let Some(existing) = b.authority(&kid).await? {
        return Err(Problem::conflict(
            "key-registered",
            format!(
                "the key {kid} is already registered, for {} ({}){}; one key belongs to one authority",
                existing.name,
                existing.state,
                if existing.revoked_at.is_some() {
                    ", and was revoked: a revoked key cannot return"
                } else {
                    ""
                }
            ),
        ));
    }
    let authority = Authority {
        kid: kid.clone(),
        state: a.state.clone(),
        name: a.name.clone(),
        kind: a.kind.clone(),
        channels: a.channels.clone(),
        jwk: a.jwk.to_json(),
        age_recipient: a.age_recipient.clone(),
        added_at: now,
        revoked_at: None,
        revoke_reason: None,
    };
    b.insert_authority(&authority).await?;
    emit(
        b,
        out,
        EventType::AuthorityAdded,
        now,
        None,
        json!({
            "kid": kid, "state": a.state, "name": a.name, "kind": a.kind,
            "channels": a.channels, "jwk": serde_json::to_value(&a.jwk).map_err(internal)?,
            "age_recipient": a.age_recipient,
        }),
    )
    .await?;
    Ok(authority)
}

/// Registers a confirmation key for an authority (`authority.confirmation_key_added`): a key
/// of another person at the same authority (e.g. a duty supervisor) that may confirm its
/// emergency requests. It never signs a request: intake knows only the authority's own key.
pub async fn add_confirmation_key(
    b: &mut Batch,
    out: &mut Appended,
    authority_kid: &str,
    jwk: &PublicJwk,
    now: Timestamp,
) -> Result<String, Problem> {
    let Some(a) = b.authority(authority_kid).await? else {
        return Err(Problem::not_found(format!(
            "no authority with key {authority_kid}; `custos authority list` shows them"
        )));
    };
    if a.revoked_at.is_some() {
        return Err(Problem::conflict(
            "already-revoked",
            format!("the key {authority_kid} was revoked; register the authority's new key first"),
        ));
    }
    let kid = jwk.thumbprint();
    if b.authority(&kid).await?.is_some() {
        return Err(Problem::conflict(
            "key-registered",
            format!(
                "the key {kid} is an authority's own key; a confirmation key must be another person's"
            ),
        ));
    }
    if let Some(owner) = confirmation_key_owner(b, &kid).await? {
        return Err(Problem::conflict(
            "key-registered",
            format!("the key {kid} is already a confirmation key of {owner}"),
        ));
    }
    emit(
        b,
        out,
        EventType::AuthorityConfirmationKeyAdded,
        now,
        None,
        json!({
            "kid": kid, "authority_kid": authority_kid,
            "jwk": serde_json::to_value(jwk).map_err(internal)?,
        }),
    )
    .await?;
    Ok(kid)
}

/// The authority whose confirmation key `kid` is, as the log says. (There is no table of
/// confirmation keys: they are read from the log, where the node's directory reads them too.
/// Directory changes are rare and offline, so a scan of the log is affordable here.)
async fn confirmation_key_owner(b: &mut Batch, kid: &str) -> Result<Option<String>, Problem> {
    for e in b.events_from(0).await? {
        if e.kind() != Some(EventType::AuthorityConfirmationKeyAdded) {
            continue;
        }
        let body: serde_json::Value = serde_json::from_str(&e.body).map_err(internal)?;
        if body["kid"].as_str() == Some(kid) {
            return Ok(body["authority_kid"].as_str().map(str::to_owned));
        }
    }
    Ok(None)
}

/// Revokes an authority's key (`authority.revoked`).
pub async fn revoke_authority(
    b: &mut Batch,
    out: &mut Appended,
    kid: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Authority, Problem> {
    let Some(a) = b.authority(kid).await? else {
        return Err(Problem::not_found(format!(
            "no authority with key {kid}; `custos authority list` shows them"
        )));
    };
    if a.revoked_at.is_some() {
        return Err(Problem::conflict(
            "already-revoked",
            format!("the key {kid} was already revoked"),
        ));
    }
    b.revoke_authority(kid, now, reason).await?;
    emit(
        b,
        out,
        EventType::AuthorityRevoked,
        now,
        None,
        json!({ "kid": kid, "reason": reason }),
    )
    .await?;
    Ok(b.authority(kid).await?.unwrap_or(a))
}

/// Adds a user (`user.added`; the token's hash stays out of the log).
pub async fn add_user(b: &mut Batch, out: &mut Appended, user: &User) -> Result<(), Problem> {
    if b.user(&user.name).await?.is_some() {
        return Err(Problem::conflict(
            "user-exists",
            format!("there is already a user {}", user.name),
        ));
    }
    b.insert_user(user).await?;
    emit(
        b,
        out,
        EventType::UserAdded,
        user.added_at,
        None,
        json!({ "name": user.name, "role": user.role.as_str() }),
    )
    .await?;
    Ok(())
}

/// Sets a user's console password (its Argon2id hash). The event names the user, never the hash.
pub async fn set_password(
    b: &mut Batch,
    out: &mut Appended,
    name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), Problem> {
    if b.user(name).await?.is_none() {
        return Err(Problem::not_found(format!(
            "there is no user {name}; add it first (`custos user add`)"
        )));
    }
    b.set_password_hash(name, password_hash).await?;
    emit(
        b,
        out,
        EventType::UserPasswordSet,
        now,
        None,
        json!({ "name": name }),
    )
    .await
}
