//! Refreshing OAuth 2.0 access tokens: before they expire (proactive) and
//! after a provider refuses one (reactive).
//!
//! A refresh is single-flight twice over. Within a process, callers of one
//! account queue on a lock and, once through, find the tokens the first one
//! stored. Across replicas on one database, a short lease in the account's
//! row (`refresh_lease_until`) lets exactly one replica call the token
//! endpoint while the others poll the row for its result. Refresh-token
//! rotation is kept: a new refresh token replaces the old in the same write.
//! `invalid_grant` revokes the account; a transient failure leaves it active.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{RefreshToken, RequestTokenError};
use serde_json::{Map, Value, json};

use super::flow::OAuthEnv;
use super::token::{read_tokens, token_client, token_error};
use crate::clock;
use crate::engine;
use crate::error::{Error, ErrorCode};
use crate::registry::Provider;
use crate::store::{AccountStatus, ConnectedAccount, Connection};
use crate::vault::Place;

/// How long a replica may hold the refresh lease.
const LEASE: Duration = Duration::from_secs(30);
/// How long a caller waits for another replica's refresh.
const WAIT: Duration = Duration::from_secs(20);
/// How often a waiting caller looks at the row again.
const POLL: Duration = Duration::from_millis(100);
/// How long the token endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Per-account locks of this process.
#[derive(Default)]
pub struct Refresher {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Refresher {
    /// The account's credentials, refreshed first when they expire within
    /// `skew` or when `force` says the provider refused them. Returns the
    /// opened credentials and the account as stored now.
    pub async fn credentials(
        &self,
        env: &OAuthEnv<'_>,
        provider: &Provider,
        connection: &Connection,
        account: &ConnectedAccount,
        force: bool,
        skew: Duration,
    ) -> Result<(Map<String, Value>, ConnectedAccount), Error> {
        if !force && !expiring(account, skew) {
            return Ok((open(env, account)?, account.clone()));
        }
        let lock = self.lock(&account.id);
        let _held = lock.lock().await;
        // Another caller may have refreshed while this one queued.
        let current = reread(env, &account.id).await?;
        if current.credentials != account.credentials || (!force && !expiring(&current, skew)) {
            return Ok((open(env, &current)?, current));
        }
        let current = self.lease(env, account).await?;
        if current.credentials != account.credentials {
            return Ok((open(env, &current)?, current));
        }
        let refreshed = refresh(env, provider, connection, &current).await;
        let outcome = match &refreshed {
            Ok(_) => "success",
            Err(e) => match e.details.get("status").and_then(Value::as_str) {
                Some("revoked") => "revoked",
                Some("expired") => "expired",
                _ => "failed",
            },
        };
        env.metrics
            .token_refreshes
            .with_label_values(&[provider.key.as_str(), outcome])
            .inc();
        match refreshed {
            Ok(account) => Ok((open(env, &account)?, account)),
            Err(e) => {
                if outcome == "failed" {
                    let _ = env
                        .store
                        .refresh_failed(&current, &e.message, &clock::now())
                        .await;
                }
                let _ = env.store.release_refresh_lease(&account.id).await;
                Err(e)
            }
        }
    }

    /// Takes the account's refresh lease, or waits for whoever holds it and
    /// returns the account as they left it.
    async fn lease(
        &self,
        env: &OAuthEnv<'_>,
        account: &ConnectedAccount,
    ) -> Result<ConnectedAccount, Error> {
        let started = std::time::Instant::now();
        loop {
            let now = clock::now_ms();
            if env
                .store
                .take_refresh_lease(&account.id, now, now + LEASE.as_millis() as i64)
                .await
                .map_err(Error::from)?
            {
                let current = reread(env, &account.id).await?;
                if current.credentials != account.credentials {
                    let _ = env.store.release_refresh_lease(&account.id).await;
                }
                return Ok(current);
            }
            tokio::time::sleep(POLL).await;
            let current = reread(env, &account.id).await?;
            if current.credentials != account.credentials || current.status != AccountStatus::Active
            {
                return Ok(current);
            }
            if started.elapsed() > WAIT {
                return Err(Error::new(
                    ErrorCode::UpstreamUnavailable,
                    "the account's token is being refreshed elsewhere; try again shortly",
                )
                .with_retry_after(1));
            }
        }
    }

    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id.to_owned()).or_default().clone()
    }
}

