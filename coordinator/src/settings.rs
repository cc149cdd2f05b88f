//! Configuration of the `ember-coordinator` process: defaults, then the
//! TOML file (`--config`), then `EMBER_COORDINATOR_*` variables and flags.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::budget::BudgetConfig;

/// Everything the coordinator is configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinatorSettings {
    /// gRPC listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Prometheus `/metrics` listen address (none: no metrics endpoint).
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token `SetBudget` requires (none: `SetBudget` is refused).
    pub admin_token: Option<String>,
    /// The budget.
    pub budget: BudgetConfig,
}

impl Default for CoordinatorSettings {
    fn default() -> Self {
        CoordinatorSettings {
            listen: ([127, 0, 0, 1], 7080).into(),
            metrics_listen: None,
            admin_token: None,
            budget: BudgetConfig::default(),
        }
    }
}

impl CoordinatorSettings {
    /// Reads a TOML file.
    pub fn load(path: &std::path::Path) -> Result<CoordinatorSettings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// As TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("settings serialize")
    }
}
