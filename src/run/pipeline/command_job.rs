//! A scheduled job that runs a command (`run:` in a `jobs:` entry, `bosun job add --run`): the
//! command takes the coding agent's place, once, in the same sandbox and image on the same
//! checkout; its changes then go through the gates and end as a draft pull request like an
//! agent's. No router, no model, no reviewer: a command is not a judgement call.

use super::*;
use bosun_core::agent::shell;
use bosun_core::agent::AdapterKind;
use bosun_core::model::TaskState;
use bosun_core::repo_config::RepoConfig;

/// Runs the job's command (`$1`) and reports its end in the command adapter's line protocol;
/// everything the command prints shows as the run's log.
const RUNNER: &str = r#"sh -c "$1"
status=$?
if [ "$status" -eq 0 ]; then
  echo '{"type":"result","ok":true,"message":"The scheduled command ran and finished."}'
else
  echo "{\"type\":\"result\",\"ok\":false,\"message\":\"The scheduled command exited with status $status.\"}"
  exit "$status"
fi"#;

/// What the run's agent column says.
pub(super) const COMMAND_AGENT: &str = "scheduled-command";

impl Pipeline<'_> {
    /// The command of the scheduled job that started this attempt, if it is a command job
    /// (and still exists: a job removed since its tick leaves the issue to an agent).
    pub(super) async fn scheduled_command(
        &self,
        state: &TaskState,
    ) -> Result<Option<String>, Step> {
        let Some(name) = &state.schedule else {
            return Ok(None);
        };
        let row = self.ctx.db.schedule(name).await.map_err(JobError::from)?;
        Ok(row.and_then(|r| r.command))
    }
}

/// The agent that runs `command`: the repository's agent's image, sandbox and deadlines, with
/// the command in place of the CLI, one round, and none of the agent's environment (a command
/// needs no model key).
pub(super) fn command_agent(
    server: &crate::config::run::RunConfig,
    config: &RepoConfig,
    command: &str,
) -> Result<Resolved, String> {
    let mut resolved = server.resolve(config, config.agent.complexity)?;
    resolved.agent_name = COMMAND_AGENT.to_string();
    resolved.adapter = AdapterKind::Command;
    resolved.agent.adapter = AdapterKind::Command.name().to_string();
    resolved.agent.program = Some(shell::quote_all(&[
        "sh",
        "-c",
        RUNNER,
        "bosun-job",
        command,
    ]));
    resolved.agent.env = Vec::new();
    resolved.agent.args = Vec::new();
    resolved.agent.max_turns = None;
    resolved.model = None;
    resolved.rounds = 1;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_one_quoted_word_and_the_agent_carries_nothing_of_its_own() {
        let server = crate::config::run::RunConfig::default();
        let r =
            command_agent(&server, &RepoConfig::default(), "echo 'it''s' > x && cat x").unwrap();
        assert_eq!(r.adapter, AdapterKind::Command);
        assert_eq!(r.rounds, 1);
        assert!(r.agent.env.is_empty());
        assert_eq!(r.agent.image, server.agents["claude"].image);
        let words = shell::split(r.agent.program.as_deref().unwrap()).unwrap();
        assert_eq!(words.len(), 5);
        assert_eq!(words[2], RUNNER);
        assert_eq!(words[4], "echo 'it''s' > x && cat x");
    }
}
