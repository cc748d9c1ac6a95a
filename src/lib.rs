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
