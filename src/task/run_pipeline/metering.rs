//! An attempt through the metering proxy: one metered run (one budget) for the implementer,
//! its reviewers and the router; each agent gets the proxy's address and the run's token in
//! place of its model key; usage and cost come from what the proxy counted; a run that spends
//! its budget ends for a person, with its partial work pushed.

use super::*;
use crate::meter::{Provider, RunId, Spent, BUDGET_SPENT};
use crate::run::agent::AdapterKind;

/// The attempt's metered run.
pub(super) struct Metered {
    pub run: RunId,
    pub token: Secret,
    /// What the proxy had counted when usage was last read, so each read gives what is new.
    pub seen: Spent,
}

impl Pipeline<'_> {
    /// Registers the attempt with the proxy (once), with the server's per-task budget.
    pub(super) fn start_metering(&self) -> Option<Secret> {
        let meter = self.runner.meter.as_ref()?;
        let mut metered = crate::locks::lock(&self.metered);
        if let Some(m) = metered.as_ref() {
            return Some(m.token.clone());
        }
        let budget = crate::run::meter_host::budget(&self.limits());
        let (run, token) = meter.proxy.register_run(budget);
        *metered = Some(Metered {
            run,
            token: token.clone(),
            seen: Spent::default(),
        });
        Some(token)
    }

    /// Ends the metered run: its token stops working.
    pub(super) fn end_metering(&self) {
        if let (Some(meter), Some(m)) = (
            self.runner.meter.as_ref(),
            crate::locks::lock(&self.metered).take(),
        ) {
            if let Some(spent) = meter.proxy.forget_run(m.run) {
                tracing::info!(
                    calls = spent.calls,
                    micro_usd = spent.micro_usd,
                    refused = spent.refused,
                    "metered run ended"
                );
            }
        }
    }

    /// `env` for an agent of `adapter`, metered: the keys the proxy holds are taken out, and
    /// the proxy's address and the run's token put in. Unchanged without a meter, or for an
    /// adapter the proxy does not front.
    pub(super) fn metered_env(
        &self,
        adapter: AdapterKind,
        mut env: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let Some(meter) = self.runner.meter.as_ref() else {
            return env;
        };
        env.retain(|(name, _)| !meter.key_envs.contains(name));
        let Some(token) = self.start_metering() else {
            return env;
        };
        match adapter {
            AdapterKind::Claude if meter.has_anthropic => {
                env.push((
                    "ANTHROPIC_BASE_URL".into(),
                    meter.base_url(Provider::Anthropic),
                ));
                env.push(("ANTHROPIC_API_KEY".into(), token.expose().to_string()));
            }
            AdapterKind::Codex => {
                env.push(("BOSUN_MODEL_TOKEN".into(), token.expose().to_string()));
            }
            _ => {}
        }
        env
    }

    /// Codex's command-line flags that point it at the proxy (its provider table has no
    /// environment variable for the base URL).
    pub(super) fn metered_args(&self, adapter: AdapterKind) -> Vec<String> {
        match (self.runner.meter.as_ref(), adapter) {
            (Some(meter), AdapterKind::Codex) => vec![
                "-c".into(),
                "model_provider=bosun".into(),
                "-c".into(),
                format!(
                    "model_providers.bosun={{name=\"bosun\",base_url=\"{}\",env_key=\"BOSUN_MODEL_TOKEN\",wire_api=\"responses\"}}",
                    meter.base_url(Provider::OpenAi)
                ),
            ],
            _ => Vec::new(),
        }
    }

    /// What the proxy counted since the last read, as the run's usage; `None` without a meter.
    pub(super) fn metered_usage(&self) -> Option<RunUsage> {
        let meter = self.runner.meter.as_ref()?;
        let mut metered = crate::locks::lock(&self.metered);
        let m = metered.as_mut()?;
        let now = meter.proxy.spent(m.run)?;
        let usage = usage_since(&m.seen, &now);
        m.seen = now;
        Some(usage)
    }

    /// A reader of what the proxy counted since the last [`Pipeline::metered_usage`], for the
    /// ticker that shows a round's cost while it runs; `None` when the attempt is not metered.
    pub(super) fn live_meter(&self) -> Option<LiveMeter> {
        let host = self.runner.meter.clone()?;
        let metered = crate::locks::lock(&self.metered);
        let m = metered.as_ref()?;
        Some(LiveMeter {
            host,
            run: m.run,
            seen: m.seen,
        })
    }

    /// The network metered agents join.
    pub(super) fn agent_network(&self) -> Option<String> {
        self.runner.meter.as_ref().and_then(|m| m.network.clone())
    }

    /// The run spent its budget mid-round: the work so far is committed and pushed to the
    /// task branch (no pull request), and a person decides.
    pub(super) async fn keep_partial(
        &self,
        ws: &Workspace,
        title: &str,
        redactor: &Redactor,
        token: Secret,
        why: &str,
    ) -> Step {
        let snap = match self.snapshot(ws, redactor).await {
            Ok(snap) => snap,
            Err(step) => return step,
        };
        if snap.is_empty() {
            return Step::Finish(TaskStatus::NeedsReview, reply::budget_spent(None, why));
        }
        let message = reply::commit_message(
            self.task.issue.0,
            title,
            "Partial work: the run's budget was spent.",
        );
        match self
            .commit_and_push(ws, snap.tree, &message, token, PushMode::Replace)
            .await
        {
            Ok(_) => Step::Finish(
                TaskStatus::NeedsReview,
                reply::budget_spent(Some(&ws.branch), why),
            ),
            Err(step) => step,
        }
    }
}

/// What the proxy counted for a run from a given point on, readable from a spawned task.
pub(super) struct LiveMeter {
    host: std::sync::Arc<crate::run::meter_host::MeterHost>,
    run: RunId,
    seen: Spent,
}

impl LiveMeter {
    pub fn usage(&self) -> Option<RunUsage> {
        let now = self.host.proxy.spent(self.run)?;
        Some(usage_since(&self.seen, &now))
    }
}

/// The usage between two readings of a run's count (cache tokens count as input, as the
/// agents' own reports do).
fn usage_since(seen: &Spent, now: &Spent) -> RunUsage {
    let input = |s: &Spent| s.input_tokens + s.cache_read_tokens + s.cache_write_tokens;
    RunUsage {
        input_tokens: input(now).saturating_sub(input(seen)),
        output_tokens: now.output_tokens.saturating_sub(seen.output_tokens),
        cost_micro_usd: Some(now.micro_usd.saturating_sub(seen.micro_usd)),
    }
}

/// Whether an agent's error is the proxy refusing a call for the budget.
pub(super) fn budget_spent(error: &str) -> bool {
    error.contains(BUDGET_SPENT)
}