/// One refresh grant; stores the result (and gives the lease back).
async fn refresh(
    env: &OAuthEnv<'_>,
    provider: &Provider,
    connection: &Connection,
    account: &ConnectedAccount,
) -> Result<ConnectedAccount, Error> {
    if account.status != AccountStatus::Active {
        return Err(reauthorize(account));
    }
    let credentials = open(env, account)?;
    let Some(refresh_token) = credentials.get("refresh_token").and_then(Value::as_str) else {
        let now = clock::now();
        let _ = env
            .store
            .set_status(
                &account.id,
                AccountStatus::Expired,
                "the access token expired and there is no refresh token",
                &now,
            )
            .await;
        return Err(Error::new(
            ErrorCode::ReauthorizationRequired,
            "the account's access token expired and cannot be refreshed; the user must connect it again",
        )
        .with_detail("status", "expired"));
    };
    let client = match connection.managed {
        true => env.managed.cloned().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                "no managed OAuth app is configured for this provider",
            )
        })?,
        false => super::connection_client(env.vault, provider, connection)?,
    };
    let auth = super::method(provider, connection)?;
    let endpoint = auth
        .refresh_url
        .as_ref()
        .or(auth.token_url.as_ref())
        .ok_or_else(|| Error::new(ErrorCode::Internal, "the provider has no token_url"))?;
    let url = engine::render_auth_url(provider, endpoint, &connection.config)?;
    let oauth = token_client(provider, auth, &client, &url)?;
    let token = RefreshToken::new(refresh_token.to_owned());
    let mut request = oauth.exchange_refresh_token(&token);
    for (k, v) in &auth.token_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let http = super::token::http_client(env.upstream, &provider.key, TIMEOUT);
    let response = match request.request_async(&http).await {
        Ok(r) => r,
        Err(RequestTokenError::ServerResponse(r)) if r.error().as_ref() == "invalid_grant" => {
            let reason = format!(
                "the provider refused the refresh token (invalid_grant{})",
                r.error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
            let _ = env
                .store
                .set_status(&account.id, AccountStatus::Revoked, &reason, &clock::now())
                .await;
            return Err(Error::new(ErrorCode::ReauthorizationRequired, reason)
                .with_detail("status", "revoked"));
        }
        Err(e) => {
            let e = token_error(&provider.key, e);
            let failed = Error::new(
                ErrorCode::UpstreamUnavailable,
                format!("could not refresh the account's token: {}", e.message),
            );
            // An open circuit says when to try again.
            return Err(match e.retry_after_s {
                Some(s) => failed.with_retry_after(s),
                None => failed,
            });
        }
    };
    let tokens = read_tokens(response.raw(), &auth.token_response).ok_or_else(|| {
        Error::new(
            ErrorCode::UpstreamUnavailable,
            "the token endpoint's answer holds no access token",
        )
    })?;
    let mut stored = credentials.clone();
    stored.insert("access_token".into(), json!(tokens.access_token));
    if let Some(rotated) = tokens.refresh_token {
        stored.insert("refresh_token".into(), json!(rotated));
    }
    let sealed = env.vault.seal(
        Place::account_credentials(&account.id),
        Value::Object(stored).to_string().as_bytes(),
    );
    let expires_at = tokens
        .expires_in
        .map(|e| clock::now_ms() + e.as_millis() as i64);
    env.store
        .store_refreshed(&account.id, &sealed, expires_at, &clock::now())
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "the account no longer exists"))
}

/// Whether the account's access token expires within `skew`.
pub fn expiring(account: &ConnectedAccount, skew: Duration) -> bool {
    let Some(at) = account.credentials_expires_at else {
        return false;
    };
    // A skew longer than half the token's lifetime would refresh on every
    // call: it is capped there.
    let mut skew_ms = i64::try_from(skew.as_millis()).unwrap_or(i64::MAX);
    if let Some(issued) = account.credentials_issued_at
        && at > issued
    {
        skew_ms = skew_ms.min((at - issued) / 2);
    }
    at.saturating_sub(skew_ms) <= clock::now_ms()
}

fn reauthorize(account: &ConnectedAccount) -> Error {
    Error::new(
        ErrorCode::ReauthorizationRequired,
        format!(
            "the account is {}; the user must connect it again",
            account.status.as_str()
        ),
    )
    .with_detail("status", account.status.as_str())
}

async fn reread(env: &OAuthEnv<'_>, id: &str) -> Result<ConnectedAccount, Error> {
    env.store
        .get_account(id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "the account no longer exists"))
}

fn open(env: &OAuthEnv<'_>, account: &ConnectedAccount) -> Result<Map<String, Value>, Error> {
    super::open_account_credentials(env.vault, account)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(issued_s_ago: i64, expires_in_s: i64) -> ConnectedAccount {
        let now = clock::now_ms();
        ConnectedAccount {
            credentials_expires_at: Some(now + expires_in_s * 1000),
            credentials_issued_at: Some(now - issued_s_ago * 1000),
            ..ConnectedAccount::sample("ca_1")
        }
    }

    #[test]
    fn a_skew_longer_than_half_the_lifetime_is_capped() {
        let skew = Duration::from_secs(300);
        // A 100 s token issued 10 s ago: a 300 s skew would refresh at once.
        assert!(!expiring(&account(10, 90), skew));
        // Past half its lifetime it is due.
        assert!(expiring(&account(60, 40), skew));
        // A long-lived token keeps the configured skew.
        assert!(expiring(&account(3000, 200), skew));
        assert!(!expiring(&account(3000, 400), skew));
    }
}
