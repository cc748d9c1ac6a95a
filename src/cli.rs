//! The command line: `serve`, `validate`, `render`, `tools`, `test`, `docs`.
//!
//! Each command reads the same configuration as the server (`--config`,
//! `SWITCHBOARD_*`), so the specs directory and provider overrides in force
//! are the ones the gateway would use.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};

use crate::catalog::{self, Format};
use crate::config::Config;
use crate::engine::{self, CallContext};
use crate::registry::{LoadReport, Registry, spec_files};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A self-hosted integration gateway"
)]
pub struct Cli {
    /// Config file (default: config/switchboard.yaml when present).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (defaults: 127.0.0.1:8080, SQLite in data/, keys
    /// generated on first run).
    Serve,
    /// Check spec files (default: the configured specs directory); each
    /// problem is printed as file:line:column: message.
    Validate {
        /// Spec files or directories.
        paths: Vec<PathBuf>,
    },
    /// Print the HTTP request a tool call would send (secrets redacted);
    /// nothing is sent.
    Render(RenderArgs),
    /// Run contract test files (default: the `tests/` folder of the specs
    /// directory): each case's requests and output against the spec.
    Test {
        /// Test files, or directories of them (a specs directory means its
        /// `tests/` folder).
        paths: Vec<PathBuf>,
    },
    /// Rewrite every sealed value (tokens, client secrets) under the current
    /// encryption key and format, after a key rotation; safe while the
    /// gateway serves.
    Reseal,
    /// Write the provider guide and the tool vocabulary (providers.md and
    /// tools.md) from the specs.
    Docs {
        /// The folder to write them to.
        #[arg(long, default_value = "docs")]
        out: PathBuf,
    },
    /// Print the tool catalog, as the API gives it.
    Tools {
        #[arg(long)]
        provider: Option<String>,
        /// jsonschema (default), openai, anthropic or mcp.
        #[arg(long, default_value = "jsonschema")]
        format: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The tool, as provider.tool.
    tool: String,
    /// The tool's parameters, as a JSON object.
    #[arg(long, default_value = "{}")]
    params: String,
    /// The connection's config (connection.config), as a JSON object.
    #[arg(long)]
    connection_config: Option<String>,
    /// The account's config (account.config), as a JSON object.
    #[arg(long)]
    account_config: Option<String>,
    /// Credentials to inject, as a JSON object (shown redacted).
    #[arg(long)]
    credentials: Option<String>,
    /// The auth method (default: the provider's first).
    #[arg(long)]
    auth_type: Option<String>,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let result = match cli.command {
        Command::Serve => return serve(config),
        Command::Validate { paths } => return validate(&config, &paths),
        Command::Render(args) => render(&config, &args),
        Command::Test { paths } => return test(&config, &paths),
        Command::Docs { out } => docs(&config, &out),
        Command::Reseal => return reseal(&config),
        Command::Tools { provider, format } => tools(&config, provider.as_deref(), &format),
    };
    match result {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn serve(config: Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(crate::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn validate(config: &Config, paths: &[PathBuf]) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![config.specs_dir.clone()]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    let mut report = LoadReport::default();
    for path in &paths {
        if path.is_dir() {
            match spec_files(path) {
                Ok(found) => files.extend(found),
                Err(e) => report.diagnostics.push(read_problem(path, &e)),
            }
        } else {
            files.push(path.clone());
        }
    }
    let loaded = Registry::load_files(&files, &config.provider_overrides);
    report.diagnostics.extend(loaded.diagnostics);
    for d in &report.diagnostics {
        println!("{d}");
    }
    let registry = loaded.registry;
    if report.diagnostics.is_empty() {
        println!(
            "ok: {} files, {} providers, {} tools",
            files.len(),
            registry.providers().count(),
            registry.tool_count()
        );
        ExitCode::SUCCESS
    } else {
        let n = report.diagnostics.len();
        eprintln!("{n} problem{} found", if n == 1 { "" } else { "s" });
        ExitCode::FAILURE
    }
}

/// `switchboard reseal`.
fn reseal(config: &Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(crate::server::reseal(config)) {
        Ok(report) => {
            println!(
                "resealed {}, already current {}, changed meanwhile {}, unreadable {}",
                report.resealed,
                report.current,
                report.skipped,
                report.unreadable.len()
            );
            for value in &report.unreadable {
                println!(
                    "unreadable: {value} (is the key that sealed it among previous_encryption_keys?)"
                );
            }
            if report.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// `switchboard docs`: writes the guides generated from the specs.
fn docs(config: &Config, out: &Path) -> Result<String, String> {
    // The specs as written: operator overrides do not belong in the docs.
    let report = Registry::load_dir(&config.specs_dir, &Default::default());
    if let Some(d) = report.diagnostics.first() {
        return Err(format!(
            "the specs have problems; fix them first (switchboard validate): {d}"
        ));
    }
    let registry = report.registry;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("providers.md", crate::guide::providers(&registry))?;
    write("tools.md", crate::guide::tools(&registry))?;
    Ok(format!(
        "wrote {0}/providers.md and {0}/tools.md\n",
        out.display()
    ))
}

/// `switchboard test`: runs contract test files; each file's specs are the
/// folder its `tests/` folder sits in (or the configured specs directory).
fn test(config: &Config, paths: &[PathBuf]) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![config.specs_dir.clone()]
    } else {
        paths.to_vec()
    };
    let files = match crate::contract::test_files(&paths) {
        Ok(f) => f,
        Err(e) => return fail(&format!("cannot read the test files: {e}")),
    };
    let mut registries: std::collections::BTreeMap<PathBuf, Registry> = Default::default();
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let specs = file
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == "tests"))
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.specs_dir.clone());
        let registry = registries.entry(specs.clone()).or_insert_with(|| {
            // Specs are tested as written: operator overrides do not apply.
            let report = Registry::load_dir(&specs, &Default::default());
            for d in &report.diagnostics {
                println!("{d}");
            }
            report.registry
        });
        let report = crate::contract::run_file(file, registry);
        print!("{}", crate::contract::describe(&report));
        passed += report.passed();
        failed += report.failed();
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        if passed == 0 && failed == 0 {
            eprintln!("no test cases found");
        }
        ExitCode::FAILURE
    }
}

fn read_problem(path: &Path, e: &std::io::Error) -> crate::spec::Diagnostic {
    crate::spec::Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    }
}

