//! Trigger rules, pure: which webhook events might start, steer or stop work. What needs the
//! API (the sender's permission, the repository's config) is decided later, in the trigger job.

use crate::command::{new_commands, parse_commands, Command};
use crate::github::events::{Actor, Event, IssueContext};
use crate::github::ids::{CommentId, DeliveryId, InstallationId, IssueNumber, RepoId, RepoRef};
use serde::{Deserialize, Serialize};

/// Who bosun is on GitHub, learned from `GET /app` at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// What people write after `@` to call bosun (the App's slug unless overridden).
    pub handle: String,
    /// The login of the App's bot user, `<slug>[bot]`.
    pub bot_login: String,
}

/// A possible trigger, queued for the trigger job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRequest {
    pub delivery: DeliveryId,
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub issue: IssueNumber,
    pub issue_title: String,
    /// The body and author as they were when the trigger came: the prompt is built from
    /// this, so an edit after a maintainer's trigger cannot change what the agent is told.
    #[serde(default)]
    pub issue_body: String,
    #[serde(default)]
    pub issue_author: String,
    pub sender: Actor,
    pub what: TriggerWhat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TriggerWhat {
    /// A label was put on the issue; the job compares it with the repo's trigger label.
    Label { name: String },
    /// Commands from an @mention, in the issue body (`comment: None`) or in a comment.
    Commands {
        comment: Option<CommentId>,
        commands: Vec<Command>,
    },
}

/// What intake does with a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Trigger(Box<TriggerRequest>),
    /// Recognised; nothing to do (the note says why, for the delivery log).
    Noted(&'static str),
    /// Not something bosun acts on.
    Ignore(String),
}

/// Comments bosun writes carry this; seeing it means the comment is ours whoever the author.
const OWN_MARKER: &str = "<!-- bosun:";

