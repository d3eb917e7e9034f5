//! The refresh-config job: a push to the default branch may have changed
//! `.github/bosun.yml`. The remembered copy is dropped and the file read again, so its
//! settings apply to the next trigger and its jobs are updated now. A broken file is only
//! logged here (no issue to comment on); the next trigger's comment says what is wrong.

use crate::engine::context::Ctx;
use crate::job_error::JobError;
use bosun_core::job::ConfigRefresh;

pub async fn handle_refresh_config(ctx: &Ctx, req: &ConfigRefresh) -> Result<(), JobError> {
    ctx.repo_configs.forget(req.repo_id);
    let client = ctx.github.installation(req.installation);
    match ctx
        .repo_configs
        .get(&client, &req.repo, req.repo_id)
        .await?
    {
        Ok(_) => tracing::info!("configuration read again"),
        Err(problem) => {
            tracing::warn!(problem = %problem.message, "the pushed configuration is broken")
        }
    }
    Ok(())
}
