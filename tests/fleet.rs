//! Three gateways on one PostgreSQL and one Redis behind nginx, as a fleet
//! runs: a steady load of tool calls while access tokens expire every few
//! seconds, and one replica killed with SIGKILL and started again mid-run.
//!
//! What must hold: every expiry is refreshed exactly once across the fleet
//! (refresh tokens rotate, so a second refresh or a lost one would show as a
//! stale token at the provider); the provider's rate limit holds for the
//! fleet as a whole; and no call fails but those in flight on the killed
//! replica (counted and reported).

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::GatewayProcess;
use common::{API_KEY, keyed_call, scratch_dir, specs_dir};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const RELAY: &str = "tests/fixtures/fleet/relay.yaml";
const ACCOUNTS: [&str; 4] = ["ann", "bob", "cyd", "dee"];
/// Access tokens live this long; the gateway refreshes at half of it.
const LIFETIME_S: u64 = 3;
const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(16);
const KILL_AT: Duration = Duration::from_secs(6);
const RESTART_AT: Duration = Duration::from_secs(8);
/// The provider's limit for the whole fleet (see the fixture).
const RATE: f64 = 40.0;
const BURST: f64 = 5.0;

/// The provider: rotating refresh tokens per account (only the latest one
/// is accepted), access tokens valid for [`LIFETIME_S`], and a record of
/// when each API request arrived.
#[derive(Clone, Default)]
struct Relay {
    inner: Arc<Mutex<RelayState>>,
}

#[derive(Default)]
struct RelayState {
    /// The latest refresh token number of each account.
    current: HashMap<String, u32>,
    /// Access tokens issued, with when.
    issued: HashMap<String, Instant>,
    refreshes: u32,
    /// When the last refresh arrived.
    last_refresh: Option<Instant>,
    /// Refresh tokens presented that were not the latest.
    stale: Vec<String>,
    /// API requests: when, and whether the token was good.
    calls: Vec<(Instant, bool)>,
}

impl Relay {
    fn issue(state: &mut RelayState, account: &str, n: u32) -> Value {
        state.current.insert(account.to_owned(), n);
        let access = format!("{account}-at-{n}");
        state.issued.insert(access.clone(), Instant::now());
        json!({
            "access_token": access,
            "refresh_token": format!("{account}-rt-{n}"),
            "token_type": "Bearer",
            "expires_in": LIFETIME_S,
        })
    }
}

struct TokenEndpoint(Relay);

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "unsupported_grant_type"}));
        }
        let presented = form.get("refresh_token").cloned().unwrap_or_default();
        let mut state = self.0.inner.lock().unwrap();
        let (account, n) = presented
            .split_once("-rt-")
            .map(|(a, n)| (a.to_owned(), n.parse::<u32>().unwrap_or(0)))
            .unwrap_or_default();
        if state.current.get(&account) != Some(&n) {
            state.stale.push(presented);
            return ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "refresh token already used"}),
            );
        }
        state.refreshes += 1;
        state.last_refresh = Some(Instant::now());
        let body = Relay::issue(&mut state, &account, n + 1);
        // The answer takes a moment, as a real token endpoint's does.
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(Duration::from_millis(50))
    }
}

struct StatusEndpoint(Relay);

impl Respond for StatusEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let mut state = self.0.inner.lock().unwrap();
        // Valid for its lifetime, and a second more: replicas' clocks and
        // the time a request spends on its way.
        let good = state
            .issued
            .get(&token)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(LIFETIME_S + 1));
        state.calls.push((Instant::now(), good));
        if good {
            let user = token.split("-at-").next().unwrap_or_default().to_owned();
            ResponseTemplate::new(200).set_body_json(json!({"user": user, "state": "ok"}))
        } else {
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_token"}))
        }
    }
}

/// nginx from Debian's packages, in front of the replicas.
struct Nginx {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
}

