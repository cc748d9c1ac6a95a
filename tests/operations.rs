//! What an operator relies on: hot reload under traffic, metrics, TLS to
//! providers, graceful shutdown, and the binary's zero-set-up first run.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Backend, Setup, TestGateway, scratch_dir, specs_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACME: &str = "tests/fixtures/specs/acme.yaml";

async fn acme_account(gw: &TestGateway) -> String {
    let conn = gw
        .connection(json!({"provider": "acme", "config": {"site": "north"}}))
        .await;
    gw.account(&conn, "user-1", Some(json!({"api_key": "sk_test"})))
        .await
}

async fn hot_reload_under_traffic(backend: Backend) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": {"id": "7", "name": "Ann", "display": "Ann L."}})),
        )
        .mount(&mock)
        .await;
    let dir = specs_dir(&[ACME, "provider-specs/slack.yaml"]);
    let setup = Setup::new(dir.clone()).base_url("acme", format!("{}/api/v2", mock.uri()));
    let gw = Arc::new(TestGateway::start(&backend, setup).await);
    let account = acme_account(&gw).await;
    let call =
        json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "7"}});

    // Traffic: four clients calling until told to stop (bounded by a count).
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (gw, stop, call) = (gw.clone(), stop.clone(), call.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) && sent < 5_000 {
                let (status, body) = gw.post("/v1/tools/execute", call.clone()).await;
                if status != StatusCode::OK {
                    failures.push(body);
                }
                sent += 1;
            }
            (sent, failures)
        }));
    }

    let acme_file = dir.join("acme.yaml");
    let good = std::fs::read_to_string(&acme_file).unwrap();
    let generation = |gw: Arc<TestGateway>| async move { gw.state.specs.status().generation };
    let name_of = |gw: Arc<TestGateway>, call: Value| async move {
        let (_, body) = gw.post("/v1/tools/execute", call).await;
        body["data"]["name"].clone()
    };
    assert_eq!(name_of(gw.clone(), call.clone()).await, "Ann");

    // 1. A changed file: the new mapping is used once reloaded.
    let start = generation(gw.clone()).await;
    std::fs::write(
        &acme_file,
        good.replace("name: $.user.name", "name: $.user.display"),
    )
    .unwrap();
    common::eventually("the changed spec is in force", || {
        let (gw, call) = (gw.clone(), call.clone());
        async move { name_of(gw, call).await == "Ann L." }
    })
    .await;
    assert!(generation(gw.clone()).await > start);

    // 2. A broken file: the last good version stays; the problem is shown.
    std::fs::write(&acme_file, "provider: acme\ntools: [\n").unwrap();
    common::eventually("readyz shows the problem", || {
        let gw = gw.clone();
        async move {
            let (_, ready) = gw.get("/readyz").await;
            ready["spec_problems"] == json!(1)
        }
    })
    .await;
    let (status, ready) = gw.get("/readyz").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "spec problems do not make the gateway unready"
    );
    // Counted only: the answer is public, the problem is in the log.
    assert_eq!(ready["spec_problems"], json!(1), "{ready}");
    assert!(!ready.to_string().contains("acme.yaml"), "{ready}");
    assert_eq!(name_of(gw.clone(), call.clone()).await, "Ann L.");
    assert!(gw.metrics().await.contains("switchboard_spec_problems 1"));

    // 3. A deleted file removes its provider.
    std::fs::remove_file(dir.join("slack.yaml")).unwrap();
    common::eventually("slack is gone", || {
        let gw = gw.clone();
        async move { gw.get("/v1/providers/slack").await.0 == StatusCode::NOT_FOUND }
    })
    .await;

    // 4. The good file again.
    std::fs::write(&acme_file, &good).unwrap();
    common::eventually("the problem is cleared", || {
        let gw = gw.clone();
        async move { gw.get("/readyz").await.1["spec_problems"] == json!(0) }
    })
    .await;
    assert_eq!(name_of(gw.clone(), call.clone()).await, "Ann");

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        let (sent, failures) = client.await.unwrap();
        total += sent;
        assert!(
            failures.is_empty(),
            "requests failed during reloads: {failures:?}"
        );
    }
    assert!(
        total > 20,
        "traffic ran during the reloads ({total} requests)"
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("switchboard_spec_reloads_total{outcome=\"partial\"}"),
        "{metrics}"
    );

    // Reading the files during a reload is not a change: reloads stop.
    let settled = gw.state.specs.status().generation;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        gw.state.specs.status().generation,
        settled,
        "reloads keep firing without changes"
    );
    Arc::try_unwrap(gw)
        .ok()
        .expect("clients are done")
        .stop()
        .await;
}

