//! Building the `/bin/sh -c` scripts that start an agent.
//!
//! Every script starts with `exec` so the agent replaces the shell: signals from the runner
//! (deadline kill) reach the agent directly, and its exit code is the container's. Fixed
//! flags are written literally; every configured value goes through [`shell::quote`].

use super::shell;
use super::{AgentCommand, CommandSpec};

/// A script under construction: `exec <program> <args…>`.
pub(super) struct Script {
    text: String,
}

impl Script {
    /// Starts `exec <program>`, where the program is the spec's override (split into words,
    /// each quoted) or `default` written literally.
    pub(super) fn exec(default: &str, spec: &CommandSpec) -> Result<Script, String> {
        let words = match spec.program.as_deref() {
            Some(program) => shell::split(program)
                .map_err(|e| format!("the configured program {program:?} is not valid: {e}"))?,
            None => Vec::new(),
        };
        if words.is_empty() {
            Ok(Script {
                text: format!("exec {default}"),
            })
        } else {
            Ok(Script::exec_words(&words))
        }
    }

    /// Starts `exec` followed by the given words, each quoted.
    pub(super) fn exec_words(words: &[String]) -> Script {
        Script {
            text: format!("exec {}", shell::quote_all(words)),
        }
    }

    /// Appends fixed text (flags bosun itself chose), separated by a space.
    pub(super) fn raw(mut self, text: &str) -> Script {
        self.text.push(' ');
        self.text.push_str(text);
        self
    }

    /// Appends `flag 'value'` when the value is set.
    pub(super) fn opt(self, flag: &str, value: Option<&str>) -> Script {
        match value {
            Some(v) => self.raw(flag).raw(&shell::quote(v)),
            None => self,
        }
    }

    /// Appends the configured extra arguments, each as one quoted word.
    pub(super) fn extra(self, spec: &CommandSpec) -> Script {
        if spec.extra_args.is_empty() {
            self
        } else {
            let args = shell::quote_all(&spec.extra_args);
            self.raw(&args)
        }
    }

    pub(super) fn build(self, env: &[(&str, &str)]) -> AgentCommand {
        AgentCommand {
            script: self.text,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// A script that only explains, on stderr, why the agent cannot start, and fails.
///
/// `command()` cannot return an error (config was validated long before), so a bad program
/// still yields a script; running it fails fast and the message lands in the run's error.
pub(super) fn refusal(message: &str) -> AgentCommand {
    let text = format!("bosun: {message}");
    AgentCommand {
        // `exec` keeps the "every script starts with exec" rule; 64 is EX_USAGE.
        script: format!(
            "exec /bin/sh -c 'printf \"%s\\n\" \"$1\" >&2; exit 64' bosun {} < \"$BOSUN_PROMPT_FILE\"",
            shell::quote(&text)
        ),
        env: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn default_program_is_literal() {
        let s = Script::exec("claude", &CommandSpec::default()).unwrap();
        assert_eq!(s.build(&[]).script, "exec claude");
    }

    #[test]
    fn override_is_split_and_quoted() {
        let spec = CommandSpec {
            program: Some("npx -y '@openai/codex'".into()),
            ..CommandSpec::default()
        };
        let s = Script::exec("codex", &spec).unwrap();
        assert_eq!(s.build(&[]).script, "exec 'npx' '-y' '@openai/codex'");
    }

    #[test]
    fn blank_override_falls_back_to_default() {
        let spec = CommandSpec {
            program: Some("  ".into()),
            ..CommandSpec::default()
        };
        let s = Script::exec("gemini", &spec).unwrap();
        assert_eq!(s.build(&[]).script, "exec gemini");
    }

    #[test]
    fn bad_override_is_an_error() {
        let spec = CommandSpec {
            program: Some("claude 'oops".into()),
            ..CommandSpec::default()
        };
        let err = Script::exec("claude", &spec).err().unwrap();
        assert!(err.contains("not closed"), "{err}");
    }

    #[test]
    fn refusal_prints_its_message_and_fails() {
        let cmd = refusal("no program configured; it's required");
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd.script)
            .env("BOSUN_PROMPT_FILE", "/dev/null")
            .output()
            .expect("run /bin/sh");
        assert_eq!(out.status.code(), Some(64));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "bosun: no program configured; it's required\n"
        );
    }
}
