//! Sign-in, sign-out and the home redirect.

use std::time::Duration;

use super::*;
use crate::session::Verdict;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    next: String,
    name: String,
    csrf: String,
    refusal: Option<Refusal>,
    notice: Option<&'static str>,
}

/// The sign-in form. No `Debug`: it holds a password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    csrf: String,
    next: String,
    name: String,
    password: String,
}

/// Only paths inside the console are followed after sign-in (no open redirect), and only
/// printable ASCII ones (a control character cannot go into a `Location` header).
pub(super) fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/console/")
        && !next.starts_with("/console//")
        && !next.contains('\\')
        && !next.contains("://")
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        next.to_owned()
    } else {
        "/console/queue".to_owned()
    }
}

fn sign_in_form(
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    name: &str,
    refusal: Option<Refusal>,
    notice: Option<&'static str>,
) -> Response {
    let csrf = random_token();
    let resp = render(
        status,
        &SignInPage {
            layout: Layout {
                title: "Sign in".into(),
                ..Layout::default()
            },
            next: safe_next(next),
            name: name.to_owned(),
            csrf: csrf.clone(),
            refusal,
            notice,
        },
    );
    let cookie = console_cookie(SIGNIN_COOKIE, csrf, over_tls(headers), Some(600));
    (CookieJar::new().add(cookie), resp).into_response()
}

/// `GET /` and `/console`: to the queue, or to sign-in.
pub async fn home(State(c): Shared, jar: CookieJar) -> Response {
    match viewer(&c, &jar).await {
        Some(_) => see_other("/console/queue"),
        None => see_other("/console/sign-in"),
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(&q);
    let next = query_get(&pairs, "next").unwrap_or_default();
    let notice = query_get(&pairs, "signed-out").map(|_| "You are signed out.");
    sign_in_form(&headers, StatusCode::OK, &next, "", None, notice)
}

/// A refusal that asks the browser to come back after `retry_after` (`Retry-After`).
fn retry_later(mut resp: Response, retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs().max(1);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    resp
}

/// `POST /console/sign-in`: name and password. In order, each step cheaper than the next: the
/// form's token, the name's form, the lock-out (an attempt reserved before the password is
/// checked), a permit of the node's Argon2 gate, Argon2.
pub async fn sign_in(
    State(c): Shared,
    headers: HeaderMap,
    jar: CookieJar,
    Posted(mut form): Posted<SignInForm>,
) -> Response {
    let name = form.name.trim().to_owned();
    let next = std::mem::take(&mut form.next);
    let password = Zeroizing::new(std::mem::take(&mut form.password));
    let again = |status, refusal: Refusal| {
        sign_in_form(&headers, status, &next, &name, Some(refusal), None)
    };
    let cookie_token = cookie_value(&jar, SIGNIN_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || !same_token(&cookie_token, &form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            Refusal {
                title: "Sign-in form expired".into(),
                detail: "the sign-in form is valid for 10 minutes and only from this site; it has been renewed, sign in again".into(),
                fields: vec![],
                ..Refusal::default()
            },
        );
    }
    let wrong = |detail: String| {
        again(
            StatusCode::UNAUTHORIZED,
            Refusal {
                title: "Not signed in".into(),
                detail,
                fields: vec![],
                ..Refusal::default()
            },
        )
    };
    const WRONG: &str =
        "wrong name or password (or no console password is set: `custos user password`)";
    // No user has such a name: refused at once, never stored. It is not logged either, since
    // it may be a password typed into the name field.
    if !custos_service::auth::valid_user_name(&name) {
        tracing::warn!(user = "(not a user name)", "console sign-in failed");
        return wrong(WRONG.to_owned());
    }
    let user = match c.node.query().user(&name).await {
        Ok(user) => user,
        Err(e) => return error_page(Layout::default(), &Problem::from(e)),
    };
    // Counted before the password is checked (for a user, in the node's database).
    let verdict = match c.sessions.attempt(&name).await {
        Ok(verdict) => verdict,
        Err(e) => return error_page(Layout::default(), &Problem::from(e)),
    };
    let attempt = match verdict {
        Verdict::Go(attempt) => attempt,
        Verdict::Locked(left) => {
            let resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                Refusal {
                    title: "Locked".into(),
                    detail: format!(
                        "too many failed sign-ins for {name:?}; try again in {} minutes, or ask an admin",
                        left.as_secs().div_ceil(60).max(1)
                    ),
                    fields: vec![],
                    ..Refusal::default()
                },
            );
            return retry_later(resp, left);
        }
        Verdict::Crowded => {
            let resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                Refusal {
                    title: "Too many sign-ins".into(),
                    detail: format!(
                        "other sign-ins for {name:?} are being checked right now; try again in a few seconds"
                    ),
                    fields: vec![],
                    ..Refusal::default()
                },
            );
            return retry_later(resp, Duration::from_secs(1));
        }
    };
    let stored = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none())
        .and_then(|u| u.password_hash.clone());
    // An attempt dropped unchecked (the client went away) gives its place back in the
    // background; one refused for want of a permit gives it back here.
    let ok = match custos_service::auth::verify_password(stored, password).await {
        Ok(ok) => ok,
        Err(busy) => {
            if let Err(e) = attempt.release().await {
                return error_page(Layout::default(), &Problem::from(e));
            }
            let resp = again(
                StatusCode::SERVICE_UNAVAILABLE,
                Refusal {
                    title: "Busy".into(),
                    detail: busy.to_string(),
                    fields: vec![],
                    ..Refusal::default()
                },
            );
            return retry_later(
                resp,
                Duration::from_secs(custos_service::auth::BUSY_RETRY_AFTER_SECONDS),
            );
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        let locked = match attempt.failed().await {
            Ok(locked) => locked,
            Err(e) => return error_page(Layout::default(), &Problem::from(e)),
        };
        tracing::warn!(user = %name, locked, "console sign-in failed");
        if locked {
            return wrong(format!(
                "wrong name or password; that was the {}th failure, so {name:?} is locked for {} minutes",
                crate::session::MAX_FAILURES,
                crate::session::LOCKOUT.as_secs() / 60
            ));
        }
        return wrong(WRONG.to_owned());
    };
    let started = match attempt.succeeded().await {
        Ok(()) => c.sessions.start(&user.name).await,
        Err(e) => Err(e),
    };
    let id = match started {
        Ok(id) => id,
        Err(e) => return error_page(Layout::default(), &Problem::from(e)),
    };
    tracing::info!(user = %user.name, "console sign-in");
    let secure = over_tls(&headers);
    let cookies = CookieJar::new()
        .add(console_cookie(SESSION_COOKIE, id, secure, None))
        .add(console_cookie(
            SIGNIN_COOKIE,
            String::new(),
            secure,
            Some(0),
        ));
    (cookies, see_other(&safe_next(&next))).into_response()
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    State(c): Shared,
    headers: HeaderMap,
    jar: CookieJar,
    Posted(form): Posted<CsrfForm>,
) -> Response {
    if let Err(r) = form_viewer(&c, &jar, &form.csrf).await {
        return r;
    }
    if let Some(id) = cookie_value(&jar, SESSION_COOKIE)
        && let Err(e) = c.sessions.end(&id).await
    {
        return error_page(Layout::default(), &Problem::from(e));
    }
    let gone = console_cookie(SESSION_COOKIE, String::new(), over_tls(&headers), Some(0));
    (
        CookieJar::new().add(gone),
        see_other("/console/sign-in?signed-out=1"),
    )
        .into_response()
}
