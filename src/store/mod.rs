//! Persistence of connections and connected accounts, on SQLite or PostgreSQL.
//!
//! One `Store`, two backends with identical behaviour: the SQL is portable
//! (numbered `$N` parameters, text timestamps and JSON, `BIGINT` integers) and
//! runs through sqlx's `Any` driver, chosen by the URL (`sqlite://…` or
//! `postgres://…`). Migrations in `src/store/migrations` run at start.
//!
//! Architecture invariant: the store never sees a plaintext secret. Secrets
//! arrive sealed by the vault and leave sealed; rows carry them in fields the
//! API layer never serializes.

mod audit;
pub mod cache;
mod rows;
pub mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cache::AccountCache;

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

pub use audit::{AuditFilter, Order, audit_time, insert_audit_events};
pub use rows::{AccountStatus, ConnectedAccount, Connection, IdentifierType};
pub use webhooks::{AccountNotice, Attempt, Delivery, Webhook};

use crate::audit::{AuditLog, Event};

/// The PostgreSQL channel on which replicas tell each other which accounts
/// and connections changed (see [`Store::listen_for_changes`]).
const CHANGES_CHANNEL: &str = "switchboard_changes";

/// A change to accounts or connections, as the store tells those who keep
/// something derived from them ([`Store::on_change`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// This account was written or deleted.
    Account(&'a str),
    /// This connection was written or deleted (its accounts with it).
    Connection(&'a str),
    /// Changes may have been missed: another replica's announcements were
    /// lost for a while.
    Unknown,
}

/// One told of every [`Change`] ([`Store::on_change`]).
type Hook = Box<dyn Fn(Change<'_>) + Send + Sync>;

#[derive(Default)]
struct Hooks(std::sync::RwLock<Vec<Hook>>);

impl Hooks {
    fn tell(&self, change: Change<'_>) {
        let hooks = self.0.read().unwrap_or_else(|e| e.into_inner());
        for hook in hooks.iter() {
            hook(change);
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map_or(0, |h| h.len());
        write!(f, "Hooks({n})")
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A store failure. Database details are for logs, not for callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with the same {0} exists already")]
    Duplicate(&'static str),
    #[error("unsupported database URL `{0}`: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<StoreError> for crate::error::Error {
    /// A duplicate is the caller's `conflict`; anything else is logged here
    /// and shown as `internal`, without database details.
    fn from(e: StoreError) -> crate::error::Error {
        use crate::error::{Error, ErrorCode};
        match e {
            StoreError::Duplicate(what) => Error::new(
                ErrorCode::Conflict,
                format!("a record with the same {what} exists already"),
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                Error::new(ErrorCode::Internal, "an internal error occurred")
            }
        }
    }
}

/// Connections and connected accounts.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where the audit trail is written (see [`Store::connect`]).
    audit_pool: AnyPool,
    backend: Backend,
    /// Accounts with their connections for the execute path (see `cache`).
    accounts: Arc<AccountCache>,
    /// Where the store's writes are recorded (see `crate::audit`).
    audit: AuditLog,
    /// Woken when this process queues webhook deliveries.
    outbox: Arc<tokio::sync::Notify>,
    /// Told of every change, made here or announced by another replica.
    hooks: Arc<Hooks>,
}

/// Filters of `GET /v1/connected-accounts`.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub identifier: Option<String>,
    pub provider: Option<String>,
    pub status: Option<AccountStatus>,
    pub connection_id: Option<String>,
    pub label: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub limit: u32,
    /// The last id of the previous page.
    pub after: Option<&'a str>,
}

/// What changes in a connection update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionPatch {
    pub scopes: Option<Vec<String>>,
    pub config: Option<Map<String, Value>>,
    pub secret: Option<Option<String>>,
}

/// What changes in an account update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub label: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub config: Option<Map<String, Value>>,
}

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

impl Store {
    /// Connects, creating an SQLite file if needed, and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else {
                let sep = if rest.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let pool = pool_options(backend, if backend == Backend::Sqlite { 8 } else { 16 })
            .connect(&url)
            .await?;
        MIGRATOR.run(&pool).await?;
        // On SQLite, where writes take turns anyway, the audit trail's
        // large inserts go through a connection of their own, so only one
        // connection's page cache and statement memory grow with them.
        let audit_pool = match backend {
            Backend::Sqlite => pool_options(backend, 1).connect_lazy(&url)?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Store {
            pool,
            audit_pool,
            backend,
            accounts: Arc::new(AccountCache::new(Duration::ZERO)),
            audit: AuditLog::default(),
            outbox: Arc::default(),
            hooks: Arc::default(),
        })
    }

    /// Tells `hook` of every change to an account or a connection from now
    /// on: one this process makes before the write returns, and on
    /// PostgreSQL one another replica makes once its announcement arrives
    /// (see [`Store::listen_for_changes`]). It runs on the writer's task and
    /// must not block.
    pub fn on_change(&self, hook: impl Fn(Change<'_>) + Send + Sync + 'static) {
        let mut hooks = self.hooks.0.write().unwrap_or_else(|e| e.into_inner());
        hooks.push(Box::new(hook));
    }

    /// Records this store's writes (and what callers record) in the audit
    /// trail, written by a task of this process.
    pub fn with_audit(mut self, metrics: crate::metrics::Metrics) -> Store {
        self.audit = AuditLog::start(self.audit_pool.clone(), self.backend, metrics);
        self
    }

    /// Waits until this process queues a webhook delivery.
    pub async fn outbox_queued(&self) {
        self.outbox.notified().await;
    }

    /// The audit trail, for events recorded outside the store.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Forgets account `id` here and, on PostgreSQL, on every replica.
    async fn account_changed(&self, id: &str) {
        self.accounts.forget(id);
        self.hooks.tell(Change::Account(id));
        self.announce(&format!("a:{id}")).await;
    }

    /// Forgets every account here and on every replica (a connection changed).
    async fn connection_changed(&self, id: &str) {
        self.accounts.clear();
        self.hooks.tell(Change::Connection(id));
        self.announce(&format!("c:{id}")).await;
    }

    /// Tells the other replicas what changed. A failure is logged: they
    /// then see the change within the cache's time to live.
    async fn announce(&self, what: &str) {
        if self.backend != Backend::Postgres {
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(what)
            .execute(&self.pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not tell other replicas of a change");
        }
    }

    /// On PostgreSQL, listens for the changes other replicas announce and
    /// forgets what they changed (and tells the [`Store::on_change`]
    /// hooks), for as long as the process runs. While the listening
    /// connection is down (and when it comes back, since announcements may
    /// have been missed), every cached account is forgotten, so the cache's
    /// time to live bounds staleness then.
    pub fn listen_for_changes(&self, url: &str, metrics: crate::metrics::Metrics) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = url.to_owned();
        let cache = self.accounts.clone();
        let hooks = self.hooks.clone();
        let pool = self.pool.clone();
        let lost = {
            let (cache, hooks) = (cache.clone(), hooks.clone());
            move || {
                cache.clear();
                hooks.tell(Change::Unknown);
            }
        };
        tokio::spawn(async move {
            use sqlx::postgres::PgListener;
            while !pool.is_closed() {
                match PgListener::connect(&url).await {
                    Ok(mut listener) => match listener.listen(CHANGES_CHANNEL).await {
                        Ok(()) => {
                            lost();
                            while !pool.is_closed() {
                                match listener.try_recv().await {
                                    Ok(Some(n)) => {
                                        let payload = n.payload();
                                        let change = match payload.split_once(':') {
                                            Some(("a", id)) => Change::Account(id),
                                            Some(("c", id)) => Change::Connection(id),
                                            _ => Change::Unknown,
                                        };
                                        // Told first: once a call no longer
                                        // finds the account, they know.
                                        hooks.tell(change);
                                        match change {
                                            Change::Account(id) => cache.forget(id),
                                            _ => cache.clear(),
                                        }
                                        metrics
                                            .cache_invalidations
                                            .with_label_values(&["notify"])
                                            .inc();
                                    }
                                    // The connection was lost and is made
                                    // again on the next call.
                                    Ok(None) => {
                                        lost();
                                        metrics
                                            .cache_invalidations
                                            .with_label_values(&["reconnect"])
                                            .inc();
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "lost the change announcements of other replicas");
                                        break;
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not listen for other replicas' changes")
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "could not listen for other replicas' changes")
                    }
                }
                lost();
                metrics
                    .cache_invalidations
                    .with_label_values(&["reconnect"])
                    .inc();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Keeps accounts read by [`Store::account_for_call`] in memory for up
    /// to `ttl` (zero keeps none).
    pub fn with_account_cache(mut self, ttl: Duration) -> Store {
        self.accounts = Arc::new(AccountCache::new(ttl));
        self
    }

    /// An account and its connection for a call, from memory when read
    /// lately (see `cache`): what every tool call and proxied request reads.
    pub async fn account_for_call(&self, id: &str) -> Result<Option<cache::Entry>, StoreError> {
        let generation = match self.accounts.get(id) {
            Ok(entry) => return Ok(Some(entry)),
            Err(generation) => generation,
        };
        let Some(found) = self.get_account_with_connection(id).await? else {
            return Ok(None);
        };
        let entry = Arc::new(found);
        self.accounts.put(generation, entry.clone());
        Ok(Some(entry))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether [`Store::close`] was called (background work then ends).
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Writes the audit events still queued, then closes the database.
    pub async fn close(&self) {
        self.audit.flush_and_stop().await;
        self.audit_pool.close().await;
        self.pool.close().await;
    }

    // === connections ===

    pub async fn insert_connection(&self, c: &Connection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO connections (id, provider, auth_type, scopes, config, managed, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(&c.provider)
        .bind(&c.auth_type)
        .bind(json_text(&c.scopes))
        .bind(json_text(&c.config))
        .bind(i64::from(c.managed))
        .bind(c.secret.clone())
        .bind(&c.created_at)
        .bind(&c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique(e, "id"))?;
        self.audit
            .record(Event::new("connection.created").connection(c));
        Ok(())
    }

    pub async fn get_connection(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| rows::connection(&r, "")).transpose()
    }

    pub async fn list_connections(
        &self,
        provider: Option<&str>,
        page: PageRequest<'_>,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut q = Select::new(format!("SELECT {CONNECTION_COLUMNS} FROM connections"));
        q.filter("provider", provider.map(str::to_owned));
        let rows = q.page(page).fetch(&self.pool).await?;
        rows.iter().map(|r| rows::connection(r, "")).collect()
    }

    /// Writes only the fields the patch names, so concurrent updates of
    /// different fields (from several replicas, say) never undo each other.
    pub async fn update_connection(
        &self,
        id: &str,
        patch: &ConnectionPatch,
        now: &str,
    ) -> Result<Option<Connection>, StoreError> {
        let mut sets = vec![("updated_at", text(now))];
        if let Some(scopes) = &patch.scopes {
            sets.push(("scopes", text(&json_text(scopes))));
        }
        if let Some(config) = &patch.config {
            sets.push(("config", text(&json_text(config))));
        }
        if let Some(secret) = &patch.secret {
            sets.push(("secret", secret.clone().into()));
        }
        let changed = update_columns(&self.pool, "connections", id, sets).await?;
        self.connection_changed(id).await;
        if changed == 0 {
            return Ok(None);
        }
        let connection = self.get_connection(id).await?;
        if let Some(c) = &connection {
            self.audit
                .record(Event::new("connection.updated").connection(c));
        }
        Ok(connection)
    }

    /// Deletes a connection and all its accounts (and so their secrets).
    /// Returns how many accounts went with it, or `None` if it did not exist.
    pub async fn delete_connection(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let accounts = sqlx::query("DELETE FROM connected_accounts WHERE connection_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let deleted: Option<String> =
            sqlx::query_scalar("DELETE FROM connections WHERE id = $1 RETURNING provider")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        self.connection_changed(id).await;
        let Some(provider) = deleted else {
            return Ok(None);
        };
        let mut event = Event::new("connection.deleted");
        event.connection_id = Some(id.to_owned());
        event.provider = Some(provider);
        self.audit
            .record(event.reason(format!("{accounts} connected accounts deleted with it")));
        Ok(Some(accounts))
    }

    // === connected accounts ===

    pub async fn insert_account(&self, a: &ConnectedAccount) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO connected_accounts (id, connection_id, provider, identifier, identifier_type, label, \
             status, status_reason, status_changed_at, scopes, metadata, config, credentials, \
             credentials_expires_at, last_used_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(&a.id)
        .bind(&a.connection_id)
        .bind(&a.provider)
        .bind(&a.identifier)
        .bind(a.identifier_type.as_str())
        .bind(&a.label)
        .bind(a.status.as_str())
        .bind(a.status_reason.clone())
        .bind(&a.status_changed_at)
        .bind(json_text(&a.scopes))
        .bind(json_text(&a.metadata))
        .bind(json_text(&a.config))
        .bind(a.credentials.clone())
        .bind(a.credentials_expires_at)
        .bind(a.last_used_at.clone())
        .bind(&a.created_at)
        .bind(&a.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unique(e, "connection, identifier and label"))?;
        self.audit.record(Event::new("account.created").account(a));
        Ok(())
    }

    pub async fn get_account(&self, id: &str) -> Result<Option<ConnectedAccount>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM connected_accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| rows::account(&r)).transpose()
    }

    /// An account and its connection, in one query (the execute path).
    pub async fn get_account_with_connection(
        &self,
        id: &str,
    ) -> Result<Option<(ConnectedAccount, Connection)>, StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let connection: Vec<String> = CONNECTION_COLUMNS
                .split(", ")
                .map(|c| format!("c.{c} AS c_{c}"))
                .collect();
            let account: Vec<String> = ACCOUNT_COLUMNS
                .split(',')
                .map(|c| format!("a.{}", c.trim()))
                .collect();
            format!(
                "SELECT {}, {} FROM connected_accounts a JOIN connections c ON c.id = a.connection_id WHERE a.id = $1",
                account.join(", "),
                connection.join(", ")
            )
        });
        let row = sqlx::query(&SQL)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((rows::account(&r)?, rows::connection(&r, "c_")?)))
            .transpose()
    }

    pub async fn list_accounts(
        &self,
        filter: &AccountFilter,
        page: PageRequest<'_>,
    ) -> Result<Vec<ConnectedAccount>, StoreError> {
        let mut q = Select::new(format!("SELECT {ACCOUNT_COLUMNS} FROM connected_accounts"));
        q.filter("identifier", filter.identifier.clone());
        q.filter("provider", filter.provider.clone());
        q.filter("status", filter.status.map(|s| s.as_str().to_owned()));
        q.filter("connection_id", filter.connection_id.clone());
        q.filter("label", filter.label.clone());
        let rows = q.page(page).fetch(&self.pool).await?;
        rows.iter().map(rows::account).collect()
    }

    /// Writes only the fields the patch names (see [`Store::update_connection`]).
    pub async fn update_account(
        &self,
        id: &str,
        patch: &AccountPatch,
        now: &str,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        let mut sets = vec![("updated_at", text(now))];
        if let Some(label) = &patch.label {
            sets.push(("label", text(label)));
        }
        if let Some(metadata) = &patch.metadata {
            sets.push(("metadata", text(&json_text(metadata))));
        }
        if let Some(config) = &patch.config {
            sets.push(("config", text(&json_text(config))));
        }
        let changed = update_columns(&self.pool, "connected_accounts", id, sets)
            .await
            .map_err(|e| unique(e, "connection, identifier and label"))?;
        self.account_changed(id).await;
        if changed == 0 {
            return Ok(None);
        }
        let account = self.get_account(id).await?;
        if let Some(a) = &account {
            self.audit.record(Event::new("account.updated").account(a));
        }
        Ok(account)
    }

    /// Stores sealed credentials and moves the account to `status`.
    pub async fn set_credentials(
        &self,
        id: &str,
        sealed: &str,
        origin: Option<&str>,
        status: AccountStatus,
        now: &str,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        let expires_at: Option<i64> = None;
        self.update_account_columns(
            id,
            vec![
                ("credentials", text(sealed)),
                ("credentials_origin", Col::Text(origin.map(str::to_owned))),
                ("credentials_expires_at", Col::Int(expires_at)),
                (
                    "credentials_issued_at",
                    Col::Int(Some(crate::clock::now_ms())),
                ),
                ("status", text(status.as_str())),
                ("status_reason", Col::Text(None)),
                ("status_changed_at", text(now)),
                ("updated_at", text(now)),
            ],
            AccountChange {
                action: "account.credentials_set",
                reason: None,
                notice: (status == AccountStatus::Active).then_some(AccountNotice::Connected),
            },
        )
        .await
    }

    /// Records who the account is at the provider (`None`: not known).
    pub async fn set_display_name(&self, id: &str, name: Option<&str>) -> Result<(), StoreError> {
        update_columns(
            &self.pool,
            "connected_accounts",
            id,
            vec![("display_name", Col::Text(name.map(str::to_owned)))],
        )
        .await?;
        self.account_changed(id).await;
        Ok(())
    }

    /// Writes `sets` to an account and reads it back (`None`: no such
    /// account), queueing the change's webhook notices in the same
    /// transaction, so a notice exists exactly when its change does; then
    /// records the change in the audit trail.
    async fn update_account_columns(
        &self,
        id: &str,
        sets: Vec<(&'static str, Col)>,
        change: AccountChange,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = update_columns(&mut *tx, "connected_accounts", id, sets).await?;
        let account = if changed == 0 {
            None
        } else {
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM connected_accounts WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            row.map(|r| rows::account(&r)).transpose()?
        };
        let mut queued = 0;
        if let (Some(notice), Some(a)) = (change.notice, &account) {
            queued = webhooks::enqueue(&mut tx, a, notice, change.reason.as_deref()).await?;
        }
        tx.commit().await?;
        if queued > 0 {
            self.outbox.notify_one();
        }
        self.account_changed(id).await;
        if let Some(a) = &account {
            let mut event = Event::new(change.action).account(a);
            event.reason = change.reason;
            self.audit.record(event);
        }
        Ok(account)
    }

    // === OAuth states ===

    pub async fn insert_oauth_state(&self, st: &OAuthState) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, account_id, redirect_url, code_verifier, scopes, created_at, expires_at, used_at, browser_hash, browser_required) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)",
        )
        .bind(&st.state_hash)
        .bind(&st.account_id)
        .bind(st.redirect_url.clone())
        .bind(st.code_verifier.clone())
        .bind(json_text(&st.scopes))
        .bind(&st.created_at)
        .bind(st.expires_at)
        .bind(st.browser_hash.clone())
        .bind(i64::from(st.browser_required))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<OAuthState>, StoreError> {
        let row = sqlx::query(
            "SELECT state_hash, account_id, redirect_url, code_verifier, scopes, created_at, expires_at, used_at, browser_hash, browser_required \
             FROM oauth_states WHERE state_hash = $1",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OAuthState {
                state_hash: r.try_get("state_hash")?,
                account_id: r.try_get("account_id")?,
                redirect_url: r.try_get("redirect_url")?,
                code_verifier: r.try_get("code_verifier")?,
                scopes: json_column(&r, "scopes")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
                browser_hash: r.try_get("browser_hash")?,
                browser_required: r.try_get::<i64, _>("browser_required")? != 0,
            })
        })
        .transpose()
    }

    /// Marks a state used, if it is unused and unexpired: true for exactly
    /// one caller, whatever the number of replicas.
    pub async fn use_oauth_state(
        &self,
        state_hash: &str,
        now: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE oauth_states SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(now)
        .bind(state_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Binds an unbound, unused state to a browser: true for exactly one
    /// caller, whatever the number of replicas.
    pub async fn bind_oauth_state(
        &self,
        state_hash: &str,
        browser_hash: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE oauth_states SET browser_hash = $1 \
             WHERE state_hash = $2 AND browser_hash IS NULL AND used_at IS NULL AND expires_at > $3",
        )
        .bind(browser_hash)
        .bind(state_hash)
        .bind(crate::clock::now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Drops states that expired before `before_ms`.
    /// Drops connect sessions and MCP links that expired before `before_ms`.
    pub async fn purge_expired_links(&self, before_ms: i64) -> Result<u64, StoreError> {
        let sessions = sqlx::query("DELETE FROM connect_sessions WHERE expires_at < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let links =
            sqlx::query("DELETE FROM mcp_links WHERE expires_at IS NOT NULL AND expires_at < $1")
                .bind(before_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(sessions + links)
    }

    pub async fn purge_oauth_states(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
                .bind(before_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Stores an account's new authorization: sealed credentials, granted
    /// scopes, discovered config; the account becomes active.
    pub async fn authorize_account(
        &self,
        id: &str,
        grant: &Grant<'_>,
        now: &str,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        let Grant {
            sealed,
            expires_at,
            origin,
            scopes,
            config,
            imported,
        } = *grant;
        self.update_account_columns(
            id,
            vec![
                ("credentials", text(sealed)),
                ("credentials_origin", Col::Text(origin.map(str::to_owned))),
                ("credentials_expires_at", Col::Int(expires_at)),
                (
                    "credentials_issued_at",
                    Col::Int(Some(crate::clock::now_ms())),
                ),
                ("scopes", text(&json_text(&scopes))),
                ("config", text(&json_text(config))),
                ("status", text(AccountStatus::Active.as_str())),
                ("status_reason", Col::Text(None)),
                ("status_changed_at", text(now)),
                ("updated_at", text(now)),
            ],
            AccountChange {
                action: if imported {
                    "account.credentials_imported"
                } else {
                    "authorization.completed"
                },
                reason: None,
                notice: Some(AccountNotice::Connected),
            },
        )
        .await
    }

    /// Takes the refresh lease of an account until `until_ms`, if no one
    /// holds it: true for exactly one caller across replicas.
    pub async fn take_refresh_lease(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE connected_accounts SET refresh_lease_until = $1 \
             WHERE id = $2 AND (refresh_lease_until IS NULL OR refresh_lease_until < $3)",
        )
        .bind(until_ms)
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores refreshed tokens and gives the lease back.
    pub async fn store_refreshed(
        &self,
        id: &str,
        sealed: &str,
        expires_at: Option<i64>,
        now: &str,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        self.update_account_columns(
            id,
            vec![
                ("credentials", text(sealed)),
                ("credentials_expires_at", Col::Int(expires_at)),
                (
                    "credentials_issued_at",
                    Col::Int(Some(crate::clock::now_ms())),
                ),
                ("refresh_lease_until", Col::Int(None)),
                ("status_reason", Col::Text(None)),
                ("updated_at", text(now)),
            ],
            AccountChange {
                action: "token.refreshed",
                reason: None,
                notice: None,
            },
        )
        .await
    }

    /// Records a refresh that failed for a reason that may pass: the account
    /// stays active and its status reason says why. The first failure of a
    /// run (until a refresh succeeds) queues `account.refresh_failed`, in
    /// the same transaction; every failure is in the audit trail.
    pub async fn refresh_failed(
        &self,
        account: &ConnectedAccount,
        reason: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let first = sqlx::query(
            "UPDATE connected_accounts SET status_reason = $1, updated_at = $2              WHERE id = $3 AND status = 'active' AND status_reason IS NULL",
        )
        .bind(reason)
        .bind(now)
        .bind(&account.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let mut queued = 0;
        if first {
            queued =
                webhooks::enqueue(&mut tx, account, AccountNotice::RefreshFailed, Some(reason))
                    .await?;
        }
        tx.commit().await?;
        if queued > 0 {
            self.outbox.notify_one();
        }
        if first {
            self.account_changed(&account.id).await;
        }
        self.audit.record(
            Event::new("token.refresh_failed")
                .account(account)
                .reason(reason),
        );
        Ok(())
    }

    /// Moves an account to `status` with a reason (and gives any refresh
    /// lease back).
    pub async fn set_status(
        &self,
        id: &str,
        status: AccountStatus,
        reason: &str,
        now: &str,
    ) -> Result<Option<ConnectedAccount>, StoreError> {
        self.update_account_columns(
            id,
            vec![
                ("status", text(status.as_str())),
                ("status_reason", text(reason)),
                ("status_changed_at", text(now)),
                ("refresh_lease_until", Col::Int(None)),
                ("updated_at", text(now)),
            ],
            AccountChange {
                action: match status {
                    AccountStatus::Revoked => "account.revoked",
                    AccountStatus::Expired => "account.expired",
                    AccountStatus::Active => "account.activated",
                    AccountStatus::Pending => "account.pending",
                },
                reason: Some(reason.to_owned()),
                notice: match status {
                    AccountStatus::Revoked => Some(AccountNotice::Revoked),
                    AccountStatus::Expired => Some(AccountNotice::ReauthorizationRequired),
                    _ => None,
                },
            },
        )
        .await
    }

    /// Gives a refresh lease back without changing anything else.
    pub async fn release_refresh_lease(&self, id: &str) -> Result<(), StoreError> {
        update_columns(
            &self.pool,
            "connected_accounts",
            id,
            vec![("refresh_lease_until", Col::Int(None))],
        )
        .await?;
        Ok(())
    }

    /// Active accounts with credentials, neither used nor updated since
    /// `before` (RFC 3339), oldest first.
    pub async fn idle_accounts(
        &self,
        before: &str,
        limit: u32,
    ) -> Result<Vec<ConnectedAccount>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM connected_accounts WHERE status = 'active' AND credentials IS NOT NULL \
             AND updated_at < $1 AND (last_used_at IS NULL OR last_used_at < $1) ORDER BY updated_at LIMIT {limit}"
        ))
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::account).collect()
    }

    // === connect sessions ===

    pub async fn insert_connect_session(&self, c: &ConnectSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO connect_sessions (token_hash, identifier, connection_ids, redirect_url, created_at, expires_at, browser_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(&c.token_hash)
        .bind(&c.identifier)
        .bind(json_text(&c.connection_ids))
        .bind(c.redirect_url.clone())
        .bind(&c.created_at)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_connect_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConnectSession>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, identifier, connection_ids, redirect_url, created_at, expires_at, browser_hash \
             FROM connect_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ConnectSession {
                token_hash: r.try_get("token_hash")?,
                identifier: r.try_get("identifier")?,
                connection_ids: json_column(&r, "connection_ids")?,
                redirect_url: r.try_get("redirect_url")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                browser_hash: r.try_get("browser_hash")?,
            })
        })
        .transpose()
    }

    /// Binds a never-opened session to a browser: true for exactly one caller.
    pub async fn open_connect_session(
        &self,
        token_hash: &str,
        browser_hash: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE connect_sessions SET browser_hash = $1 WHERE token_hash = $2 AND browser_hash IS NULL",
        )
        .bind(browser_hash)
        .bind(token_hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    // === sealed values (re-sealing) ===

    /// A page of `(row id, sealed value)` of `column`, in row order.
    pub async fn sealed_values(
        &self,
        column: SealedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (table, value, key) = column.names();
        let rows = sqlx::query(&format!(
            "SELECT {key} AS row_id, {value} AS sealed FROM {table} \
             WHERE {value} IS NOT NULL AND {key} > $1 ORDER BY {key} LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("row_id")?, r.try_get("sealed")?)))
            .collect()
    }

    /// Replaces a sealed value only if it is still `old` (a value written
    /// meanwhile, by a refresh say, is left alone): true when replaced.
    pub async fn replace_sealed(
        &self,
        column: SealedColumn,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let (table, value, key) = column.names();
        let n = sqlx::query(&format!(
            "UPDATE {table} SET {value} = $1 WHERE {key} = $2 AND {value} = $3"
        ))
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.accounts.clear();
        Ok(n == 1)
    }

    // === MCP links ===

    pub async fn insert_mcp_link(&self, l: &McpLink) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mcp_links (id, token_hash, identifier, providers, tools, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&l.id)
        .bind(&l.token_hash)
        .bind(&l.identifier)
        .bind(json_text(&l.providers))
        .bind(json_text(&l.tools))
        .bind(&l.created_at)
        .bind(l.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The link with this id, or with this token fingerprint.
    pub async fn get_mcp_link(&self, by: McpLinkKey<'_>) -> Result<Option<McpLink>, StoreError> {
        let (column, value) = match by {
            McpLinkKey::Id(id) => ("id", id),
            McpLinkKey::TokenHash(hash) => ("token_hash", hash),
        };
        let row = sqlx::query(&format!(
            "SELECT id, token_hash, identifier, providers, tools, created_at, expires_at \
             FROM mcp_links WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(McpLink {
                id: r.try_get("id")?,
                token_hash: r.try_get("token_hash")?,
                identifier: r.try_get("identifier")?,
                providers: json_column(&r, "providers")?,
                tools: json_column(&r, "tools")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Revokes a link; false when there was none.
    pub async fn delete_mcp_link(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM mcp_links WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Records why an authorization did not complete, leaving the status.
    pub async fn set_status_reason(
        &self,
        id: &str,
        reason: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE connected_accounts SET status_reason = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.account_changed(id).await;
        if let Some(a) = self.get_account(id).await? {
            self.audit.record(
                Event::new("authorization.failed")
                    .account(&a)
                    .reason(reason),
            );
        }
        Ok(())
    }

    /// Records a use of the account (for idle-account upkeep).
    pub async fn touch_account(&self, id: &str, now: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE connected_accounts SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.accounts.forget(id);
        Ok(())
    }

    /// Deletes an account and its secrets. Returns whether it existed.
    pub async fn delete_account(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM connected_accounts WHERE id = $1 RETURNING connection_id, identifier, provider",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        self.account_changed(id).await;
        let Some(row) = deleted else {
            return Ok(false);
        };
        let mut event = Event::new("account.deleted");
        event.connected_account_id = Some(id.to_owned());
        event.connection_id = row.try_get("connection_id").ok();
        event.identifier = row.try_get("identifier").ok();
        event.provider = row.try_get("provider").ok();
        self.audit.record(event);
        Ok(true)
    }
}

/// A pending authorization (see migration 0002).
#[derive(Clone, PartialEq)]
pub struct OAuthState {
    pub state_hash: String,
    pub account_id: String,
    pub redirect_url: Option<String>,
    /// Sealed PKCE verifier.
    pub code_verifier: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub used_at: Option<String>,
    /// Hash of the nonce cookie of the browser the flow is bound to: the one
    /// that started it on the connect page, or that claimed its start link.
    pub browser_hash: Option<String>,
    /// The callback is accepted only from the bound browser (false for states
    /// created before flows were bound).
    pub browser_required: bool,
}

impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .field("used", &self.used_at.is_some())
            .finish_non_exhaustive()
    }
}

/// A hosted connect page (see migration 0004).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectSession {
    pub token_hash: String,
    pub identifier: String,
    pub connection_ids: Vec<String>,
    pub redirect_url: Option<String>,
    pub created_at: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// SHA-256 of the browser session that opened it, once opened.
    pub browser_hash: Option<String>,
}

/// An account's new authorization, as stored.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The sealed credentials.
    pub sealed: &'a str,
    /// When the access token expires (Unix ms).
    pub expires_at: Option<i64>,
    /// The API origin the credentials are for.
    pub origin: Option<&'a str>,
    pub scopes: &'a [String],
    /// Values discovered for the account.
    pub config: &'a Map<String, Value>,
    /// Tokens imported from elsewhere, not granted through the OAuth flow.
    pub imported: bool,
}

/// What an account write means, for the audit trail and webhooks.
struct AccountChange {
    /// The audit action.
    action: &'static str,
    reason: Option<String>,
    /// The webhook event it raises, if any.
    notice: Option<AccountNotice>,
}

/// A column that holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    AccountCredentials,
    ConnectionSecret,
    CodeVerifier,
    WebhookSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 4] = [
        SealedColumn::ConnectionSecret,
        SealedColumn::AccountCredentials,
        SealedColumn::CodeVerifier,
        SealedColumn::WebhookSecret,
    ];

    /// Table, column and row key.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SealedColumn::AccountCredentials => ("connected_accounts", "credentials", "id"),
            SealedColumn::ConnectionSecret => ("connections", "secret", "id"),
            SealedColumn::CodeVerifier => ("oauth_states", "code_verifier", "state_hash"),
            SealedColumn::WebhookSecret => ("webhooks", "secret", "id"),
        }
    }

    /// Where a value of this column in row `id` is bound.
    pub fn place(self, id: &str) -> crate::vault::Place<'_> {
        match self {
            SealedColumn::AccountCredentials => crate::vault::Place::account_credentials(id),
            SealedColumn::ConnectionSecret => crate::vault::Place::connection_secret(id),
            SealedColumn::CodeVerifier => crate::vault::Place::code_verifier(id),
            SealedColumn::WebhookSecret => crate::vault::Place::webhook_secret(id),
        }
    }
}

