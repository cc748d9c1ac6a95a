//! Switchboard: a self-hosted integration gateway.
//!
//! Modules in the order data flows through one tool call: `config` →
//! `spec` (model, YAML, structure) → `registry` (compiled specs) → `template`
//! and `url_policy` (used while compiling and rendering) → `engine` (render,
//! map, paginate) → `catalog` (tools for apps and LLMs). `cli` is the command
//! line. See `ARCHITECTURE.md`.

pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contract;
pub mod engine;
pub mod error;
pub mod guide;
pub mod logging;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod spec;
pub mod store;
pub mod template;
pub mod upstream;
pub mod url_policy;
pub mod vault;
pub mod webhooks;

#[cfg(test)]
mod layering {
    //! Lower modules never import higher ones (ARCHITECTURE.md's code map).

    use std::path::Path;

    /// Each module, and the modules it must never import.
    const FORBIDDEN: &[(&str, &[&str])] = &[
        ("engine", &["api", "auth", "server", "store", "upstream"]),
        ("upstream", &["api", "auth", "server"]),
        ("auth", &["api", "server"]),
    ];

    #[test]
    fn lower_modules_never_import_higher_ones() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for (module, forbidden) in FORBIDDEN {
            let mut files = vec![src.join(format!("{module}.rs"))];
            let mut dirs = vec![src.join(module)];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs") {
                        files.push(path);
                    }
                }
            }
            for file in files.iter().filter(|f| f.exists()) {
                let text = std::fs::read_to_string(file).unwrap();
                for higher in *forbidden {
                    assert!(
                        !text.contains(&format!("crate::{higher}::"))
                            && !text.contains(&format!("crate::{higher};")),
                        "{} imports `crate::{higher}`, a module above `{module}`",
                        file.display()
                    );
                }
            }
        }
    }
}