/// Loads the configured registry. Problems in some files are printed as
/// warnings and the other providers stay usable, as in the server.
fn registry(config: &Config) -> Result<Registry, String> {
    let report = Registry::load_dir(&config.specs_dir, &config.provider_overrides);
    for d in &report.diagnostics {
        eprintln!("warning: {d}");
    }
    if report.files.is_empty() && !report.diagnostics.is_empty() {
        return Err(format!(
            "no provider specs could be read from {}",
            config.specs_dir.display()
        ));
    }
    Ok(report.registry)
}

fn render(config: &Config, args: &RenderArgs) -> Result<String, String> {
    let RenderArgs {
        tool: tool_id,
        params,
        connection_config,
        account_config,
        credentials,
        auth_type,
    } = args;
    let registry = registry(config)?;
    let (provider, tool) = registry
        .tool(tool_id)
        .ok_or_else(|| format!("unknown tool `{tool_id}` (expected provider.tool)"))?;
    let params: Value = parse_json("--params", params)?;
    let connection_config = connection_config
        .as_deref()
        .map(|s| parse_object("--connection-config", s))
        .transpose()?
        .unwrap_or_default();
    let connection_config = provider.with_config_defaults(&connection_config);
    let account_config = account_config
        .as_deref()
        .map(|s| parse_object("--account-config", s))
        .transpose()?;
    // Without real credentials, placeholders show where they would go; they
    // are redacted in the output either way.
    let auth = match auth_type {
        None => provider.auth(),
        Some(t) => provider.auth_for(t).ok_or_else(|| {
            format!(
                "provider `{}` has no auth type `{t}` (auth types: {})",
                provider.key,
                provider.auth_types().join(", ")
            )
        })?,
    };
    let credentials = match credentials {
        Some(s) => parse_object("--credentials", s)?,
        None => auth
            .credential_fields
            .keys()
            .map(|k| (k.clone(), json!("placeholder")))
            .collect(),
    };
    let ctx = CallContext {
        connection_config: Some(&connection_config),
        account_config: account_config.as_ref(),
        credentials: Some(&credentials),
        auth: Some(auth),
        credentials_origin: None,
    };
    let request = engine::render(provider, tool, &params, &ctx).map_err(|e| {
        let details = if e.details.is_empty() {
            String::new()
        } else {
            format!(
                "\n{}",
                serde_json::to_string_pretty(&e.details).unwrap_or_default()
            )
        };
        format!("{e}{details}")
    })?;
    Ok(request.to_string())
}

fn tools(config: &Config, provider: Option<&str>, format: &str) -> Result<String, String> {
    let format: Format = format.parse()?;
    let registry = registry(config)?;
    if let Some(p) = provider
        && registry.provider(p).is_none()
    {
        return Err(format!("unknown provider `{p}`"));
    }
    let data = catalog::catalog(&registry, provider, format);
    let page = json!({"data": data, "next_cursor": null});
    Ok(serde_json::to_string_pretty(&page).unwrap_or_default() + "\n")
}

fn parse_json(flag: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{flag} is not valid JSON: {e}"))
}

fn parse_object(flag: &str, text: &str) -> Result<Map<String, Value>, String> {
    match parse_json(flag, text)? {
        Value::Object(map) => Ok(map),
        _ => Err(format!("{flag} must be a JSON object")),
    }
}
