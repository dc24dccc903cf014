//! `idlink retention …` and `idlink hold …` (issue 18 point 2): each kind of
//! record with its rule and the oldest kept, a purge run now (the same work
//! as the server's `retention` job), and the legal holds that stop it.

use crate::config::Config;
use crate::serve::{self, Runtime};
use anyhow::Result;
use clap::Subcommand;
use idlink_core::retention::{HoldError, Keep, Retention};
use idlink_domain::UserId;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Each kind of record: its rule, the oldest kept, and the holds in force.
    Status,
    /// Purge now what is past its rule (the server's `retention` job does it every `retention.purge_interval_hours`).
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Keep every record of a user until the hold is released (audited).
    Place {
        #[arg(long)]
        user: String,
        /// dispute, authority or litigation.
        #[arg(long)]
        reason: String,
        /// The dispute's or request's reference (no personal data).
        #[arg(long)]
        reference: String,
    },
    /// Release a hold (audited); the user's records are purged by their rules again.
    Release { id: String },
    /// The holds in force (and with --all the released ones).
    List {
        #[arg(long)]
        all: bool,
    },
}

fn keep_words(k: Keep) -> String {
    match k {
        Keep::Years(n) => format!("{n} years"),
        Keep::Months(n) => format!("{n} months"),
        Keep::Days(n) => format!("{n} days"),
        Keep::Hours(n) => format!("{n} hours"),
    }
}

pub async fn retention(config: &Config, rt: &Runtime, cmd: RetentionCommand) -> Result<ExitCode> {
    let store = serve::open_store(config).await?;
    let vault = std::sync::Arc::new(serve::open_vault(config, &store, rt).await?);
    let r = Retention {
        store: &store,
        audits: &store,
        clock: rt.clock.as_ref(),
        public_key: vault.signer().public_hex(),
        rules: crate::config::Retention::rules(config),
    };
    match cmd {
        RetentionCommand::Status => {
            for k in r.status().await? {
                let oldest = k.oldest.map_or_else(|| "none kept".to_owned(), |t| format!("oldest {t}"));
                let due = k.oldest_due.map(|t| format!(", due {t}")).unwrap_or_default();
                println!("{}\tkeep {} (`{}`, job {})\t{oldest}{due}", k.kind, keep_words(k.keep), k.setting, k.job);
            }
            let holds = r.holds().await?;
            for h in &holds.legal {
                println!("hold {}\tuser {}\t{} ({})\tplaced {} by {}", h.id, h.user_id, h.reason, h.reference, h.placed_at, h.placed_by);
            }
            for c in &holds.cases {
                println!("case hold\tuser {}\topen review case {} since {}", c.user_id, c.case_id, c.opened_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        RetentionCommand::Purge => {
            let job = serve::retention_job(config, store.clone(), vault.clone(), rt.clock.clone());
            let purged = job.purge().await?;
            println!(
                "purged: {} balance queries, {} sign-ins, {} credit-report files, {} audit periods",
                purged.query_log,
                purged.sign_ins,
                purged.credit_files,
                purged.audit.len()
            );
            for p in &purged.audit {
                println!(
                    "audit {}: records {} to {} ({} records); checkpoint {} kept",
                    p.period, p.first_seq, p.through_seq, p.records, p.through_seq
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn hold(config: &Config, rt: &Runtime, cmd: HoldCommand) -> Result<ExitCode> {
    let store = serve::open_store(config).await?;
    let r = Retention {
        store: &store,
        audits: &store,
        clock: rt.clock.as_ref(),
        public_key: String::new(),
        rules: crate::config::Retention::rules(config),
    };
    match cmd {
        HoldCommand::Place { user, reason, reference } => {
            let user = UserId::parse(&user)?;
            let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
            match r.place_hold(&ids, &user, &reason, &reference, "cli").await {
                Ok(h) => {
                    println!("{}", h.id);
                    eprintln!("placed: no purge removes {}'s records until `idlink hold release {}`", h.user_id, h.id);
                    Ok(ExitCode::SUCCESS)
                }
                Err(HoldError::Store(e)) => Err(e.into()),
                Err(refused) => {
                    eprintln!("error: {refused}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        HoldCommand::Release { id } => {
            if r.release_hold(id.trim(), "cli").await? {
                println!("released {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{id} is not a hold in force");
                Ok(ExitCode::from(1))
            }
        }
        HoldCommand::List { all } => {
            for h in idlink_core::ports::retention::RetentionStore::legal_holds(&store, all).await? {
                let state = h.released_at.map(|t| format!("released {t}")).unwrap_or_else(|| "in force".into());
                println!("{}\t{}\t{} ({})\tplaced {} by {}\t{state}", h.id, h.user_id, h.reason, h.reference, h.placed_at, h.placed_by);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
