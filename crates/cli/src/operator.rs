//! What several subcommands share: the `--db` option, opening an installed database, and the
//! operator identity the command line acts as.

use std::sync::Arc;

use anyhow::{Context, bail};
use armstrace_core::Actor;
use armstrace_store::Store;

/// The setting naming the user the command line acts as.
pub const OPERATOR_SETTING: &str = "operator_username";

/// The database option shared by every subcommand that uses one.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// SQLite file (or sqlite: URL) of the installation.
    #[arg(long, env = "ARMSTRACE_DB", default_value = "armstrace.db")]
    pub db: String,
}

/// Opens an initialised installation, or says how to create one.
pub async fn open_installed(db: &str) -> anyhow::Result<Arc<dyn Store>> {
    if !armstrace_store::exists(db) {
        bail!("no database at '{db}'; create one with `armstrace init --db {db}`");
    }
    let store = armstrace_store::open(db, false)
        .await
        .with_context(|| format!("opening the database '{db}'"))?;
    if !store.is_initialised().await? {
        bail!("'{db}' is not an initialised Armstrace database; create one with `armstrace init`");
    }
    Ok(store)
}

/// The actor the command line acts as: `username`, or the administrator `init` created.
pub async fn operator(store: &dyn Store, username: Option<&str>) -> anyhow::Result<Actor> {
    let username = match username {
        Some(name) => name.to_string(),
        None => store
            .setting(OPERATOR_SETTING)
            .await?
            .context("the database names no operator; pass --as USERNAME")?,
    };
    store
        .actor_for_user(&username)
        .await?
        .with_context(|| format!("no user named '{username}'"))
}