pub fn decide(delivery: &DeliveryId, event: Event, me: &Identity) -> Decision {
    let request = |issue: IssueContext, what: TriggerWhat| {
        Decision::Trigger(Box::new(TriggerRequest {
            delivery: delivery.clone(),
            installation: issue.installation,
            repo: issue.repo,
            repo_id: issue.repo_id,
            issue: issue.issue,
            issue_title: issue.title,
            issue_body: issue.body,
            issue_author: issue.author,
            sender: issue.sender,
            what,
        }))
    };
    let commands = |issue: IssueContext, comment: Option<CommentId>, commands: Vec<Command>| {
        if commands.is_empty() {
            Decision::Ignore("no command for bosun".into())
        } else {
            request(issue, TriggerWhat::Commands { comment, commands })
        }
    };
    let sender = |e: &Event| -> Option<Actor> {
        match e {
            Event::IssueLabeled { issue, .. }
            | Event::IssueOpened { issue }
            | Event::IssueEdited { issue, .. }
            | Event::CommentCreated { issue, .. }
            | Event::CommentEdited { issue, .. } => Some(issue.sender.clone()),
            _ => None,
        }
    };
    if let Some(actor) = sender(&event) {
        if actor.login.eq_ignore_ascii_case(&me.bot_login) {
            return Decision::Ignore("bosun's own action".into());
        }
    }
    let on_pull_request = match &event {
        Event::IssueLabeled { issue, .. }
        | Event::IssueOpened { issue }
        | Event::IssueEdited { issue, .. }
        | Event::CommentCreated { issue, .. }
        | Event::CommentEdited { issue, .. } => issue.is_pull_request,
        _ => false,
    };
    if on_pull_request {
        return Decision::Ignore("pull request conversations are not handled yet".into());
    }
    match event {
        Event::Ping => Decision::Noted("ping"),
        Event::Installation { .. } => Decision::Noted("installation change"),
        Event::IssueLabeled { issue, label } => request(issue, TriggerWhat::Label { name: label }),
        Event::IssueOpened { issue } => {
            let found = parse_commands(&issue.body, &me.handle);
            commands(issue, None, found)
        }
        Event::IssueEdited { issue, old_body } => match old_body {
            Some(old) => {
                let found = new_commands(&old, &issue.body, &me.handle);
                commands(issue, None, found)
            }
            None => Decision::Ignore("issue edited, body unchanged".into()),
        },
        Event::CommentCreated { issue, comment } => {
            if comment.body.contains(OWN_MARKER) {
                return Decision::Ignore("a comment bosun wrote".into());
            }
            let found = parse_commands(&comment.body, &me.handle);
            commands(issue, Some(comment.id), found)
        }
        Event::CommentEdited {
            issue,
            comment,
            old_body,
        } => {
            if comment.body.contains(OWN_MARKER) {
                return Decision::Ignore("a comment bosun wrote".into());
            }
            match old_body {
                Some(old) => {
                    let found = new_commands(&old, &comment.body, &me.handle);
                    commands(issue, Some(comment.id), found)
                }
                None => Decision::Ignore("comment edited, body unchanged".into()),
            }
        }
        Event::Other { event, action } => Decision::Ignore(match action {
            Some(a) => format!("{event}.{a} is not handled"),
            None => format!("{event} is not handled"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::events::CommentContext;
    use crate::github::ids::UserId;

    fn me() -> Identity {
        Identity {
            handle: "bosun-app".into(),
            bot_login: "bosun-app[bot]".into(),
        }
    }

    fn issue(sender: &str, body: &str) -> IssueContext {
        IssueContext {
            installation: None,
            repo: RepoRef::new("o", "r"),
            repo_id: RepoId(1),
            issue: IssueNumber(5),
            title: "t".into(),
            body: body.into(),
            author: "someone".into(),
            is_pull_request: false,
            sender: Actor {
                login: sender.into(),
                id: UserId(9),
                is_bot: sender.ends_with("[bot]"),
            },
        }
    }

    fn comment(body: &str) -> CommentContext {
        CommentContext {
            id: CommentId(77),
            body: body.into(),
            author: Actor {
                login: "alice".into(),
                id: UserId(9),
                is_bot: false,
            },
        }
    }

    fn id() -> DeliveryId {
        DeliveryId("d".into())
    }

    #[test]
    fn a_mention_in_a_comment_becomes_a_request() {
        let d = decide(
            &id(),
            Event::CommentCreated {
                issue: issue("alice", ""),
                comment: comment("@bosun-app fix the parser"),
            },
            &me(),
        );
        let Decision::Trigger(req) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            req.what,
            TriggerWhat::Commands {
                comment: Some(CommentId(77)),
                commands: vec![Command::Do("fix the parser".into())]
            }
        );
    }

    #[test]
    fn bosun_ignores_itself_and_its_own_comments() {
        let own = decide(
            &id(),
            Event::IssueLabeled {
                issue: issue("Bosun-App[bot]", ""),
                label: "bosun".into(),
            },
            &me(),
        );
        assert!(matches!(own, Decision::Ignore(_)), "{own:?}");
        let quoted = decide(
            &id(),
            Event::CommentCreated {
                issue: issue("alice", ""),
                comment: comment("@bosun-app status\n<!-- bosun:task {} -->"),
            },
            &me(),
        );
        assert!(matches!(quoted, Decision::Ignore(_)), "{quoted:?}");
    }

    #[test]
    fn an_edit_runs_only_new_commands() {
        let d = decide(
            &id(),
            Event::CommentEdited {
                issue: issue("alice", ""),
                comment: comment("@bosun-app status\n\n@bosun-app stop"),
                old_body: Some("@bosun-app status".into()),
            },
            &me(),
        );
        let Decision::Trigger(req) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            req.what,
            TriggerWhat::Commands {
                comment: Some(CommentId(77)),
                commands: vec![Command::Stop]
            }
        );
        let same = decide(
            &id(),
            Event::CommentEdited {
                issue: issue("alice", ""),
                comment: comment("@bosun-app status"),
                old_body: Some("@bosun-app status".into()),
            },
            &me(),
        );
        assert!(matches!(same, Decision::Ignore(_)));
    }

    #[test]
    fn pull_requests_and_plain_comments_are_ignored() {
        let mut pr = issue("alice", "");
        pr.is_pull_request = true;
        assert!(matches!(
            decide(
                &id(),
                Event::IssueLabeled {
                    issue: pr,
                    label: "bosun".into()
                },
                &me()
            ),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide(
                &id(),
                Event::CommentCreated {
                    issue: issue("alice", ""),
                    comment: comment("thanks!")
                },
                &me()
            ),
            Decision::Ignore(_)
        ));
    }
}