async fn metrics_after_known_traffic(backend: Backend) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "ok"}})))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/down"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "down"}})),
        )
        .mount(&mock)
        .await;
    let setup = Setup::new(specs_dir(&[ACME])).base_url("acme", format!("{}/api/v2", mock.uri()));
    let gw = TestGateway::start(&backend, setup).await;
    let account = acme_account(&gw).await;
    let run = |id: Value| json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": id}});
    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/tools/execute", run(json!("ok"))).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        gw.post("/v1/tools/execute", run(json!("down"))).await.0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        gw.post("/v1/tools/execute", run(json!(5))).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let metrics = gw.metrics().await;
    let expected = [
        "switchboard_tool_executions_total{outcome=\"success\",provider=\"acme\",tool=\"get_user\"} 3",
        "switchboard_tool_executions_total{outcome=\"provider_error\",provider=\"acme\",tool=\"get_user\"} 1",
        "switchboard_tool_executions_total{outcome=\"invalid_parameters\",provider=\"acme\",tool=\"get_user\"} 1",
        "switchboard_upstream_responses_total{provider=\"acme\",status=\"200\"} 3",
        "switchboard_upstream_responses_total{provider=\"acme\",status=\"500\"} 1",
        "switchboard_tool_execution_duration_seconds_count{provider=\"acme\",tool=\"get_user\"} 5",
        "switchboard_upstream_request_duration_seconds_count{provider=\"acme\"} 4",
        "switchboard_providers_loaded 1",
        "switchboard_tools_loaded 8",
        "switchboard_spec_reloads_total{outcome=\"success\"} 1",
        "switchboard_spec_problems 0",
        "switchboard_http_requests_total{method=\"POST\",route=\"/v1/tools/execute\",status=\"200\"} 3",
        "switchboard_http_requests_in_flight 1",
    ];
    for line in expected {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing `{line}` in:\n{metrics}"
        );
    }
    assert!(
        !metrics.contains(&account),
        "an account id reached a metric label"
    );
    assert!(
        !metrics.contains("user-1"),
        "an identifier reached a metric label"
    );
    gw.stop().await;
}

async fn providers_are_reached_over_real_tls(backend: Backend) {
    let tls = TlsProvider::start().await;
    let dir = scratch_dir("tls");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("https://localhost:{}/api/v2", tls.port))
        .configure(move |c| c.upstream.ca_certs = vec![ca.clone()]);
    let gw = TestGateway::start(&backend, setup).await;
    let account = acme_account(&gw).await;
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "7"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Tee Ls");
    let request = tls.last_request.lock().await.clone();
    assert!(
        request.starts_with("GET /api/v2/users/7?key=sk_test HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.to_lowercase().contains("\r\nhost: localhost:"),
        "{request}"
    );
    gw.stop().await;

    // A provider that speaks HTTP/2 (negotiated by ALPN) is reached over HTTP/2.
    let h2 = TlsProvider::start_with(true).await;
    let ca = scratch_dir("tls-h2").join("ca.pem");
    std::fs::write(&ca, &h2.ca_pem).unwrap();
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("https://localhost:{}/api/v2", h2.port))
        .configure(move |c| c.upstream.ca_certs = vec![ca.clone()]);
    let gw = TestGateway::start(&backend, setup).await;
    let account = acme_account(&gw).await;
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "7"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Tee Ls");
    assert_eq!(
        *h2.last_request.lock().await,
        "GET /api/v2/users/7?key=sk_test HTTP/2.0"
    );
    gw.stop().await;

    // Without the CA the certificate is refused: upstream_unavailable.
    let setup = Setup::new(specs_dir(&[ACME]))
        .base_url("acme", format!("https://localhost:{}/api/v2", tls.port));
    let gw = TestGateway::start(&backend, setup).await;
    let account = acme_account(&gw).await;
    let (status, body) = gw
        .post(
            "/v1/tools/execute",
            json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "7"}}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    gw.stop().await;
}

async fn shutdown_lets_requests_in_flight_finish(backend: Backend) {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": {"id": "slow"}}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&mock)
        .await;
    let setup = Setup::new(specs_dir(&[ACME])).base_url("acme", format!("{}/api/v2", mock.uri()));
    let gw = TestGateway::start(&backend, setup).await;
    let account = acme_account(&gw).await;
    let request = gw
        .client
        .post(gw.url("/v1/tools/execute"))
        .bearer_auth(common::API_KEY)
        .json(&json!({"connected_account_id": account, "tool": "get_user", "parameters": {"id": "slow"}}))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.stop().await;
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), StatusCode::OK);
}

both_backends!(
    hot_reload_under_traffic,
    metrics_after_known_traffic,
    providers_are_reached_over_real_tls,
    shutdown_lets_requests_in_flight_finish,
);

/// A provider behind real TLS (rustls, a certificate from a test CA) that
/// answers one JSON body and remembers the last request it read.
struct TlsProvider {
    port: u16,
    ca_pem: String,
    last_request: Arc<tokio::sync::Mutex<String>>,
}

