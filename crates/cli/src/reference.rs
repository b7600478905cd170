//! `armstrace reference`: the reference table in force (the shipped table with the
//! secretariat's changes) written out as the three text files it is made of, and such files
//! read back in as changes, each a new version of its entry, audited.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use armstrace_reference::{Canonicaliser, Entry, Kind, Table};
use armstrace_server::reference_table::may_change;
use armstrace_store::FirearmFilter;
use armstrace_store::audit::{AuditEvent, AuditWho};
use armstrace_store::reference::table_in_force;
use futures::TryStreamExt;

use crate::operator::{DbArgs, open_installed, operator};

/// The three files, in the order [`Table::parse`] reads them.
const FILES: [&str; 3] = ["makes.tsv", "calibres.tsv", "models.tsv"];

/// Options of `armstrace reference`.
#[derive(Debug, clap::Args)]
pub struct ReferenceArgs {
    #[command(subcommand)]
    command: ReferenceCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ReferenceCommand {
    /// Write the table in force as makes.tsv, calibres.tsv and models.tsv into a directory.
    Export {
        #[command(flatten)]
        db: DbArgs,
        /// The directory (created if missing; files in it are replaced).
        dir: PathBuf,
    },
    /// Read makes.tsv, calibres.tsv and models.tsv from a directory and store every entry
    /// that is new or differs as its next version. Nothing is stored if any file has an error
    /// or the files would bring a duplicate or contradiction into the table.
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// The directory holding the three files.
        dir: PathBuf,
        /// Act as this user (an administrator of the secretariat) instead of the operator.
        #[arg(long = "as")]
        as_user: Option<String>,
        /// Report what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Resolve every record's make, model and calibre again against the table in force (after
    /// the table changed, or for records stored before Armstrace resolved them). What was typed
    /// stays; a running `armstrace serve` groups makes by the new values from its next start.
    ResolveRecords {
        #[command(flatten)]
        db: DbArgs,
        /// Act as this user (an administrator of the secretariat) instead of the operator.
        #[arg(long = "as")]
        as_user: Option<String>,
    },
}

pub async fn run(args: ReferenceArgs) -> anyhow::Result<()> {
    match args.command {
        ReferenceCommand::Export { db, dir } => export(&db.db, &dir).await,
        ReferenceCommand::Import {
            db,
            dir,
            as_user,
            dry_run,
        } => import(&db.db, &dir, as_user.as_deref(), dry_run).await,
        ReferenceCommand::ResolveRecords { db, as_user } => {
            resolve_records(&db.db, as_user.as_deref()).await
        }
    }
}

/// Records whose canonical values changed, stored together.
const RESOLVE_BATCH: usize = 5000;

async fn resolve_records(db: &str, as_user: Option<&str>) -> anyhow::Result<()> {
    let store = open_installed(db).await?;
    let actor = operator(store.as_ref(), as_user).await?;
    may_change(&actor).map_err(|refused| anyhow::anyhow!("{refused}"))?;
    let by = AuditWho::from(&actor);
    let in_force = table_in_force(store.as_ref()).await?;
    let mut canonicaliser = Canonicaliser::new(in_force.resolver.clone());
    let filter = FirearmFilter {
        include_deleted: true,
        ..FirearmFilter::default()
    };
    let (mut read, mut changed) = (0_u64, 0_u64);
    let mut pending = Vec::new();
    let mut records = store.export(filter);
    while let Some(firearm) = records.try_next().await? {
        read += 1;
        let mut fields = firearm.fields;
        let before = fields.canonical.clone();
        canonicaliser.fill(&mut fields);
        if fields.canonical != before {
            pending.push((firearm.id, fields.canonical));
        }
        if pending.len() >= RESOLVE_BATCH {
            store.set_canonical(&by, &pending).await?;
            changed += pending.len() as u64;
            pending.clear();
            eprintln!("{read} records read, {changed} changed and stored");
        }
    }
    drop(records);
    if !pending.is_empty() {
        store.set_canonical(&by, &pending).await?;
        changed += pending.len() as u64;
    }
    println!("reference table: {}", canonicaliser.counts);
    println!("{read} records resolved again, {changed} changed");
    Ok(())
}

async fn export(db: &str, dir: &Path) -> anyhow::Result<()> {
    let store = open_installed(db).await?;
    let in_force = table_in_force(store.as_ref()).await?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in FILES.iter().zip(in_force.table().to_files()) {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let table = in_force.table();
    println!(
        "wrote {} makes, {} calibres and {} models ({} changes since shipped) to {}",
        table.makes.len(),
        table.calibres.len(),
        table.models.len(),
        in_force.changes.len(),
        dir.display()
    );
    Ok(())
}

async fn import(db: &str, dir: &Path, as_user: Option<&str>, dry_run: bool) -> anyhow::Result<()> {
    let mut texts = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        texts.push(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        );
    }
    let files = Table::parse(&texts[0], &texts[1], &texts[2])
        .with_context(|| format!("reading the reference files in {}", dir.display()))?;
    let store = open_installed(db).await?;
    let actor = operator(store.as_ref(), as_user).await?;
    may_change(&actor).map_err(|refused| anyhow::anyhow!("{refused}"))?;
    let in_force = table_in_force(store.as_ref()).await?;

    // Every entry of the files that is new or differs, each checked on its own, then the
    // table as it would stand checked as a whole.
    let keyed = |table: &Table| -> HashMap<(Kind, String), Entry> {
        table.entries().map(|e| ((e.kind(), e.key()), e)).collect()
    };
    let (in_files, current) = (keyed(&files), keyed(in_force.table()));
    let mut changed = Vec::new();
    let mut errors = Vec::new();
    let (mut added, mut corrected, mut unchanged) = (0, 0, 0);
    for entry in files.entries() {
        let current = current.get(&(entry.kind(), entry.key()));
        if current == Some(&entry) {
            unchanged += 1;
            continue;
        }
        if current.is_some() {
            corrected += 1;
        } else {
            added += 1;
        }
        for (field, reason) in entry.problems() {
            errors.push(format!(
                "{} '{}': {field}: {reason}",
                entry.kind().as_str(),
                entry.key()
            ));
        }
        changed.push(entry);
    }
    let before: std::collections::HashSet<String> =
        in_force.table().problems().into_iter().collect();
    let mut after = in_force.table().clone();
    for entry in &changed {
        after.apply(entry.clone());
    }
    errors.extend(after.problems().into_iter().filter(|p| !before.contains(p)));
    let missing = current
        .keys()
        .filter(|key| !in_files.contains_key(key))
        .count();
    if !errors.is_empty() {
        for error in &errors {
            eprintln!("{error}");
        }
        bail!(
            "{} problems in the files; nothing was changed. Correct them and import again",
            errors.len()
        );
    }
    if dry_run {
        println!(
            "would add {added}, correct {corrected}, leave {unchanged} unchanged (dry run: nothing changed)"
        );
    } else {
        for (done, entry) in changed.into_iter().enumerate() {
            let kind = entry.kind();
            let key = entry.key();
            let version = in_force.version(kind, &key);
            let event = AuditEvent::new(&actor, "reference.change")
                .target(format!("reference:{}:{key}", kind.as_str()))
                .detail(serde_json::json!({
                    "kind": kind,
                    "key": key,
                    "version": version + 1,
                    "entry": entry,
                    "from": "reference import",
                }));
            store
                .change_reference(event, &entry, version)
                .await
                .with_context(|| {
                    format!(
                        "storing {} '{key}' after {done} changes; those are kept, and importing \
                         the same files again completes the import",
                        kind.as_str()
                    )
                })?;
        }
        println!("added {added}, corrected {corrected}, unchanged {unchanged}");
    }
    if missing > 0 {
        println!(
            "{missing} entries in force are not in the files; entries are never removed, so they stay"
        );
    }
    println!("a running `armstrace serve` uses the changes from its next start");
    Ok(())
}
