//! The notice of a given-up job: one comment on its issue or pull request saying bosun could
//! not act on what someone asked, because GitHub kept failing. The job is retried for hours
//! (GitHub failing is why it exists); its marker keeps a retried notice from posting twice.

use crate::engine::context::Ctx;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::job::GaveUpNotice;

pub async fn handle_gave_up(ctx: &Ctx, notice: &GaveUpNotice) -> Result<(), JobError> {
    let installation = match notice.installation {
        Some(id) => id,
        None => ctx.github.repo_installation(&notice.repo).await?,
    };
    let client = ctx.github.installation(installation);
    let marker = reply::reply_marker(&format!("gave-up:{}", notice.job));
    let posted = async {
        if client
            .find_own_comment(&notice.repo, notice.issue, &marker)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let body = reply::gave_up_on(notice, &ctx.identity.handle);
        client
            .create_comment(&notice.repo, notice.issue, &body, &marker)
            .await
            .map(|_| ())
    };
    match posted.await {
        // The App was uninstalled, or the issue is gone: nobody is left to tell.
        Err(e) if e.is_not_found() => {
            tracing::warn!(error = %e, "gave-up notice dropped: not found on GitHub");
            Ok(())
        }
        other => other.map_err(JobError::from),
    }
}
