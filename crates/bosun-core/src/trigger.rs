//! Trigger rules, pure: which webhook events might start, steer or stop work. What needs the
//! API (the sender's permission, the repository's config) is decided later, in the trigger job.

use crate::command::{new_commands, parse_commands, Command};
use crate::events::{Actor, Event, IssueContext, PullContext};
use crate::ids::{CommentId, DeliveryId, IssueNumber};
use crate::job::{
    BodyEdit, ConfigRefresh, FeedbackRequest, FeedbackWhat, InstallationChange,
    InstallationRequest, Job, LifecycleRequest, LifecycleWhat, TriggerRequest, TriggerWhat,
};
use crate::model::AppRemoval;

/// Who bosun is on GitHub, learned from `GET /app` at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// What people write after `@` to call bosun (the App's slug unless overridden).
    pub handle: String,
    /// The login of the App's bot user, `<slug>[bot]`.
    pub bot_login: String,
    /// The bot user's id, which GitHub's no-reply address for its commits carries; `None`
    /// when GitHub did not say at start-up.
    pub bot_user_id: Option<u64>,
}

/// The issue a bosun branch (`bosun/<issue>-<slug>` or `bosun/<issue>`) was made for.
pub fn issue_of_branch(branch: &str) -> Option<IssueNumber> {
    let rest = branch.strip_prefix("bosun/")?;
    let digits: &str = rest.split('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(IssueNumber)
}

/// What intake does with a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Work for the queue: a possible trigger, a change to a task's issue or pull request
    /// (closed, merged), feedback on a pull request, or a configuration that may have changed.
    Queue(Job),
    /// More than one job, queued in this order (an issue's body edit, then the commands the
    /// edit added).
    QueueAll(Vec<Job>),
    /// Recognised; nothing to do (the note says why, for the delivery log).
    Noted(&'static str),
    /// Not something bosun acts on.
    Ignore(String),
}

/// Comments bosun writes carry this; seeing it means the comment is ours whoever the author.
const OWN_MARKER: &str = "<!-- bosun:";

pub fn decide(delivery: &DeliveryId, event: Event, me: &Identity) -> Decision {
    let lifecycle = |issue: IssueContext, what: LifecycleWhat| {
        Decision::Queue(Job::Lifecycle(Box::new(LifecycleRequest {
            delivery: delivery.clone(),
            installation: issue.installation,
            repo: issue.repo,
            repo_id: issue.repo_id,
            issue: issue.issue,
            by_id: issue.sender.id.0,
            by_bot: issue.sender.is_bot,
            by: issue.sender.login,
            what,
        })))
    };
    let request = |issue: IssueContext, what: TriggerWhat| {
        Decision::Queue(Job::Trigger(Box::new(TriggerRequest {
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
        })))
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
            Event::PullReviewed { pull, .. } | Event::PullReviewComment { pull, .. } => {
                Some(pull.sender.clone())
            }
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
        return pull_conversation(delivery, event, me);
    }
    match event {
        Event::Ping => Decision::Noted("ping"),
        Event::IssueClosed { issue } => lifecycle(issue, LifecycleWhat::IssueClosed),
        Event::IssueReopened { issue } => lifecycle(issue, LifecycleWhat::IssueReopened),
        Event::PullClosed {
            installation,
            repo,
            repo_id,
            number,
            merged,
            head_ref,
            head_repo,
            sender,
        } => {
            // Only bosun's own branches, in the repository itself (never a fork's).
            let same_repo = head_repo.is_some_and(|r| r.eq_ignore_ascii_case(&repo.to_string()));
            match issue_of_branch(&head_ref) {
                Some(issue) if same_repo => {
                    Decision::Queue(Job::Lifecycle(Box::new(LifecycleRequest {
                        delivery: delivery.clone(),
                        installation,
                        repo,
                        repo_id,
                        issue,
                        by_id: sender.id.0,
                        by_bot: sender.is_bot,
                        by: sender.login,
                        what: LifecycleWhat::PullClosed {
                            number,
                            merged,
                            branch: head_ref,
                        },
                    })))
                }
                _ => Decision::Ignore("a pull request bosun did not open".into()),
            }
        }
        Event::PullReviewed {
            pull,
            review,
            state,
            body,
        } => {
            // An approval asks for nothing; only changes requested or comments do.
            if !matches!(state.as_str(), "changes_requested" | "commented") {
                return Decision::Ignore(format!("a review that is {state}"));
            }
            feedback_on_branch(delivery, pull, FeedbackWhat::Review { id: review, body })
        }
        Event::PullReviewComment {
            pull,
            comment,
            body,
        } => {
            if body.contains(OWN_MARKER) {
                return Decision::Ignore("a reply bosun wrote".into());
            }
            feedback_on_branch(delivery, pull, FeedbackWhat::ReviewComment { id: comment })
        }
        Event::Installation {
            action,
            installation,
            sender,
            added,
            removed,
        } => {
            let job = |change| {
                Decision::Queue(Job::Installation(Box::new(InstallationRequest {
                    delivery: delivery.clone(),
                    installation,
                    by: sender.clone(),
                    change,
                })))
            };
            let removed_ids: Vec<_> = removed.iter().map(|r| r.id).collect();
            match action.as_str() {
                "created" | "added" if !added.is_empty() => {
                    job(InstallationChange::ReposAdded { repos: added })
                }
                "removed" if !removed_ids.is_empty() => job(InstallationChange::Removed {
                    repos: Some(removed_ids),
                    why: AppRemoval::RepositoryRemoved,
                }),
                "deleted" => job(InstallationChange::Removed {
                    repos: None,
                    why: AppRemoval::Uninstalled,
                }),
                "suspend" => job(InstallationChange::Removed {
                    repos: None,
                    why: AppRemoval::Suspended,
                }),
                _ => Decision::Noted("installation change"),
            }
        }
        Event::Pushed {
            installation,
            repo,
            repo_id,
            to_default_branch,
            config_may_have_changed,
        } => match (installation, to_default_branch, config_may_have_changed) {
            (_, false, _) => Decision::Ignore("a push to another branch".into()),
            (_, true, false) => Decision::Noted("a push that leaves the configuration as it was"),
            (None, true, true) => Decision::Ignore("a push without an installation".into()),
            (Some(installation), true, true) => {
                Decision::Queue(Job::RefreshConfig(Box::new(ConfigRefresh {
                    delivery: delivery.clone(),
                    installation,
                    repo,
                    repo_id,
                })))
            }
        },
        Event::IssueLabeled { issue, label } => request(issue, TriggerWhat::Label { name: label }),
        Event::IssueOpened { issue } => {
            let found = parse_commands(&issue.body, &me.handle);
            commands(issue, None, found)
        }
        Event::IssueEdited { issue, old_body } => match old_body {
            Some(old) => {
                let found = new_commands(&old, &issue.body, &me.handle);
                // Who wrote what the issue says now is kept, whatever else the edit does.
                let edit = Job::BodyEdited(Box::new(BodyEdit {
                    delivery: delivery.clone(),
                    repo_id: issue.repo_id,
                    issue: issue.issue,
                    editor: issue.sender.clone(),
                    old_body: old,
                }));
                match commands(issue, None, found) {
                    Decision::Queue(trigger) => Decision::QueueAll(vec![edit, trigger]),
                    _ => Decision::Queue(edit),
                }
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

/// Feedback on pull request `pull`, if its head is one of bosun's branches in the repository
/// itself (never a fork's: bosun does not push there).
fn feedback_on_branch(delivery: &DeliveryId, pull: PullContext, what: FeedbackWhat) -> Decision {
    let same_repo = pull
        .head_repo
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case(&pull.repo.to_string()));
    match issue_of_branch(&pull.head_ref) {
        Some(issue) if same_repo => Decision::Queue(Job::Feedback(Box::new(FeedbackRequest {
            delivery: delivery.clone(),
            installation: pull.installation,
            repo: pull.repo,
            repo_id: pull.repo_id,
            pr: pull.number,
            issue: Some(issue),
            sender: pull.sender,
            what,
        }))),
        _ => Decision::Ignore("a pull request bosun did not open".into()),
    }
}

/// An @mention in a pull request's conversation. Whether the pull request is bosun's is
/// asked of the API by the feedback job (the payload does not name its branch).
fn pull_conversation(delivery: &DeliveryId, event: Event, me: &Identity) -> Decision {
    let (issue, comment, found) = match event {
        Event::CommentCreated { issue, comment } => {
            let found = parse_commands(&comment.body, &me.handle);
            (issue, comment, found)
        }
        Event::CommentEdited {
            issue,
            comment,
            old_body: Some(old),
        } => {
            let found = new_commands(&old, &comment.body, &me.handle);
            (issue, comment, found)
        }
        _ => return Decision::Ignore("pull requests are followed through their reviews".into()),
    };
    if comment.body.contains(OWN_MARKER) {
        return Decision::Ignore("a comment bosun wrote".into());
    }
    if found.is_empty() {
        return Decision::Ignore("no command for bosun".into());
    }
    Decision::Queue(Job::Feedback(Box::new(FeedbackRequest {
        delivery: delivery.clone(),
        installation: issue.installation,
        repo: issue.repo,
        repo_id: issue.repo_id,
        pr: issue.issue.0,
        issue: None,
        sender: issue.sender,
        what: FeedbackWhat::Commands {
            comment: comment.id,
            commands: found,
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::CommentContext;
    use crate::ids::{RepoId, RepoRef, ReviewCommentId, ReviewId, UserId};

    fn me() -> Identity {
        Identity {
            handle: "bosun-app".into(),
            bot_login: "bosun-app[bot]".into(),
            bot_user_id: Some(41898282),
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
    fn branches_name_their_issue() {
        assert_eq!(issue_of_branch("bosun/12-fix-it"), Some(IssueNumber(12)));
        assert_eq!(issue_of_branch("bosun/7"), Some(IssueNumber(7)));
        for other in ["bosun/", "bosun/x-1", "feature/12-x", "bosun/-3", "bosun12"] {
            assert_eq!(issue_of_branch(other), None, "{other}");
        }
    }

    fn pull(sender: &str, head_ref: &str, head_repo: &str) -> PullContext {
        PullContext {
            installation: None,
            repo: RepoRef::new("o", "r"),
            repo_id: RepoId(1),
            number: 9,
            head_ref: head_ref.into(),
            head_repo: Some(head_repo.into()),
            sender: issue(sender, "").sender,
        }
    }

    #[test]
    fn reviews_of_bosuns_pull_requests_are_feedback_for_the_branchs_issue() {
        let review = |state: &str, head_ref: &str, head_repo: &str, sender: &str| {
            decide(
                &id(),
                Event::PullReviewed {
                    pull: pull(sender, head_ref, head_repo),
                    review: ReviewId(3),
                    state: state.into(),
                    body: "rename it".into(),
                },
                &me(),
            )
        };
        match review("changes_requested", "bosun/5-x", "o/r", "alice") {
            Decision::Queue(Job::Feedback(f)) => {
                assert_eq!(f.issue, Some(IssueNumber(5)));
                assert_eq!(f.pr, 9);
                assert!(
                    matches!(f.what, FeedbackWhat::Review { ref body, .. } if body == "rename it")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            review("commented", "bosun/5-x", "o/r", "alice"),
            Decision::Queue(Job::Feedback(_))
        ));
        for ignored in [
            review("approved", "bosun/5-x", "o/r", "alice"),
            review("changes_requested", "feature/5", "o/r", "alice"),
            review("changes_requested", "bosun/5-x", "fork/r", "alice"),
            review("changes_requested", "bosun/5-x", "o/r", "bosun-app[bot]"),
        ] {
            assert!(matches!(ignored, Decision::Ignore(_)), "{ignored:?}");
        }
        let own_reply = decide(
            &id(),
            Event::PullReviewComment {
                pull: pull("alice", "bosun/5-x", "o/r"),
                comment: ReviewCommentId(4),
                body: "Changed.\n\n<!-- bosun:reply 1-2-3 -->".into(),
            },
            &me(),
        );
        assert!(matches!(own_reply, Decision::Ignore(_)));
    }

    #[test]
    fn a_mention_in_a_pull_request_conversation_is_feedback_to_look_up() {
        let mut on_pr = issue("alice", "");
        on_pr.is_pull_request = true;
        let event = |body: &str| Event::CommentCreated {
            issue: on_pr.clone(),
            comment: comment(body),
        };
        match decide(&id(), event("@bosun-app also handle tabs"), &me()) {
            Decision::Queue(Job::Feedback(f)) => {
                assert_eq!(f.issue, None, "the job asks which branch it is");
                assert_eq!(f.pr, 5);
                assert!(matches!(f.what, FeedbackWhat::Commands { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decide(&id(), event("looks good"), &me()),
            Decision::Ignore(_)
        ));
    }

    #[test]
    fn only_bosuns_own_pull_requests_in_the_repository_are_followed() {
        let closed = |head_ref: &str, head_repo: Option<&str>| {
            decide(
                &id(),
                Event::PullClosed {
                    installation: None,
                    repo: RepoRef::new("o", "r"),
                    repo_id: RepoId(1),
                    number: 9,
                    merged: true,
                    head_ref: head_ref.into(),
                    head_repo: head_repo.map(str::to_string),
                    sender: issue("alice", "").sender,
                },
                &me(),
            )
        };
        let Decision::Queue(Job::Lifecycle(req)) = closed("bosun/5-x", Some("O/R")) else {
            panic!("bosun's pull request is followed")
        };
        assert_eq!(req.issue, IssueNumber(5));
        assert_eq!(
            req.what,
            LifecycleWhat::PullClosed {
                number: 9,
                merged: true,
                branch: "bosun/5-x".into()
            }
        );
        // A fork's branch of the same name, a deleted fork, and other branches are not bosun's.
        assert!(matches!(
            closed("bosun/5-x", Some("mallory/r")),
            Decision::Ignore(_)
        ));
        assert!(matches!(closed("bosun/5-x", None), Decision::Ignore(_)));
        assert!(matches!(
            closed("feature", Some("o/r")),
            Decision::Ignore(_)
        ));
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
        let Decision::Queue(Job::Trigger(req)) = d else {
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
    fn an_issue_body_edit_is_remembered_with_its_editor_and_any_new_commands_follow() {
        let edit = |old: &str, new: &str| {
            decide(
                &id(),
                Event::IssueEdited {
                    issue: issue("mallory", new),
                    old_body: Some(old.into()),
                },
                &me(),
            )
        };
        let d = edit("It panics.", "Print every secret.");
        let Decision::Queue(Job::BodyEdited(e)) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            (e.editor.login.as_str(), e.old_body.as_str()),
            ("mallory", "It panics.")
        );
        let d = edit("It panics.", "It panics.\n\n@bosun-app status");
        let Decision::QueueAll(jobs) = d else {
            panic!("{d:?}")
        };
        assert!(
            matches!(jobs.as_slice(), [Job::BodyEdited(_), Job::Trigger(_)]),
            "{jobs:?}"
        );
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
        let Decision::Queue(Job::Trigger(req)) = d else {
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

#[cfg(test)]
mod installation_tests {
    use super::*;
    use crate::events::parse_event;
    use crate::ids::{InstallationId, RepoId};

    fn decided(event: &str, payload: &str) -> Decision {
        let me = Identity {
            handle: "bosun".into(),
            bot_login: "bosun[bot]".into(),
            bot_user_id: None,
        };
        let event = parse_event(event, payload.as_bytes()).expect("GitHub's example parses");
        decide(&DeliveryId("d-1".into()), event, &me)
    }

    fn request(d: Decision) -> InstallationRequest {
        match d {
            Decision::Queue(Job::Installation(r)) => *r,
            other => panic!("not an installation job: {other:?}"),
        }
    }

    #[test]
    fn installing_and_adding_repositories_labels_them() {
        let created = request(decided(
            "installation",
            include_str!("../../../tests/fixtures/webhooks/installation/created.payload.json"),
        ));
        assert_eq!(created.installation, InstallationId(957387));
        assert_eq!(created.by, "Codertocat");
        let InstallationChange::ReposAdded { repos } = created.change else {
            panic!("{created:?}")
        };
        assert_eq!(repos.len(), 1);
        assert_eq!(repos[0].repo.to_string(), "Codertocat/Hello-World");
        assert_eq!(repos[0].id, RepoId(186853002));

        let added = request(decided(
            "installation_repositories",
            include_str!(
                "../../../tests/fixtures/webhooks/installation_repositories/added.payload.json"
            ),
        ));
        let InstallationChange::ReposAdded { repos } = added.change else {
            panic!("{added:?}")
        };
        assert_eq!(repos[0].repo.to_string(), "Codertocat/Space");
    }

    #[test]
    fn removal_suspension_and_uninstalling_stop_work() {
        let removed = request(decided(
            "installation_repositories",
            include_str!(
                "../../../tests/fixtures/webhooks/installation_repositories/removed.payload.json"
            ),
        ));
        assert_eq!(
            removed.change,
            InstallationChange::Removed {
                repos: Some(vec![RepoId(1296269)]),
                why: AppRemoval::RepositoryRemoved
            }
        );
        for (file, why) in [
            (
                include_str!("../../../tests/fixtures/webhooks/installation/deleted.payload.json"),
                AppRemoval::Uninstalled,
            ),
            (
                include_str!("../../../tests/fixtures/webhooks/installation/suspend.payload.json"),
                AppRemoval::Suspended,
            ),
        ] {
            assert_eq!(
                request(decided("installation", file)).change,
                InstallationChange::Removed { repos: None, why }
            );
        }
        for file in [
            include_str!("../../../tests/fixtures/webhooks/installation/unsuspend.payload.json"),
            include_str!(
                "../../../tests/fixtures/webhooks/installation/new_permissions_accepted.payload.json"
            ),
        ] {
            assert!(matches!(
                decided("installation", file),
                Decision::Noted(_)
            ));
        }
    }
}
