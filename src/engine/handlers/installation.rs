//! The installation job: what installing the App, adding or removing repositories, and
//! suspending or uninstalling it mean for bosun.
//!
//! - **Repositories added** (the App installed, or repositories added to it): the trigger
//!   label and the plan label are made in each, with a colour and a description, named as the
//!   repository's `.github/bosun.yml` names them, so people find them in GitHub's label menu.
//!   Labels that exist are left as they are. A broken configuration makes none (the next
//!   trigger's comment says what is wrong with it).
//! - **The App suspended or uninstalled, or repositories removed from it**: bosun can no longer
//!   act there. Their running and queued tasks are cancelled with an `app_removed` event
//!   (recorded here only: GitHub no longer takes the App's writes there, so nothing is posted),
//!   their runs stop as for `@bosun stop`, and the installation's token and the repositories'
//!   cached settings and permissions are forgotten.

use std::collections::BTreeSet;

use crate::db::{Fence, RecordError};
use crate::engine::context::Ctx;
use crate::github::client::GitHubError;
use crate::github::labels::NewLabel;
use crate::job_error::JobError;
use bosun_core::ids::RepoId;
use bosun_core::job::{InstallationChange, InstallationRequest, InstalledRepo};
use bosun_core::model::TaskEvent;

pub async fn handle_installation(
    ctx: &Ctx,
    req: &InstallationRequest,
    fence: Fence,
) -> Result<(), JobError> {
    match &req.change {
        InstallationChange::ReposAdded { repos } => {
            for repo in repos {
                label_repo(ctx, req, repo).await?;
            }
            Ok(())
        }
        InstallationChange::Removed { repos, why } => {
            let gone = ctx
                .db
                .active_tasks_of_installation(req.installation)
                .await?;
            for task in gone
                .iter()
                .filter(|t| repos.as_ref().is_none_or(|ids| ids.contains(&t.repo_id)))
            {
                let event = TaskEvent::AppRemoved {
                    by: req.by.clone(),
                    why: *why,
                };
                match ctx.db.record(task.id, &event, Some(fence), &[]).await {
                    Ok(_) => {
                        tracing::info!(task = %task.id, repo = %task.repo, why = why.as_str(), "task cancelled: the App can no longer act there")
                    }
                    // It ended meanwhile.
                    Err(RecordError::Invalid(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // The repositories named, or (the whole installation) those its tasks were in.
            let forgotten: BTreeSet<RepoId> = match repos {
                Some(ids) => ids.iter().copied().collect(),
                None => gone.iter().map(|t| t.repo_id).collect(),
            };
            for id in forgotten {
                ctx.repo_configs.forget(id);
                ctx.permissions.forget_repo(id);
            }
            if repos.is_none() {
                ctx.github
                    .installation(req.installation)
                    .invalidate_token()
                    .await;
            }
            Ok(())
        }
    }
}

/// Makes the repository's trigger and plan labels, as its configuration names them. An
/// installation or repository that is gone again, or that the App may not write labels in,
/// is passed over with a warning: retrying cannot help.
async fn label_repo(
    ctx: &Ctx,
    req: &InstallationRequest,
    added: &InstalledRepo,
) -> Result<(), JobError> {
    match make_labels(ctx, req, added).await {
        Err(
            e @ (GitHubError::NotFound { .. }
            | GitHubError::Forbidden { .. }
            | GitHubError::Unauthorized { .. }),
        ) => {
            tracing::warn!(repo = %added.repo, error = %e, "no labels made: the App cannot act there (any more)");
            Ok(())
        }
        other => Ok(other?),
    }
}

async fn make_labels(
    ctx: &Ctx,
    req: &InstallationRequest,
    added: &InstalledRepo,
) -> Result<(), GitHubError> {
    let client = ctx.github.installation(req.installation);
    // Read afresh: the App may have been removed and installed again since it was cached.
    ctx.repo_configs.forget(added.id);
    let config = match ctx.repo_configs.get(&client, &added.repo, added.id).await? {
        Ok(config) => config,
        Err(problem) => {
            tracing::warn!(repo = %added.repo, problem = %problem.message, "the repository's configuration is broken: no labels made");
            return Ok(());
        }
    };
    for label in crate::reply::setup_labels(&config.trigger_label, &config.label_prefix) {
        let made = client
            .ensure_label(
                &added.repo,
                &NewLabel {
                    name: &label.name,
                    color: label.color,
                    description: label.description,
                },
            )
            .await?;
        if made {
            tracing::info!(repo = %added.repo, label = %label.name, "label made");
        }
    }
    Ok(())
}
