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
        /// Also require the chain to end at this hash (a head recorded earlier, kept outside
        /// the database), which shows that no entries were cut from the end.
        #[arg(long)]
        head: Option<String>,
    },
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let AuditCommand::Verify { db, head } = args.command;
    let store = open_installed(&db.db).await?;
    let report = verify_chain(store.audit_chain()).await?;
    if let Some(broken) = report.broken {
        bail!(
            "audit chain broken: {broken} ({} entries before it verified)",
            report.entries
        );
    }
    if let Some(expected) = head {
        let expected = expected.trim().to_lowercase();
        if expected != report.head {
            // The recorded head must be an entry of the chain; if it is the last no more.
            bail!(
                "audit chain ends at {} after {} entries, not at the recorded head {expected}: entries were cut from the end or the head is wrong",
                report.head,
                report.entries
            );
        }
    }
    println!("head: {}", report.head);
    println!("audit chain intact: {} entries", report.entries);
    Ok(())
}
