//! The projection's rules, event by event.

use super::*;

fn triggered(attempt: u32) -> TaskEvent {
    TaskEvent::Triggered {
        attempt,
        kind: TaskKind::Implement,
        by: "alice".into(),
        source: TriggerSource::Label {
            name: "bosun".into(),
        },
        instructions: String::new(),
        issue: None,
    }
}

#[test]
fn a_retry_remembers_how_the_previous_attempt_failed() {
    let failed = TaskEvent::Finished {
        attempt: 1,
        status: TaskStatus::Failed,
        summary: "the agent failed: no result".into(),
    };
    let state = project(&[
        triggered(1),
        TaskEvent::Started { attempt: 1 },
        failed,
        triggered(2),
    ])
    .unwrap();
    assert_eq!(
        state.previous_failure.as_deref(),
        Some("the agent failed: no result")
    );
    let done = TaskEvent::Finished {
        attempt: 2,
        status: TaskStatus::Done,
        summary: "ok".into(),
    };
    let events = [
        triggered(1),
        TaskEvent::Started { attempt: 1 },
        TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Failed,
            summary: "x".into(),
        },
        triggered(2),
        TaskEvent::Started { attempt: 2 },
        done,
        triggered(3),
    ];
    assert_eq!(project(&events).unwrap().previous_failure, None);
}

#[test]
fn the_pull_request_outlives_its_attempt_and_feedback_is_counted() {
    let opened = TaskEvent::Progress(ProgressEvent::PullOpened {
        attempt: 1,
        number: 7,
        url: "u".into(),
        ready: false,
    });
    let done = |attempt| TaskEvent::Finished {
        attempt,
        status: TaskStatus::Done,
        summary: "ok".into(),
    };
    let queued = TaskEvent::FeedbackQueued {
        by: "alice".into(),
        pr: 7,
        text: "also tabs".into(),
    };
    let mut events = vec![
        triggered(1),
        TaskEvent::Started { attempt: 1 },
        opened,
        done(1),
        triggered(2),
        queued.clone(),
        TaskEvent::Started { attempt: 2 },
    ];
    let state = project(&events).unwrap();
    assert_eq!(state.pull.as_ref().map(|p| p.number), Some(7));
    assert_eq!(state.feedback_events, 1);
    assert_eq!(state.instructions.last().unwrap().1, "also tabs");
    events.push(TaskEvent::Progress(ProgressEvent::FeedbackAnswered {
        attempt: 2,
        pr: 7,
        commit: Some("abc".into()),
        replied: 2,
        resolved: 1,
        not_addressed: vec!["x".into()],
    }));
    events.push(done(2));
    // Merging after the follow-up is still the task's own pull request.
    events.push(TaskEvent::PullClosed {
        number: 7,
        merged: true,
        by: "alice".into(),
    });
    let state = project(&events).unwrap();
    assert_eq!(state.status, TaskStatus::Done);
    assert!(state.pull.as_ref().unwrap().closed);
    assert_eq!(state.run.answered.as_ref().unwrap().resolved, 1);
    // Feedback cannot be queued on a finished task, nor a pull request close twice.
    assert!(state.check(&queued).is_err());
    assert!(state
        .check(&TaskEvent::PullClosed {
            number: 7,
            merged: true,
            by: "a".into()
        })
        .is_err());
}

