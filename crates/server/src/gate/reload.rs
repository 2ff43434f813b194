//! Policies change without a restart. The gate in force is one immutable [`Gate`] behind a
//! [`GateCell`]; a reload reads the policy files again (with the keys and trusted roots they
//! name), and if their digests differ from those in force, records the new versions on the
//! ledger (`policy.updated`), puts a new gate in place and decides every covered manifest
//! again, recording only what changed. Reloads come from SIGHUP, from `POST /api/v1/policies/reload`
//! and from polling the files every `[gate] watch_interval`.
//!
//! Fails closed: a file that does not load (half written by an editor, a syntax error, a
//! missing key) leaves the policies in force as they are, and the error is logged and answered.
//! Between the swap and the end of the re-evaluation, a read whose stored decision was made
//! under other policies is decided afresh (see `current_admission`): no read rests on a
//! decision the policies in force did not make.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use verify::keys::PrivateKey;
use verify::policy::PolicySet;

use super::{Gate, reevaluate_all};
use crate::App;
use crate::config::ConfigError;

/// The gate in force, replaced whole on a reload, and what outlives each version.
pub struct GateCell {
    current: RwLock<Arc<Gate>>,
    countersigner: PrivateKey,
    /// Decisions are made one at a time across versions: one computed under the previous
    /// gate is stored before the first one the re-evaluation makes under the new gate.
    pub(super) deciding: tokio::sync::Mutex<()>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl GateCell {
    pub fn new(gate: Gate, countersigner: PrivateKey) -> GateCell {
        GateCell {
            current: RwLock::new(Arc::new(gate)),
            countersigner,
            deciding: tokio::sync::Mutex::new(()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The gate in force.
    pub fn current(&self) -> Arc<Gate> {
        // A panic while the lock was held cannot leave an Arc half replaced.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn countersigner(&self) -> &PrivateKey {
        &self.countersigner
    }

    /// Puts `gate` in force at once. Decisions stored under the previous one are not made
    /// again here: until [`reevaluate_all`] has run, reads decide afresh (what [`reload`]
    /// does: this, then that).
    pub fn replace(&self, gate: Gate) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(gate);
    }
}

/// What a reload did.
#[derive(Debug, Serialize)]
pub struct Reloaded {
    /// Whether the policies changed (and so took effect).
    pub changed: bool,
    /// The policies in force afterwards.
    pub policies: Vec<PolicyInForce>,
    /// Manifests decided again (0 when nothing changed).
    pub evaluated: usize,
}

#[derive(Debug, Serialize)]
pub struct PolicyInForce {
    pub name: String,
    pub digest: String,
    pub mode: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("this registry enforces no policy files")]
    NoPolicyFiles,
    #[error("{0} (the policies in force are unchanged)")]
    Invalid(#[from] ConfigError),
    #[error("recording the new policies failed (the policies in force are unchanged): {0}")]
    Record(String),
    #[error("the new policies are in force, but deciding again failed: {0}")]
    Reevaluate(String),
}

fn in_force(set: &PolicySet) -> Vec<PolicyInForce> {
    set.policies()
        .iter()
        .map(|p| PolicyInForce {
            name: p.name().to_owned(),
            digest: p.digest().to_string(),
            mode: p.mode().as_str(),
        })
        .collect()
}

fn digests(set: &PolicySet) -> Vec<String> {
    set.policies()
        .iter()
        .map(|p| p.digest().to_string())
        .collect()
}

/// Reads the policy files again and, if they changed, puts them in force: recorded on the
/// ledger first (a policy that cannot be recorded is not put in force), then every covered
/// manifest decided again.
pub async fn reload(app: &Arc<App>) -> Result<Reloaded, ReloadError> {
    let Some(cell) = &app.gate else {
        return Err(ReloadError::NoPolicyFiles);
    };
    if app.config.policy_files.is_empty() {
        return Err(ReloadError::NoPolicyFiles);
    }
    let _one_at_a_time = cell.reloading.lock().await;
    let files = app.config.policy_files.clone();
    let loaded = tokio::task::spawn_blocking(move || crate::config::load_policies(&files))
        .await
        .map_err(|e| ConfigError::Invalid(format!("loading the policies failed: {e}")))??;
    let before = cell.current();
    let previous: Vec<(String, String)> = before
        .policies()
        .policies()
        .iter()
        .map(|p| (p.name().to_owned(), p.digest().to_string()))
        .collect();
    drop(before);
    if digests(&loaded) == previous.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>() {
        return Ok(Reloaded {
            changed: false,
            policies: in_force(&loaded),
            evaluated: 0,
        });
    }
    let policies = in_force(&loaded);
    // Recorded before they are in force: a decision may name only a recorded policy, and a
    // policy that cannot be recorded (a stopped ledger) is not put in force.
    let known = |d: &oci::Digest| previous.iter().any(|(_, p)| p == d.as_str());
    super::record_policies(app, &loaded, &known, &previous)
        .await
        .map_err(|e| ReloadError::Record(e.to_string()))?;
    // Preparing the trusted roots' verifiers parses their certificates.
    let gate = tokio::task::spawn_blocking(move || Gate::new(loaded))
        .await
        .map_err(|e| ConfigError::Invalid(format!("preparing the policies failed: {e}")))?;
    cell.replace(gate);
    // Should this fail, reads are still decided under the new policies (`current_admission`).
    let evaluated = reevaluate_all(app)
        .await
        .map_err(|e| ReloadError::Reevaluate(e.to_string()))?;
    tracing::info!(
        policies = ?policies.iter().map(|p| format!("{} {}", p.name, p.digest)).collect::<Vec<_>>(),
        evaluated,
        "policies reloaded"
    );
    Ok(Reloaded {
        changed: true,
        policies,
        evaluated,
    })
}

/// Reloads on SIGHUP, and every `interval` when there is one, until the task is aborted
/// (`vouch serve` runs it beside the server). An
/// error is logged once until it changes (a file being edited fails the same way each time).
/// Runs without a gate too: SIGHUP then says there is nothing to reload instead of ending the
/// process (its default action).
pub async fn watch(app: Arc<App>, interval: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; policies reload only by polling and the API");
            None
        }
    };
    let reloadable = app.gate.is_some() && !app.config.policy_files.is_empty();
    let mut ticks = interval.filter(|_| reloadable).map(|every| {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let mut last_error: Option<String> = None;
    loop {
        let asked = tokio::select! {
            got = async {
                match &mut hangup {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if got.is_none() {
                    hangup = None;
                    continue;
                }
                true
            }
            _ = async {
                match &mut ticks {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            } => false,
        };
        match reload(&app).await {
            Ok(r) => {
                if asked && !r.changed {
                    tracing::info!("SIGHUP: the policy files are unchanged");
                }
                last_error = None;
            }
            Err(ReloadError::NoPolicyFiles) => {
                tracing::info!("SIGHUP: this registry enforces no policy files; nothing to reload");
            }
            Err(e) => {
                let text = e.to_string();
                if asked || last_error.as_deref() != Some(&text) {
                    tracing::error!(error = %text, "reloading the policies failed");
                }
                last_error = Some(text);
            }
        }
    }
}