/// A per-user MCP server link (see migration 0005).
#[derive(Debug, Clone, PartialEq)]
pub struct McpLink {
    pub id: String,
    pub token_hash: String,
    pub identifier: String,
    /// The providers it may use; `None`: every connected one.
    pub providers: Option<Vec<String>>,
    /// The tools it may use (`provider.tool`); `None`: every one.
    pub tools: Option<Vec<String>>,
    pub created_at: String,
    /// Unix milliseconds; `None`: never.
    pub expires_at: Option<i64>,
}

/// How a link is looked up.
#[derive(Debug, Clone, Copy)]
pub enum McpLinkKey<'a> {
    Id(&'a str),
    TokenHash(&'a str),
}

const CONNECTION_COLUMNS: &str =
    "id, provider, auth_type, scopes, config, managed, secret, created_at, updated_at";
const ACCOUNT_COLUMNS: &str = "id, connection_id, provider, identifier, identifier_type, label, display_name, status, \
     status_reason, status_changed_at, scopes, metadata, config, credentials, credentials_expires_at, \
     credentials_issued_at, credentials_origin, last_used_at, created_at, updated_at";

/// A `SELECT` with optional equality filters and keyset pagination by id.
struct Select {
    sql: String,
    args: Vec<String>,
    limit: i64,
}

impl Select {
    fn new(sql: String) -> Select {
        Select {
            sql,
            args: Vec::new(),
            limit: 50,
        }
    }

    fn filter(&mut self, column: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.condition(&format!("{column} = "), v);
        }
    }

    fn condition(&mut self, lhs: &str, value: String) {
        let joiner = if self.args.is_empty() {
            " WHERE "
        } else {
            " AND "
        };
        self.args.push(value);
        self.sql
            .push_str(&format!("{joiner}{lhs}${}", self.args.len()));
    }

    fn page(mut self, page: PageRequest<'_>) -> Select {
        if let Some(after) = page.after {
            self.condition("id > ", after.to_owned());
        }
        self.limit = i64::from(page.limit);
        self
    }

    async fn fetch(self, pool: &AnyPool) -> Result<Vec<AnyRow>, sqlx::Error> {
        let sql = format!("{} ORDER BY id LIMIT {}", self.sql, self.limit);
        let mut q = sqlx::query(&sql);
        for a in self.args {
            q = q.bind(a);
        }
        q.fetch_all(pool).await
    }
}