#[test]
fn a_plan_waits_for_its_parts_and_a_part_for_its_dependencies() {
    let mut planned = triggered(1);
    if let TaskEvent::Triggered { kind, .. } = &mut planned {
        *kind = TaskKind::Plan;
    }
    let part = |key: &str, issue: u64, depends_on: Vec<u64>| {
        TaskEvent::Progress(ProgressEvent::PlanPartCreated {
            attempt: 1,
            key: key.into(),
            issue,
            title: format!("part {key}"),
            depends_on,
        })
    };
    let mut events = vec![
        planned,
        TaskEvent::Started { attempt: 1 },
        part("a", 11, vec![]),
        part("b", 12, vec![11]),
    ];
    let state = project(&events).unwrap();
    // Parts cannot be marked done before the plan is published.
    assert!(state.check(&TaskEvent::PlanPartDone { issue: 11 }).is_err());
    events.push(TaskEvent::PlanPublished {
        attempt: 1,
        overview: "two steps".into(),
    });
    events.push(TaskEvent::PlanPartDone { issue: 11 });
    let state = project(&events).unwrap();
    assert_eq!(state.status, TaskStatus::Blocked);
    let plan = state.plan.as_ref().unwrap();
    assert!(plan.parts[0].done && !plan.parts[1].done && !plan.all_settled());
    assert!(state.check(&TaskEvent::PlanPartDone { issue: 11 }).is_err());
    assert!(state.check(&TaskEvent::PlanPartDone { issue: 99 }).is_err());
    assert!(
        state.check(&TaskEvent::Unblocked).is_err(),
        "the planned issue is not a part"
    );
    // A part closed as not planned is settled, not done; closing it again changes nothing,
    // and done later (reopened, then merged) it counts as done.
    let dropped = TaskEvent::PlanPartDropped {
        issue: 12,
        reason: "not_planned".into(),
    };
    let after = state.clone().apply(&dropped).unwrap();
    let part = &after.plan.as_ref().unwrap().parts[1];
    assert!(part.settled() && !part.done && after.plan.as_ref().unwrap().all_settled());
    assert!(after.check(&dropped).is_err());
    assert!(state
        .check(&TaskEvent::PlanPartDropped {
            issue: 11,
            reason: "not_planned".into()
        })
        .is_err());
    // Opened again, it is waited for again; it could not be reopened twice.
    let reopened = TaskEvent::PlanPartReopened { issue: 12 };
    let back = after.clone().apply(&reopened).unwrap();
    assert!(!back.plan.as_ref().unwrap().parts[1].settled());
    assert!(back.check(&reopened).is_err());
    let after = after.apply(&TaskEvent::PlanPartDone { issue: 12 }).unwrap();
    let part = &after.plan.as_ref().unwrap().parts[1];
    assert_eq!((part.done, part.dropped.as_deref()), (true, None));
    events.push(TaskEvent::PlanPartDone { issue: 12 });
    events.push(TaskEvent::Finished {
        attempt: 1,
        status: TaskStatus::Done,
        summary: "all done".into(),
    });
    assert!(project(&events).unwrap().plan.unwrap().all_settled());

    // The dependent part: blocked, it cannot start until unblocked.
    let child = TaskEvent::Triggered {
        attempt: 1,
        kind: TaskKind::Implement,
        by: "alice".into(),
        source: TriggerSource::PlanPart {
            parent: 10,
            part: "b".into(),
            waits_for: vec![11],
            agent: Some("codex".into()),
            complexity: Some(Complexity::Simple),
        },
        instructions: String::new(),
        issue: None,
    };
    let state = project(std::slice::from_ref(&child)).unwrap();
    assert_eq!(state.status, TaskStatus::Blocked);
    assert_eq!(state.part_of, Some(10));
    assert_eq!(state.route.agent.as_deref(), Some("codex"));
    assert!(state.check(&TaskEvent::Started { attempt: 1 }).is_err());
    let state = state.apply(&TaskEvent::Unblocked).unwrap();
    assert_eq!(state.status, TaskStatus::New);
    assert!(state.check(&TaskEvent::Started { attempt: 1 }).is_ok());
    assert!(state.check(&TaskEvent::Unblocked).is_err());
    // A retry by a person keeps it a part of the plan, and does not wait.
    let state = state
        .apply(&TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Failed,
            summary: "x".into(),
        })
        .unwrap()
        .apply(&triggered(2))
        .unwrap();
    assert_eq!((state.part_of, state.status), (Some(10), TaskStatus::New));
    assert_eq!(state.route.agent.as_deref(), Some("codex"));
    // The source survives a JSON round trip.
    let json = serde_json::to_string(&child).unwrap();
    assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), child);
}

#[test]
fn a_full_life_projects_to_done() {
    let events = vec![
        triggered(1),
        TaskEvent::Steered {
            by: "bob".into(),
            text: "use the new API".into(),
        },
        TaskEvent::Started { attempt: 1 },
        TaskEvent::Progress(ProgressEvent::PlaceholderRan { attempt: 1 }),
        TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: "ok".into(),
        },
    ];
    let state = project(&events).unwrap();
    assert_eq!(state.status, TaskStatus::Done);
    assert_eq!(state.instructions.len(), 2);
    assert!(state.placeholder_ran);
}

#[test]
fn a_restart_after_a_crash_may_start_twice_but_finish_once() {
    let mut state = project(&[triggered(1), TaskEvent::Started { attempt: 1 }]).unwrap();
    state = state.apply(&TaskEvent::Started { attempt: 1 }).unwrap();
    let finished = TaskEvent::Finished {
        attempt: 1,
        status: TaskStatus::Done,
        summary: String::new(),
    };
    state = state.apply(&finished).unwrap();
    assert!(state.apply(&finished).is_err());
}

#[test]
fn impossible_histories_are_rejected() {
    let active = project(&[triggered(1)]).unwrap();
    assert!(
        active.check(&triggered(2)).is_err(),
        "second trigger while active"
    );
    let stopped = active
        .apply(&TaskEvent::Stopped { by: "a".into() })
        .unwrap();
    assert_eq!(stopped.status, TaskStatus::Failed);
    assert!(stopped
        .summary
        .as_deref()
        .unwrap()
        .contains("Stopped by @a"));
    assert!(stopped.check(&TaskEvent::Started { attempt: 1 }).is_err());
    assert!(stopped.check(&triggered(1)).is_err(), "attempt must grow");
    assert!(stopped.check(&triggered(2)).is_ok());
    assert!(project(&[TaskEvent::Started { attempt: 1 }]).is_err());
}

