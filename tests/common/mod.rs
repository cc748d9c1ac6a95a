//! A real gateway on an ephemeral port, on SQLite or PostgreSQL, for
//! integration tests; and the `both_backends!` macro that runs a test body on
//! each store.

#![allow(dead_code)]

pub mod process;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use sqlx::Executor as _;
use switchboard::config::Config;
use switchboard::registry::ProviderOverride;
use switchboard::server::Gateway;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const API_KEY: &str = "sb_test_key_0123456789";

/// Which store a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// A PostgreSQL server URL (any database; tests create their own).
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `SWITCHBOARD_TEST_DATABASE_URL`, if set.
    pub fn postgres() -> Option<Backend> {
        std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }
}

/// Runs each listed `async fn name(backend: Backend)` once on SQLite and once
/// on PostgreSQL (skipped, and said so, without `SWITCHBOARD_TEST_DATABASE_URL`).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::common::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!(
                            "skipped {} on PostgreSQL: SWITCHBOARD_TEST_DATABASE_URL is not set",
                            stringify!($name)
                        ),
                    }
                }
            )*
        }
    };
}

/// Polls `check` every 50 ms until it holds; fails after 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Sends a request to `url` with the test API key; returns status and JSON
/// body (a body that is not JSON as a JSON string).
pub async fn keyed_call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, url).bearer_auth(API_KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.expect("the gateway answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// How many requests `mock` received on `path`.
pub async fn requests_to(mock: &wiremock::MockServer, path: &str) -> usize {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == path)
        .count()
}

/// Fails unless the metrics text holds each of `series` (name, labels and
/// value) as one whole line.
pub fn assert_series(metrics: &str, series: &[&str]) {
    for one in series {
        assert!(
            metrics.lines().any(|line| line == *one),
            "no `{one}` in the metrics:\n{metrics}"
        );
    }
}

/// The fixtures `flaky` (no rate limit) and `metered` (5 per second per
/// account, burst 1).
pub const FLAKY: &str = "tests/fixtures/specs/flaky.yaml";
pub const METERED: &str = "tests/fixtures/specs/metered.yaml";

/// A gateway on SQLite with `flaky` and `metered` pointed at `base` and an
/// active account on each; returns the gateway and the two account ids.
pub async fn flaky_and_metered(
    base: &str,
    configure: impl Fn(&mut Config) + Send + Sync + 'static,
) -> (TestGateway, String, String) {
    let setup = Setup::new(specs_dir(&[FLAKY, METERED]))
        .base_url("flaky", format!("{base}/v1"))
        .base_url("metered", format!("{base}/v1"))
        .configure(configure);
    let gw = TestGateway::start(&Backend::Sqlite, setup).await;
    let mut ids = Vec::new();
    for provider in ["flaky", "metered"] {
        let conn = gw.connection(json!({ "provider": provider })).await;
        ids.push(
            gw.account(&conn, "user-1", Some(json!({"token": "t0k"})))
                .await,
        );
    }
    let metered = ids.pop().unwrap();
    (gw, ids.pop().unwrap(), metered)
}

/// A unique scratch directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-{name}-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // The gateway refuses a data directory other users can open.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// A specs directory holding copies of the given fixture or shipped files.
pub fn specs_dir(files: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch_dir("specs");
    for file in files {
        let source = root.join(file);
        std::fs::copy(&source, dir.join(source.file_name().unwrap())).unwrap();
        // The logo a shipped spec names lies beside it.
        let logo = source.with_extension("svg");
        if logo.exists() {
            std::fs::copy(&logo, dir.join(logo.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// A change to the test config before the gateway starts.
pub type Configure = Box<dyn Fn(&mut Config) + Send + Sync>;

/// What a test gateway is made of; `start` fills in the rest.
pub struct Setup {
    pub specs_dir: PathBuf,
    pub overrides: Vec<(&'static str, String)>,
    pub configure: Option<Configure>,
}

impl Setup {
    pub fn new(specs_dir: PathBuf) -> Setup {
        Setup {
            specs_dir,
            overrides: Vec::new(),
            configure: None,
        }
    }

    /// Points `provider`'s base URL at `url` (a mock).
    pub fn base_url(mut self, provider: &'static str, url: String) -> Setup {
        self.overrides.push((provider, url));
        self
    }

    pub fn configure(mut self, f: impl Fn(&mut Config) + Send + Sync + 'static) -> Setup {
        self.configure = Some(Box::new(f));
        self
    }
}

/// A running gateway.
pub struct TestGateway {
    pub base: String,
    pub client: reqwest::Client,
    pub config: Config,
    pub data_dir: PathBuf,
    pub state: Arc<switchboard::api::AppState>,
    setup: Arc<Setup>,
    database: Database,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone)]
enum Database {
    Sqlite(PathBuf),
    Postgres { server: String, name: String },
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres { server, name } => with_database(server, name),
        }
    }
}

fn with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestGateway {
    pub async fn start(backend: &Backend, setup: Setup) -> TestGateway {
        let data_dir = scratch_dir("data");
        let database = match backend {
            Backend::Sqlite => Database::Sqlite(data_dir.join("switchboard.db")),
            Backend::Postgres(server) => {
                let name = format!("sb_test_{}", ulid::Ulid::new().to_string().to_lowercase());
                let mut conn = sqlx::PgConnection::connect(server)
                    .await
                    .expect("PostgreSQL is reachable");
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
                Database::Postgres {
                    server: server.clone(),
                    name,
                }
            }
        };
        TestGateway::launch(Arc::new(setup), data_dir, database).await
    }

    async fn launch(setup: Arc<Setup>, data_dir: PathBuf, database: Database) -> TestGateway {
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            specs_dir: setup.specs_dir.clone(),
            database_url: database.url(),
            api_keys: vec![API_KEY.into()],
            data_dir: data_dir.clone(),
            ..Config::default()
        };
        for (provider, url) in &setup.overrides {
            config.provider_overrides.insert(
                (*provider).to_owned(),
                ProviderOverride {
                    base_url: Some(url.clone()),
                    ..ProviderOverride::default()
                },
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        config.public_url = Some(base.clone());
        if let Some(f) = &setup.configure {
            f(&mut config);
        }
        let gateway = Gateway::start(config.clone())
            .await
            .expect("the gateway starts");
        let state = gateway.state.clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            gateway
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TestGateway {
            base,
            client: reqwest::Client::new(),
            config,
            data_dir,
            state,
            setup,
            database,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server (requests in flight finish) and starts it again on
    /// the same data directory and database.
    pub async fn restart(mut self) -> TestGateway {
        self.halt().await;
        let TestGateway {
            setup,
            data_dir,
            database,
            ..
        } = self;
        TestGateway::launch(setup, data_dir, database).await
    }

    async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.store.close().await;
    }

    /// A second gateway on the same database and data directory (keys), as
    /// a replica behind a load balancer would be.
    pub async fn replica(&self) -> TestGateway {
        TestGateway::launch(
            self.setup.clone(),
            self.data_dir.clone(),
            self.database.clone(),
        )
        .await
    }

    /// Stops a replica, leaving the shared database in place.
    pub async fn stop_replica(mut self) {
        self.halt().await;
    }

    /// Stops the server and removes its database.
    pub async fn stop(mut self) {
        self.halt().await;
        if let Database::Postgres { server, name } = &self.database
            && let Ok(mut conn) = sqlx::PgConnection::connect(server).await
        {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with the API key; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        keyed_call(&self.client, method, &self.url(path), body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a connection and returns its id.
    pub async fn connection(&self, body: Value) -> String {
        let (status, json) = self.post("/v1/connections", body).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json["id"].as_str().unwrap().to_owned()
    }

    /// Creates an account (and sets credentials when given); returns its id.
    pub async fn account(
        &self,
        connection_id: &str,
        identifier: &str,
        credentials: Option<Value>,
    ) -> String {
        let (status, json) = self
            .post(
                "/v1/connected-accounts",
                json!({"connection_id": connection_id, "identifier": identifier}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        let id = json["id"].as_str().unwrap().to_owned();
        if let Some(credentials) = credentials {
            let (status, json) = self
                .post(
                    &format!("/v1/connected-accounts/{id}/credentials"),
                    credentials,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{json}");
            assert_eq!(json["status"], "active");
        }
        id
    }

    /// Starts an authorization of `account` and completes it at the
    /// callback with `code`, as the provider would redirect the user's
    /// browser; returns the callback's answer.
    pub async fn authorize(&self, account: &str, code: &str) -> reqwest::Response {
        let (status, link) = self
            .post(
                &format!("/v1/connected-accounts/{account}/auth-url"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{link}");
        let (url, cookie) = self.continue_flow(link["url"].as_str().unwrap()).await;
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        self.client
            .get(self.url("/v1/oauth/callback"))
            .header("cookie", cookie)
            .query(&[("code", code), ("state", state.as_str())])
            .send()
            .await
            .unwrap()
    }

    /// Opens an authorization's start link as the user's browser: the page
    /// (which changes nothing), then its Continue button. Returns the
    /// provider's authorization URL and the flow's cookie (`name=value`).
    pub async fn continue_flow(&self, link: &str) -> (url::Url, String) {
        assert!(link.starts_with(&self.url("/v1/oauth/start/")), "{link}");
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = browser.get(link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers().get("set-cookie").is_none());
        assert!(page.text().await.unwrap().contains("Continue to"));
        let response = browser.post(link).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap();
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(
            cookie.contains("Path=/v1/oauth; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
        (
            url::Url::parse(location).unwrap(),
            cookie.split(';').next().unwrap().to_owned(),
        )
    }

    /// The metrics text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The raw text of every column of every row of `table`, for secret scans.
    pub async fn table_text(&self, table: &str) -> String {
        match &self.database {
            Database::Sqlite(path) => {
                let bytes = std::fs::read(path).unwrap();
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                for suffix in ["-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    if let Ok(b) = std::fs::read(PathBuf::from(p)) {
                        text.push_str(&String::from_utf8_lossy(&b));
                    }
                }
                text
            }
            Database::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&self.database.url())
                    .await
                    .unwrap();
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                rows.into_iter()
                    .map(|(t,)| t)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }

    /// Runs one SQL statement on the gateway's database.
    pub async fn sql(&self, statement: &str) {
        match &self.database {
            Database::Sqlite(path) => {
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                conn.execute(statement).await.unwrap();
            }
            Database::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&self.database.url())
                    .await
                    .unwrap();
                conn.execute(statement).await.unwrap();
            }
        }
    }
}
