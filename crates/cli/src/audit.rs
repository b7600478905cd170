//! `armstrace audit verify`: walks the hash chain of the audit trail and names the first entry
//! that was altered, removed or reordered.

use anyhow::bail;
use armstrace_store::audit::verify_chain;

use crate::operator::{DbArgs, open_installed};

/// Options of `armstrace audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify the audit trail's hash chain from its first entry to its last.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// A head printed by an earlier verify and kept outside the database: the chain must
        /// still hold that entry, which shows that no entries were cut from the end since.
        #[arg(long)]
        head: Option<String>,
    },
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let AuditCommand::Verify { db, head } = args.command;
    let store = open_installed(&db.db).await?;
    let report = verify_chain(store.audit_chain(), head.as_deref()).await?;
    if let Some(broken) = report.broken {
        bail!(
            "audit chain broken: {broken} ({} entries before it verified)",
            report.entries
        );
    }
    if report.recorded_head_found == Some(false) {
        bail!(
            "the recorded head {} is not in the audit chain, which ends at {} after {} entries: entries were cut from the end (or the head was copied wrong)",
            head.unwrap_or_default(),
            report.head,
            report.entries
        );
    }
    println!("head: {}", report.head);
    println!("audit chain intact: {} entries", report.entries);
    Ok(())
}
