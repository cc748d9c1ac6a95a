//! The registry in force, and hot reload of the specs directory.
//!
//! [`Specs`] holds the current [`Registry`] behind an `ArcSwap`: a request
//! takes an `Arc` of it once and keeps it to the end, while a reload builds a
//! whole new registry and swaps it in. A file that fails to load never
//! replaces a good one: its provider stays as last loaded (and its problems
//! are shown on `/readyz` and counted in metrics). A deleted file removes its
//! provider.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::{Overrides, Registry};
use crate::metrics::Metrics;
use crate::spec::Diagnostic;

/// How long file events are collected before one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The specs in force.
pub struct Specs {
    dir: PathBuf,
    overrides: Overrides,
    /// Names, sizes and modification times of the files last loaded.
    fingerprint: std::sync::Mutex<Option<Fingerprint>>,
    registry: ArcSwap<Registry>,
    status: ArcSwap<SpecStatus>,
    generation: AtomicU64,
    metrics: Metrics,
}

/// What the last load found.
#[derive(Debug, Clone, Default)]
pub struct SpecStatus {
    /// Problems of the files as they are on disk now.
    pub problems: Vec<Diagnostic>,
    /// Whether the directory could be read at the last load.
    pub readable: bool,
    /// Counts loads: 1 after the first, +1 per reload.
    pub generation: u64,
}

/// How a reload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Every file loaded.
    Success,
    /// Some files have problems; their last good versions stay in force.
    Partial,
    /// The directory could not be read; nothing changed.
    Failure,
}

impl ReloadOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Success => "success",
            ReloadOutcome::Partial => "partial",
            ReloadOutcome::Failure => "failure",
        }
    }
}

impl std::fmt::Debug for Specs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Specs")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Specs {
    /// Loads `dir` for the first time.
    pub fn load(dir: &Path, overrides: Overrides, metrics: Metrics) -> Specs {
        let specs = Specs {
            dir: dir.to_path_buf(),
            overrides,
            fingerprint: std::sync::Mutex::new(None),
            registry: ArcSwap::from_pointee(Registry::default()),
            status: ArcSwap::from_pointee(SpecStatus::default()),
            generation: AtomicU64::new(0),
            metrics,
        };
        specs.reload();
        specs
    }

    /// The registry in force; hold the `Arc` for the whole request.
    pub fn current(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    pub fn status(&self) -> Arc<SpecStatus> {
        self.status.load_full()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reloads if a spec file was added, removed or changed since the last
    /// load. File events also come from merely reading files (as a reload
    /// does), so events alone are not proof of a change.
    pub fn reload_if_changed(&self) -> Option<ReloadOutcome> {
        let now = fingerprint(&self.dir);
        let mut last = self.fingerprint.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref() == Some(&now) {
            return None;
        }
        *last = Some(now);
        drop(last);
        Some(self.reload())
    }

    /// Reads the directory again and swaps in the result (see module docs).
    pub fn reload(&self) -> ReloadOutcome {
        *self.fingerprint.lock().unwrap_or_else(|e| e.into_inner()) = Some(fingerprint(&self.dir));
        let report = Registry::load_dir(&self.dir, &self.overrides);
        let unreadable = report.files.is_empty() && !report.diagnostics.is_empty();
        let outcome = if unreadable {
            ReloadOutcome::Failure
        } else if report.diagnostics.is_empty() {
            ReloadOutcome::Success
        } else {
            ReloadOutcome::Partial
        };
        if outcome != ReloadOutcome::Failure {
            let previous = self.registry.load();
            let broken: BTreeSet<&Path> = report
                .diagnostics
                .iter()
                .map(|d| d.file.as_path())
                .collect();
            let mut providers: Vec<_> = report.registry.providers().cloned().collect();
            for old in previous.providers() {
                let replaced = providers.iter().any(|p| p.key == old.key);
                if broken.contains(old.file.as_path()) && !replaced {
                    providers.push(old.clone());
                }
            }
            let registry = Registry::from_providers(providers);
            self.metrics
                .providers_loaded
                .set(registry.providers().count() as i64);
            self.metrics.tools_loaded.set(registry.tool_count() as i64);
            self.registry.store(Arc::new(registry));
        }
        for d in &report.diagnostics {
            tracing::warn!(problem = %d, "spec problem");
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics
            .spec_problems
            .set(report.diagnostics.len() as i64);
        self.metrics
            .reloads
            .with_label_values(&[outcome.as_str()])
            .inc();
        self.status.store(Arc::new(SpecStatus {
            problems: report.diagnostics,
            readable: outcome != ReloadOutcome::Failure,
            generation,
        }));
        outcome
    }

    /// Watches the directory and reloads after changes settle. Dropping the
    /// returned watcher stops watching.
    pub fn watch(self: &Arc<Self>) -> Result<SpecWatcher, notify::Error> {
        let specs = Arc::clone(self);
        let mut debouncer =
            new_debouncer(DEBOUNCE, move |events: DebounceEventResult| match events {
                Ok(events) if !events.is_empty() => {
                    let Some(outcome) = specs.reload_if_changed() else {
                        return;
                    };
                    let current = specs.current();
                    tracing::info!(
                        outcome = outcome.as_str(),
                        providers = current.providers().count(),
                        tools = current.tool_count(),
                        "specs reloaded"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "watching the specs directory failed"),
            })?;
        debouncer
            .watcher()
            .watch(&self.dir, notify::RecursiveMode::NonRecursive)?;
        Ok(SpecWatcher {
            _debouncer: debouncer,
        })
    }
}

/// What identifies the state of a specs directory without reading the files.
type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

/// The spec files and the logo files beside them: a changed logo reloads too.
fn fingerprint(dir: &Path) -> Fingerprint {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Fingerprint = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|f| {
            f.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "svg" | "png"))
        })
        .filter_map(|f| {
            let meta = std::fs::metadata(&f).ok().filter(|m| m.is_file())?;
            let modified = meta.modified().ok();
            Some((f, meta.len(), modified))
        })
        .collect();
    files.sort();
    files
}

/// Keeps the specs directory watched while alive.
pub struct SpecWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}