impl TlsProvider {
    async fn start() -> TlsProvider {
        TlsProvider::start_with(false).await
    }

    /// `http2`: offer only `h2` by ALPN and answer with hyper's HTTP/2 server.
    async fn start_with(http2: bool) -> TlsProvider {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let mut config = config;
        if http2 {
            config.alpn_protocols = vec![b"h2".to_vec()];
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let last_request = Arc::new(tokio::sync::Mutex::new(String::new()));
        let seen = last_request.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if http2 {
                        serve_http2(tls, seen).await;
                        return;
                    }
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    *seen.lock().await = String::from_utf8_lossy(&buf).into_owned();
                    let body = r#"{"user": {"id": "7", "name": "Tee Ls"}}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        TlsProvider {
            port,
            ca_pem: ca.pem(),
            last_request,
        }
    }
}

#[tokio::test]
async fn a_missing_specs_directory_stops_the_start() {
    let config = switchboard::config::Config {
        specs_dir: "/nonexistent/specs".into(),
        data_dir: scratch_dir("nospecs"),
        ..Default::default()
    };
    let err = switchboard::server::Gateway::start(config)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "specs directory /nonexistent/specs does not exist (set specs_dir or SWITCHBOARD_SPECS_DIR)"
    );
}

/// Answers HTTP/2 requests on one connection, noting each request line.
async fn serve_http2(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    seen: Arc<tokio::sync::Mutex<String>>,
) {
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            *seen.lock().await = format!(
                "{} {} {:?}",
                req.method(),
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or_default(),
                req.version()
            );
            let body = r#"{"user": {"id": "7", "name": "Tee Ls"}}"#;
            let response = hyper::Response::builder()
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                    body.as_bytes(),
                )))
                .unwrap();
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .await;
}

/// `switchboard serve` on a fresh directory: keys generated with mode 0600,
/// the API key printed once, logs on stderr, SIGTERM stops it cleanly.
#[test]
fn the_binary_runs_with_zero_set_up() {
    let dir = scratch_dir("first-run");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs = dir.join("provider-specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::copy(
        root.join("provider-specs/slack.yaml"),
        specs.join("slack.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root.join("provider-specs/slack.svg"),
        specs.join("slack.svg"),
    )
    .unwrap();

    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .current_dir(&dir)
            .env_remove("SWITCHBOARD_CONFIG")
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .env_remove("SWITCHBOARD_API_KEYS")
            .env_remove("SWITCHBOARD_ENCRYPTION_KEY")
            .env_remove("SWITCHBOARD_SPECS_DIR")
            .env_remove("SWITCHBOARD_DATA_DIR")
            .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (address, log) = common::process::listening(&mut child);
        assert!(log.contains("providers=1"), "{log}");
        assert!(
            !log.contains('\u{1b}'),
            "no colour codes when not on a terminal"
        );
        (child, address)
    };

    let (child, address) = start();
    let key = std::fs::read_to_string(dir.join("data/api_key"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("sb_") && key.len() == 43, "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["api_key", "encryption.key"] {
            let mode = std::fs::metadata(dir.join("data").join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    assert!(dir.join("data/switchboard.db").exists());
    let ready = reqwest::blocking_get(&format!("{address}/readyz"));
    assert_eq!(ready["status"], "ready");
    let stdout = stop(child);
    assert!(
        stdout.contains(&key),
        "the generated key is printed: {stdout}"
    );
    assert_eq!(stdout.matches(&key).count(), 1);

    let (child, _) = start();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // While it runs, every file under data/ is the owner's only: keys,
        // the database and SQLite's -wal and -shm files.
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(dir.join("data")).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let name = entry.file_name().to_string_lossy().into_owned();
            assert_eq!(mode, 0o600, "{name}");
            seen.push(name);
        }
        assert!(seen.iter().any(|n| n.ends_with("-wal")), "{seen:?}");
    }
    let stdout = stop(child);
    assert!(
        !stdout.contains(&key),
        "the key is printed only when generated: {stdout}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;

        // A data directory others can open is refused.
        std::fs::set_permissions(dir.join("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .current_dir(&dir)
            .env_remove("SWITCHBOARD_CONFIG")
            .env_remove("SWITCHBOARD_DATA_DIR")
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .env_remove("SWITCHBOARD_SPECS_DIR")
            .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("open to other users (mode 755)"),
            "{stderr}"
        );
    }
}

fn stop(mut child: std::process::Child) -> String {
    #[cfg(unix)]
    unsafe_free_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM: {status}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    out
}

/// Sends SIGTERM with the `kill` command (no unsafe code needed).
fn unsafe_free_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

mod reqwest {
    pub use ::reqwest::*;

    /// A blocking GET for the sync binary test, on a throwaway runtime.
    pub fn blocking_get(url: &str) -> serde_json::Value {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}