/// A column value for [`update_columns`].
enum Col {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<Option<String>> for Col {
    fn from(v: Option<String>) -> Col {
        Col::Text(v)
    }
}

/// `UPDATE table SET col = $1, … WHERE id = $n`; returns the rows changed.
async fn update_columns<'e>(
    executor: impl Executor<'e, Database = sqlx::Any>,
    table: &'static str,
    id: &str,
    sets: Vec<(&'static str, Col)>,
) -> Result<u64, sqlx::Error> {
    let assignments: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("{column} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE {table} SET {} WHERE id = ${}",
        assignments.join(", "),
        sets.len() + 1
    );
    let mut q = sqlx::query(&sql);
    for (_, value) in sets {
        q = match value {
            Col::Text(v) => q.bind(v),
            Col::Int(v) => q.bind(v),
        };
    }
    Ok(q.bind(id).execute(executor).await?.rows_affected())
}

fn unique(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Duplicate(what)
        }
        _ => StoreError::Database(e),
    }
}

fn text(v: &str) -> Col {
    Col::Text(Some(v.to_owned()))
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A pool of at most `max` connections, each set up for the backend.
fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    // With WAL, NORMAL never corrupts the database; a power
                    // cut may lose the last commits, not a process crash.
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // Replaced and deleted secrets are overwritten in the
                    // file, not left in free pages (a re-seal after a key
                    // rotation leaves nothing under the old key).
                    conn.execute("PRAGMA secure_delete = ON").await?;
                }
                Ok(())
            })
        })
}

/// A new id: `prefix_` and a lower-case ULID, so ids sort by creation time.
pub fn new_id(prefix: &str) -> String {
    // Monotonic within the process: two ids made in one millisecond still
    // sort in the order they were made (list pages follow that order).
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let id = IDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new());
    let mut text = String::with_capacity(prefix.len() + 1 + ulid::ULID_LEN);
    text.push_str(prefix);
    text.push('_');
    let start = text.len();
    let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{id}"));
    text[start..].make_ascii_lowercase();
    text
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Reads a column that holds JSON text.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Reads a column that holds one of a fixed set of names.
fn enum_column<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column}: unknown value `{text}`")))
}