#[test]
fn labels_use_the_prefix_and_stopped_has_none() {
    assert_eq!(
        TaskStatus::NeedsReview.label("bosun").as_deref(),
        Some("bosun:needs-review")
    );
    assert_eq!(TaskStatus::Stopped.label("bosun"), None);
    assert_eq!(TaskStatus::all_labels("x").len(), 6);
    for s in TaskStatus::ALL {
        assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
    }
}

#[test]
fn events_round_trip_as_json() {
    let ev = triggered(3);
    let json = serde_json::to_string(&ev).unwrap();
    assert!(json.starts_with(r#"{"type":"triggered""#), "{json}");
    assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), ev);
}

#[test]
fn the_running_rounds_model_is_known_and_older_events_without_it_still_read() {
    let started = |model: Option<&str>| {
        TaskEvent::Progress(ProgressEvent::AgentStarted {
            attempt: 1,
            round: 1,
            rounds: 3,
            agent: "claude".into(),
            sandbox: "docker".into(),
            model: model.map(str::to_string),
        })
    };
    let old = r#"{"type":"agent_started","attempt":1,"round":1,"rounds":3,"agent":"claude","sandbox":"docker"}"#;
    assert_eq!(
        serde_json::from_str::<TaskEvent>(old).unwrap(),
        started(None)
    );
    let workspace = TaskEvent::Progress(ProgressEvent::WorkspaceReady {
        attempt: 1,
        branch: "bosun/1-x".into(),
        base_sha: "0".repeat(40),
    });
    let events = [
        triggered(0),
        TaskEvent::Started { attempt: 1 },
        workspace,
        started(Some("claude-sonnet-4-5")),
    ];
    let state = project(&events).unwrap();
    assert_eq!(state.run.model.as_deref(), Some("claude-sonnet-4-5"));
}

#[test]
fn progress_events_are_stored_as_they_were_before_the_split() {
    let pushed = TaskEvent::Progress(ProgressEvent::Pushed {
        attempt: 2,
        branch: "bosun/1-x".into(),
        sha: "abc".into(),
    });
    let json = serde_json::to_string(&pushed).unwrap();
    assert_eq!(
        json,
        r#"{"type":"pushed","attempt":2,"branch":"bosun/1-x","sha":"abc"}"#
    );
    assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), pushed);
    assert!(serde_json::from_str::<TaskEvent>(r#"{"type":"no_such_event"}"#).is_err());
}

#[test]
fn a_trigger_opens_the_next_attempt_only_of_a_task_that_ended() {
    assert_eq!(opening(None), Opening::Attempt(1));
    assert_eq!(opening(Some((TaskStatus::Failed, 2))), Opening::Attempt(3));
    assert_eq!(opening(Some((TaskStatus::Done, 1))), Opening::Attempt(2));
    for active in [TaskStatus::New, TaskStatus::InProgress, TaskStatus::Blocked] {
        assert_eq!(opening(Some((active, 4))), Opening::Active);
    }
    let TaskEvent::Triggered { attempt, .. } = triggered(1).for_attempt(5) else {
        unreachable!()
    };
    assert_eq!(attempt, 5);
}

#[test]
fn a_held_change_is_approved_once_after_its_attempt_ended() {
    let held = TaskEvent::Progress(ProgressEvent::HeldBack {
        attempt: 1,
        paths: vec!["Jenkinsfile".into()],
        branch: "bosun/1-x".into(),
        sha: "held".into(),
    });
    let approved = TaskEvent::Progress(ProgressEvent::HeldPushed {
        attempt: 1,
        by: "octocat".into(),
        sha: "held".into(),
    });
    let finished = TaskEvent::Finished {
        attempt: 1,
        status: TaskStatus::Done,
        summary: "done".into(),
    };
    let running = project(&[triggered(1), TaskEvent::Started { attempt: 1 }, held]).unwrap();
    assert!(
        running.check(&approved).is_err(),
        "not while the attempt runs"
    );
    assert_eq!(running.run.held, ["Jenkinsfile"], "{running:?}");
    let ended = running.apply(&finished).unwrap();
    assert_eq!(ended.run.held, ["Jenkinsfile"]);
    ended.check(&approved).unwrap();
    let approved_state = ended.apply(&approved).unwrap();
    assert_eq!(
        approved_state.run.held_pushed_by.as_deref(),
        Some("octocat")
    );
    assert_eq!(approved_state.status, TaskStatus::Done);
    assert!(approved_state.check(&approved).is_err(), "only once");
}