impl Nginx {
    fn start(upstreams: &[String]) -> Option<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let dir = scratch_dir("fleet-nginx");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = upstreams
            .iter()
            .map(|u| {
                format!(
                    "    server {} max_fails=1 fail_timeout=2s;\n",
                    u.trim_start_matches("http://")
                )
            })
            .collect();
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\nerror_log {d}/error.log error;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               upstream gateways {{\n{servers}  }}\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://gateways;\n\
                   proxy_http_version 1.1;\n      proxy_next_upstream error timeout;\n\
                   proxy_connect_timeout 1s;\n      proxy_read_timeout 60s;\n    }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        Some(Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many tool calls a replica has answered (from its metrics).
async fn tool_calls(client: &reqwest::Client, base: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("switchboard_tool_executions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// One call's outcome, as a client of the fleet saw it.
struct Outcome {
    at: Instant,
    status: u16,
    /// The envelope's error code, or the start of a body that is none
    /// (nginx's own error page).
    what: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_survives_a_killed_replica() {
    let (Some(database), Some(redis)) = (
        std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty()),
        std::env::var("SWITCHBOARD_TEST_REDIS_URL")
            .ok()
            .filter(|v| !v.is_empty()),
    ) else {
        eprintln!(
            "skipped: the fleet test needs SWITCHBOARD_TEST_DATABASE_URL and SWITCHBOARD_TEST_REDIS_URL"
        );
        return;
    };

    // The provider.
    let relay = Relay::default();
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(TokenEndpoint(relay.clone()))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .respond_with(StatusEndpoint(relay.clone()))
        .mount(&mock)
        .await;

    // One database and one Redis prefix of its own.
    let name = format!("sb_fleet_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(&database).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let mut url = url::Url::parse(&database).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = scratch_dir("fleet");
    let config = dir.join("switchboard.yaml");
    std::fs::write(
        &config,
        format!(
            "database_url: {url}\napi_keys: [{API_KEY}]\n\
             encryption_key: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\
             specs_dir: {specs}\ndata_dir: {data}\nredis_url: {redis}\n\
             redis_key_prefix: \"{name}:\"\nlog_format: text\n\
             provider_overrides:\n  relay:\n    origins:\n\
             \x20     https://relay.example: {mock}\n\
             \x20     https://api.relay.example: {mock}\n",
            specs = specs_dir(&[RELAY]).display(),
            data = dir.display(),
            mock = mock.uri(),
        ),
    )
    .unwrap();
    let mut replicas: Vec<GatewayProcess> = (0..3)
        .map(|_| GatewayProcess::start(&config, "127.0.0.1:0"))
        .collect();
    let Some(nginx) = Nginx::start(&replicas.iter().map(|r| r.base.clone()).collect::<Vec<_>>())
    else {
        eprintln!("skipped: nginx is not installed (apt-get install nginx)");
        return;
    };
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}{path}", nginx.base);
    // nginx is up once it answers.
    for _ in 0..100 {
        if client.get(api("/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Accounts with tokens from elsewhere (imported), about to rotate.
    let post = |path: &str, body: Value| {
        let url = api(path);
        let client = client.clone();
        async move { keyed_call(&client, Method::POST, &url, Some(body)).await }
    };
    let (_, conn) = post(
        "/v1/connections",
        json!({"provider": "relay", "credentials": {"client_id": "c", "client_secret": "s"}}),
    )
    .await;
    let mut ids = Vec::new();
    for who in ACCOUNTS {
        let (_, account) = post(
            "/v1/connected-accounts",
            json!({"connection_id": conn["id"], "identifier": who}),
        )
        .await;
        let id = account["id"].as_str().unwrap().to_owned();
        let tokens = Relay::issue(&mut relay.inner.lock().unwrap(), who, 1);
        let expires_at =
            switchboard::clock::text_of_ms(switchboard::clock::now_ms() + LIFETIME_S as i64 * 1000)
                .unwrap();
        let (status, answer) = post(
            &format!("/v1/connected-accounts/{id}/credentials"),
            json!({
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_at": expires_at,
            }),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        ids.push(id);
    }

    // The load: clients calling in a loop, each account in turn.
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut load = Vec::new();
    for c in 0..CLIENTS {
        let (client, stop, outcomes, ids) =
            (client.clone(), stop.clone(), outcomes.clone(), ids.clone());
        let url = api("/v1/tools/execute");
        load.push(tokio::spawn(async move {
            let mut i = c;
            while !stop.load(Ordering::SeqCst) {
                let account = &ids[i % ids.len()];
                i += 1;
                let sent = client
                    .post(&url)
                    .bearer_auth(API_KEY)
                    .json(&json!({"connected_account_id": account, "tool": "get_status"}))
                    .send()
                    .await;
                let (status, what) = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        let what = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| text.chars().take(60).collect());
                        (status, what)
                    }
                    Err(e) => (0, e.to_string()),
                };
                outcomes.lock().unwrap().push(Outcome {
                    at: Instant::now(),
                    status,
                    what,
                });
            }
        }));
    }

    // Mid-run, one replica dies the hard way (at a moment when no refresh
    // of its is at the provider: a rotation the provider made for a
    // process that died before storing it could not be recovered by
    // anyone), then starts again.
    tokio::time::sleep(KILL_AT).await;
    // (A refresh is answered in 50 ms and stored a moment later.)
    while relay
        .inner
        .lock()
        .unwrap()
        .last_refresh
        .is_some_and(|at| at.elapsed() < Duration::from_millis(200))
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let served_before = tool_calls(&client, &replicas[1].base).await;
    assert!(served_before > 0, "the replica to be killed serves calls");
    let killed_at = Instant::now();
    replicas[1].kill();
    tokio::time::sleep(RESTART_AT - KILL_AT).await;
    replicas[1].restart();
    tokio::time::sleep(RUN.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let served_after = tool_calls(&client, &replicas[1].base).await;
    let nginx_log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();

    // The calls: every one succeeded but those that were in flight on the
    // killed replica (nginx's 502, not the gateway's envelope), all within
    // moments of the kill.
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let total = outcomes.len();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.status != 200).collect();
    let in_flight_at_kill = failed
        .iter()
        .filter(|o| {
            o.status == 502
                && o.at >= killed_at
                && o.at < killed_at + Duration::from_secs(2)
                && o.what.contains("<html>")
        })
        .count();
    let others: Vec<String> = failed
        .iter()
        .filter(|o| {
            !(o.status == 502 && o.at >= killed_at && o.at < killed_at + Duration::from_secs(2))
        })
        .map(|o| {
            format!(
                "{} {} at {:?} (kill at {:?})",
                o.status,
                o.what,
                o.at - started,
                killed_at - started
            )
        })
        .collect();
    let state = std::mem::take(&mut *relay.inner.lock().unwrap());
    let upstream_calls = state.calls.len();
    eprintln!(
        "fleet: {total} calls in {:?} through nginx to 3 replicas; {in_flight_at_kill} failed in flight on the killed replica; \
         {} other failures; {} refreshes for {} accounts ({LIFETIME_S} s tokens); {upstream_calls} calls reached the provider",
        RUN,
        others.len(),
        state.refreshes,
        ACCOUNTS.len(),
    );
    assert!(
        others.is_empty(),
        "calls failed for other reasons: {others:#?}"
    );
    assert!(
        in_flight_at_kill <= CLIENTS,
        "at most one call per client can be in flight: {in_flight_at_kill}"
    );
    assert!(total > 200, "a steady load: {total} calls");

    // Refreshes: exactly one per expiry. A second refresh of one token, or
    // a rotation lost, would have presented a stale refresh token.
    assert!(
        state.stale.is_empty(),
        "stale refresh tokens presented: {:?}",
        state.stale
    );
    let rounds = RUN.as_secs() / LIFETIME_S;
    assert!(
        state.refreshes as u64 >= ACCOUNTS.len() as u64 * rounds,
        "tokens expired and were refreshed during the run: {} refreshes",
        state.refreshes
    );
    // Each refresh comes once the token is half way through its life (no
    // sooner): at most one per account per half lifetime, plus the first.
    let most = ACCOUNTS.len() as u64 * (RUN.as_secs() * 2 / LIFETIME_S + 2);
    assert!(
        (state.refreshes as u64) <= most,
        "{} refreshes: more than one per expiry",
        state.refreshes
    );
    // A call that waited long (for its turn under the rate limit, on a
    // busy machine) may reach the provider with a token that expired
    // meanwhile: the provider's 401 makes the gateway refresh (or pick up
    // the refresh another replica made) and send it again, so it still
    // succeeded above; reported, not an error.
    let refused = state.calls.iter().filter(|(_, good)| !good).count();
    eprintln!(
        "fleet: {refused} provider calls carried a token that had just expired (each sent again)"
    );

    // The provider's limit held for the fleet: in any window of t seconds,
    // at most burst + rate × t requests (checked over 1 s windows).
    let times: Vec<Instant> = state.calls.iter().map(|(at, _)| *at).collect();
    let mut worst = 0;
    for (i, start) in times.iter().enumerate() {
        let n = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        worst = worst.max(n);
    }
    eprintln!(
        "fleet: the killed replica served {served_before} calls before the kill and {served_after} after its restart; nginx logged:\n{}",
        nginx_log.lines().take(6).collect::<Vec<_>>().join("\n")
    );
    assert!(served_after > 0, "the restarted replica serves calls again");
    eprintln!(
        "fleet: at most {worst} provider calls in any second (limit {RATE}/s, burst {BURST})"
    );
    assert!(
        worst as f64 <= RATE + BURST + 2.0,
        "the fleet sent {worst} calls in one second; its limit is {RATE}/s with a burst of {BURST}"
    );

    // Every account is still active, through any replica.
    for id in &ids {
        let (_, account) = keyed_call(
            &client,
            Method::GET,
            &api(&format!("/v1/connected-accounts/{id}")),
            None,
        )
        .await;
        assert_eq!(account["status"], "active", "{account}");
    }
    drop(replicas);
    drop(nginx);
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
}
