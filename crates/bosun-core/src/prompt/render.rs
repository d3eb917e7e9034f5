//! Rendering the agent prompt from templates in `prompts/` (embedded in the binary, so a deployed
//! bosun cannot drift from the snapshot-tested text).
//!
//! Layers, in order: `core.md.j2` (bosun's rules, the gates, then the repository's instructions,
//! quoted), `task.md.j2` (the issue, its trusted comments, what earlier runs in the repository
//! learned, the request), and from round 2 on `feedback.md.j2` (what the gates said),
//! `steer.md.j2` (new instructions) or `peer_fix.md.j2` (what a reviewing agent found). Mode
//! layers replace or follow the task: `review.md.j2` (answering review threads), `plan.md.j2`
//! (breaking the issue down) and `peer_review.md.j2` (a second agent reviewing the change; it
//! gets only the core, the task and this layer).
//! Every piece of untrusted text goes through
//! [`sanitize`] (gate output through [`sanitize_output`]), a length cap, and the `fence` filter,
//! so it reaches the agent as quoted data that cannot end its own quote (trust rule 2).
//!
//! The templates run with strict undefined behaviour: a misspelt variable is an error, caught by
//! the snapshot tests, instead of an empty string in production prompts.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::budget::Budget;
use super::caps::{keep_head, keep_tail};
use super::fence::{code, fence};
use super::sanitize::{sanitize, sanitize_output};

const CORE: &str = include_str!("../../../../prompts/core.md.j2");
const TASK: &str = include_str!("../../../../prompts/task.md.j2");
const FEEDBACK: &str = include_str!("../../../../prompts/feedback.md.j2");
const STEER: &str = include_str!("../../../../prompts/steer.md.j2");
const REVIEW: &str = include_str!("../../../../prompts/review.md.j2");
const PLAN: &str = include_str!("../../../../prompts/plan.md.j2");
const ROUTE: &str = include_str!("../../../../prompts/route.md.j2");
const PEER_REVIEW: &str = include_str!("../../../../prompts/peer_review.md.j2");
const PEER_FIX: &str = include_str!("../../../../prompts/peer_fix.md.j2");

/// The whole prompt never exceeds this many characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// Issue body cap (the beginning is kept).
pub const MAX_BODY_CHARS: usize = 20_000;
/// Cap for each comment (the beginning is kept).
pub const MAX_COMMENT_CHARS: usize = 5_000;
/// At most this many comments, the newest.
pub const MAX_COMMENTS: usize = 30;
/// Cap for each gate's output (the end is kept: that is where failures and summaries are).
pub const MAX_OUTPUT_TAIL_CHARS: usize = 8_000;
/// Cap for the repository's instructions file.
pub const MAX_INSTRUCTIONS_CHARS: usize = 20_000;
/// Cap for the @mention request (a comment, in effect).
pub const MAX_REQUEST_CHARS: usize = MAX_COMMENT_CHARS;
/// Cap for the diff a reviewing agent reads (the beginning is kept; the rest is in its workspace).
/// Applied up front and never shrunk by the budget: with every other piece at its floor, the
/// prompt still fits.
pub const MAX_DIFF_CHARS: usize = 40_000;
/// GitHub itself limits titles to 256 characters.
const MAX_TITLE_CHARS: usize = 256;
/// The end of the previous attempt's failure kept in a retry's prompt.
const MAX_PREVIOUS_FAILURE_CHARS: usize = 2_000;
/// Gates listed and gate failures reported; more would be a configuration mistake.
const MAX_GATES: usize = 20;
const MAX_GATE_LINE_CHARS: usize = 500;
/// Review threads shown, comments per thread, and the end of each thread's diff hunk kept.
const MAX_THREADS: usize = 30;
const MAX_THREAD_COMMENTS: usize = 10;
const MAX_HUNK_CHARS: usize = 3_000;
/// Reviewer findings sent back to the implementer, and the cap on each finding's file path.
const MAX_PEER_FINDINGS: usize = 30;
const MAX_PATH_CHARS: usize = 300;
/// A finding's severity is one word (`blocker`, `concern`, `nit`).
const MAX_SEVERITY_CHARS: usize = 20;
/// Learnings shown, and the cap on each (they are written as one short line): small enough that
/// the section never needs to shrink for the budget.
const MAX_LEARNINGS: usize = 10;
const MAX_LEARNING_CHARS: usize = 400;

/// Everything the prompt is built from. Comments are already filtered to trusted authors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptInput {
    /// `owner/name`.
    pub repo: String,
    pub issue_number: u64,
    pub issue_title: String,
    pub issue_body: String,
    pub issue_author: String,
    /// Oldest first, as GitHub lists them; already filtered to trusted authors by the caller.
    pub comments: Vec<PromptComment>,
    pub repo_instructions: Option<RepoInstructions>,
    pub branch: String,
    /// `"name: command"`, from the repository's configuration.
    pub gates: Vec<String>,
    /// The free-text command from the @mention, if any.
    pub request: Option<String>,
    /// 1-based.
    pub round: u32,
    pub max_rounds: u32,
    /// The gates that failed in the previous round (used when `round > 1`).
    pub feedback: Vec<GateFeedback>,
    /// How the previous attempt of this task ended, when it failed: a retry starts knowing it.
    pub previous_failure: Option<String>,
    /// Whether trusted people added instructions since the previous round.
    pub new_instructions: bool,
    /// Review feedback on the task's pull request, for runs that answer a review.
    pub review: Option<ReviewInput>,
    /// For runs that break the issue down into sub-issues instead of changing code.
    pub plan: Option<PlanInput>,
    /// For a second agent's run that reviews the change instead of making one. Takes precedence
    /// over `review`, `plan` and the later-round layers.
    pub peer_review: Option<PeerReviewInput>,
    /// What reviewing agents found in the previous round's change (used when `round > 1`): the
    /// implementer's fix round, instead of gate feedback or new instructions.
    pub peer_findings: Vec<PeerFinding>,
    /// What earlier runs in the repository learned (failed gates, reviewers' requests), most
    /// relevant first, one line each. Written by bosun from untrusted text, so quoted as data.
    pub learnings: Vec<String>,
}

/// For a reviewer's run: the change to review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerReviewInput {
    /// The change as a unified diff against its base (git's patch format).
    pub diff: String,
    /// The implementing agent's own summary of the change (its final message).
    pub summary: String,
    /// Why bosun could not read this reviewer's previous verdict, when it asks again.
    pub problem: Option<String>,
}

/// A reviewer's finding the implementer must fix in its next round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFinding {
    /// `blocker`, `concern` or `nit` (only blockers are sent back today; any is rendered).
    pub severity: String,
    /// Relative to the repository's root; `None` for a finding about the whole change.
    pub file: Option<String>,
    /// In the new version of `file`.
    pub line: Option<u64>,
    pub text: String,
}

/// What a planner is allowed to return, and why its previous plan was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanInput {
    pub max_parts: usize,
    /// The agents a part may suggest.
    pub agents: Vec<String>,
    /// bosun's reason for refusing the previous round's plan.
    pub problem: Option<String>,
}

/// The review threads a run answers, already filtered to trusted authors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewInput {
    pub pr: u64,
    pub threads: Vec<PromptThread>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptThread {
    /// The short id the agent reports on (`T1`, `T2`…).
    pub key: String,
    pub path: String,
    pub line: Option<u64>,
    pub diff_hunk: String,
    /// Oldest first.
    pub comments: Vec<PromptComment>,
    /// Arrived since the previous round.
    pub new: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptComment {
    pub author: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInstructions {
    /// `"AGENTS.md"`, `"CLAUDE.md"` or `".github/bosun.yml instructions"`.
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFeedback {
    pub gate: String,
    pub command: String,
    /// `None` when the command was killed (timeout, signal).
    pub exit_code: Option<i64>,
    pub output_tail: String,
}

/// A template failed to compile or render: a bug in bosun, never caused by input data.
#[derive(Debug)]
pub enum PromptError {
    Template(minijinja::Error),
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PromptError::Template(err) => write!(f, "prompt template error: {err:#}"),
        }
    }
}

impl std::error::Error for PromptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PromptError::Template(err) => Some(err),
        }
    }
}

impl From<minijinja::Error> for PromptError {
    fn from(err: minijinja::Error) -> Self {
        PromptError::Template(err)
    }
}

/// Renders the prompt for one agent round. Never longer than [`MAX_PROMPT_CHARS`]: when the
/// capped pieces still add up to more, the oldest comments go first, then the repository's
/// instructions, the gate outputs and the body shrink toward a floor (see `budget`).
pub fn render_prompt(input: &PromptInput) -> Result<String, PromptError> {
    let env = environment()?;
    let clean = Clean::new(input);
    let mut budget = Budget::new(clean.comments.len());
    // Each shrink step frees at least what was over, so two or three renders are the norm.
    for _ in 0..16 {
        let prompt = render_once(&env, input, &clean, &budget)?;
        let len = prompt.chars().count();
        if len <= MAX_PROMPT_CHARS {
            return Ok(prompt);
        }
        if !budget.shrink(len - MAX_PROMPT_CHARS, &clean.sizes()) {
            // Only reachable if the fixed-size parts alone were too long; keep the rules.
            return Ok(keep_head(&prompt, MAX_PROMPT_CHARS));
        }
    }
    let prompt = render_once(&env, input, &clean, &budget)?;
    Ok(keep_head(&prompt, MAX_PROMPT_CHARS))
}

/// The template environment: strict undefined, no auto-escaping (this is Markdown for a model,
/// and escaping would change quoted text), block tags that leave no blank lines behind.
pub(super) fn environment() -> Result<Environment<'static>, PromptError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("fence", |value: &str| fence(value));
    env.add_filter("code", |value: &str| code(value));
    env.add_template("core.md.j2", CORE)?;
    env.add_template("task.md.j2", TASK)?;
    env.add_template("feedback.md.j2", FEEDBACK)?;
    env.add_template("steer.md.j2", STEER)?;
    env.add_template("review.md.j2", REVIEW)?;
    env.add_template("plan.md.j2", PLAN)?;
    env.add_template("route.md.j2", ROUTE)?;
    env.add_template("peer_review.md.j2", PEER_REVIEW)?;
    env.add_template("peer_fix.md.j2", PEER_FIX)?;
    Ok(env)
}

fn render_once(
    env: &Environment<'static>,
    input: &PromptInput,
    clean: &Clean,
    budget: &Budget,
) -> Result<String, PromptError> {
    let ctx = Context::new(input, clean, budget);
    let mut layers = vec!["core.md.j2", "task.md.j2"];
    if input.peer_review.is_some() {
        // A reviewer reads the issue and the change; nothing meant for the implementer.
        layers.push("peer_review.md.j2");
        return join_layers(env, &layers, &ctx);
    }
    if input.review.is_some() {
        layers.push("review.md.j2");
    }
    if input.plan.is_some() {
        layers.push("plan.md.j2");
    }
    // A later round follows a reviewer's blockers, failing gates, instructions written
    // meanwhile, or new review threads (those are marked in the review layer).
    if input.round > 1 && !input.peer_findings.is_empty() {
        layers.push("peer_fix.md.j2");
    } else if input.round > 1 && !input.feedback.is_empty() {
        layers.push("feedback.md.j2");
    } else if input.round > 1 && input.new_instructions {
        layers.push("steer.md.j2");
    }
    join_layers(env, &layers, &ctx)
}

fn join_layers(
    env: &Environment<'static>,
    layers: &[&str],
    ctx: &Context,
) -> Result<String, PromptError> {
    let mut prompt = String::new();
    for name in layers {
        let text = env.get_template(name)?.render(ctx)?;
        if !prompt.is_empty() {
            prompt.push_str("\n\n");
        }
        prompt.push_str(text.trim());
    }
    prompt.push('\n');
    Ok(prompt)
}

/// The input after sanitizing, before length caps (the caps may need to be applied again, tighter).
struct Clean {
    repo: String,
    title: String,
    author: String,
    body: String,
    /// Newest [`MAX_COMMENTS`] non-empty comments, oldest first, each already capped.
    comments: Vec<(String, String)>,
    /// Comments left out by the count cap.
    comments_dropped: usize,
    request: Option<String>,
    instructions: Option<(String, String)>,
    gates: Vec<String>,
    feedback: Vec<CleanFeedback>,
    previous_failure: Option<String>,
    review: Option<CleanReview>,
    plan: Option<CleanPlan>,
    peer_review: Option<CleanPeerReview>,
    peer_findings: Vec<CleanFinding>,
    /// Findings left out by the count cap.
    peer_findings_dropped: usize,
    /// The learnings as one list (`- note` lines), `None` without any.
    learnings: Option<String>,
}

#[derive(Serialize)]
struct CleanPeerReview {
    summary: String,
    diff: String,
    /// Whether the diff was longer than [`MAX_DIFF_CHARS`] (the prompt says where the rest is).
    diff_cut: bool,
    problem: Option<String>,
}

#[derive(Serialize)]
struct CleanFinding {
    severity: String,
    /// `path` or `path:line`; `None` for a finding about the whole change.
    location: Option<String>,
    text: String,
}

#[derive(Serialize)]
struct CleanPlan {
    max_parts: usize,
    agents: Vec<String>,
    problem: Option<String>,
}

#[derive(Serialize)]
struct CleanReview {
    pr: u64,
    threads: Vec<CleanThread>,
}

#[derive(Serialize)]
struct CleanThread {
    key: String,
    path: String,
    line: Option<u64>,
    diff_hunk: String,
    comments: Vec<(String, String)>,
    new: bool,
}

struct CleanFeedback {
    gate: String,
    command: String,
    exit_code: Option<i64>,
    output: String,
}

impl Clean {
    fn new(input: &PromptInput) -> Self {
        let comments: Vec<(String, String)> = input
            .comments
            .iter()
            .map(|c| (login(&c.author), sanitize(&c.body)))
            .filter(|(_, body)| !body.is_empty())
            .collect();
        // A comment with nothing visible left (only a hidden marker, say) is not "omitted":
        // there was nothing to read. Only the count cap is reported.
        let skip = comments.len().saturating_sub(MAX_COMMENTS);
        let comments = comments
            .into_iter()
            .skip(skip)
            .map(|(author, body)| (author, keep_head(&body, MAX_COMMENT_CHARS)))
            .collect();
        Clean {
            repo: repo_name(&input.repo),
            title: keep_head(&one_line(&sanitize(&input.issue_title)), MAX_TITLE_CHARS),
            author: login(&input.issue_author),
            body: sanitize(&input.issue_body),
            comments,
            comments_dropped: skip,
            request: input
                .request
                .as_deref()
                .map(|r| keep_head(&sanitize(r), MAX_REQUEST_CHARS))
                .filter(|r| !r.is_empty()),
            previous_failure: input
                .previous_failure
                .as_deref()
                .map(|f| keep_tail(&sanitize_output(f), MAX_PREVIOUS_FAILURE_CHARS))
                .filter(|f| !f.is_empty()),
            instructions: input.repo_instructions.as_ref().map(|ri| {
                let source = keep_head(&one_line(&sanitize(&ri.source)), 100);
                (source, sanitize(&ri.text))
            }),
            gates: input
                .gates
                .iter()
                .take(MAX_GATES)
                .map(|g| keep_head(&sanitize_output(g), MAX_GATE_LINE_CHARS))
                .collect(),
            feedback: input
                .feedback
                .iter()
                .take(MAX_GATES)
                .map(|f| CleanFeedback {
                    gate: keep_head(&one_line(&sanitize_output(&f.gate)), 100),
                    command: keep_head(&sanitize_output(&f.command), MAX_GATE_LINE_CHARS),
                    exit_code: f.exit_code,
                    output: sanitize_output(&f.output_tail),
                })
                .collect(),
            review: input.review.as_ref().map(|r| CleanReview {
                pr: r.pr,
                threads: r
                    .threads
                    .iter()
                    .take(MAX_THREADS)
                    .map(|t| CleanThread {
                        key: t.key.chars().filter(char::is_ascii_alphanumeric).collect(),
                        path: keep_head(&one_line(&sanitize(&t.path)), 300),
                        line: t.line,
                        diff_hunk: keep_tail(&sanitize_output(&t.diff_hunk), MAX_HUNK_CHARS),
                        comments: t
                            .comments
                            .iter()
                            .take(MAX_THREAD_COMMENTS)
                            .map(|c| {
                                let body = keep_head(&sanitize(&c.body), MAX_COMMENT_CHARS);
                                (login(&c.author), body)
                            })
                            .filter(|(_, body)| !body.is_empty())
                            .collect(),
                        new: t.new,
                    })
                    .collect(),
            }),
            plan: input.plan.as_ref().map(|p| CleanPlan {
                max_parts: p.max_parts,
                agents: p.agents.iter().map(|a| one_line(&sanitize(a))).collect(),
                problem: p
                    .problem
                    .as_deref()
                    .map(|why| keep_head(&sanitize(why), MAX_REQUEST_CHARS)),
            }),
            peer_review: input.peer_review.as_ref().map(|p| {
                let diff = sanitize_output(&p.diff);
                CleanPeerReview {
                    summary: keep_head(&sanitize(&p.summary), MAX_REQUEST_CHARS),
                    diff_cut: diff.chars().count() > MAX_DIFF_CHARS,
                    diff: keep_head(&diff, MAX_DIFF_CHARS),
                    problem: p
                        .problem
                        .as_deref()
                        .map(|why| keep_head(&sanitize(why), MAX_REQUEST_CHARS))
                        .filter(|why| !why.is_empty()),
                }
            }),
            peer_findings: input
                .peer_findings
                .iter()
                .take(MAX_PEER_FINDINGS)
                .map(clean_finding)
                .collect(),
            peer_findings_dropped: input.peer_findings.len().saturating_sub(MAX_PEER_FINDINGS),
            learnings: clean_learnings(&input.learnings),
        }
    }

    /// Lengths in chars of the parts a [`Budget`] can shrink.
    fn sizes(&self) -> super::budget::Sizes {
        let chars = |s: &str| s.chars().count();
        super::budget::Sizes {
            comments: self
                .comments
                .iter()
                .map(|(author, body)| chars(author) + chars(body))
                .collect(),
            instructions: self.instructions.as_ref().map_or(0, |(_, t)| chars(t)),
            outputs: self.feedback.iter().map(|f| chars(&f.output)).collect(),
            body: chars(&self.body),
        }
    }
}

/// Each learning on one line of its own (a note that spans lines could pass for two), cleaned
/// and capped, as a Markdown list for one fence.
fn clean_learnings(learnings: &[String]) -> Option<String> {
    let lines: Vec<String> = learnings
        .iter()
        .map(|l| keep_head(&one_line(&sanitize(l)), MAX_LEARNING_CHARS))
        .map(|l| one_line(&l))
        .filter(|l| !l.is_empty())
        .take(MAX_LEARNINGS)
        .map(|l| format!("- {l}"))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn clean_finding(finding: &PeerFinding) -> CleanFinding {
    let severity: String = finding
        .severity
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(MAX_SEVERITY_CHARS)
        .collect::<String>()
        .to_ascii_lowercase();
    let file = finding
        .file
        .as_deref()
        .map(|f| keep_head(&one_line(&sanitize(f)), MAX_PATH_CHARS))
        .filter(|f| !f.is_empty());
    CleanFinding {
        severity: if severity.is_empty() {
            "unspecified".to_string()
        } else {
            severity
        },
        // A line number means nothing without its file.
        location: file.map(|f| match finding.line {
            Some(line) => format!("{f}:{line}"),
            None => f,
        }),
        text: keep_head(&sanitize(&finding.text), MAX_COMMENT_CHARS),
    }
}

/// What the templates see.
#[derive(Serialize)]
struct Context<'a> {
    repo: &'a str,
    issue_number: u64,
    branch: &'a str,
    round: u32,
    max_rounds: u32,
    issue_title: &'a str,
    issue_author: &'a str,
    issue_body: String,
    comments: Vec<ContextComment<'a>>,
    comments_omitted: usize,
    request: Option<&'a str>,
    previous_failure: Option<&'a str>,
    repo_instructions: Option<ContextInstructions<'a>>,
    gates: &'a [String],
    feedback: Vec<ContextFeedback<'a>>,
    review: Option<&'a CleanReview>,
    plan: Option<&'a CleanPlan>,
    peer_review: Option<&'a CleanPeerReview>,
    peer_findings: &'a [CleanFinding],
    peer_findings_omitted: usize,
    learnings: Option<&'a str>,
}

#[derive(Serialize)]
struct ContextComment<'a> {
    author: &'a str,
    body: &'a str,
}

#[derive(Serialize)]
struct ContextInstructions<'a> {
    source: &'a str,
    text: String,
}

#[derive(Serialize)]
struct ContextFeedback<'a> {
    gate: &'a str,
    command: &'a str,
    exit_code: Option<i64>,
    output: String,
}

impl<'a> Context<'a> {
    fn new(input: &'a PromptInput, clean: &'a Clean, budget: &Budget) -> Self {
        let kept = budget.comments.min(clean.comments.len());
        let first = clean.comments.len() - kept;
        Context {
            repo: &clean.repo,
            issue_number: input.issue_number,
            branch: &input.branch,
            round: input.round,
            max_rounds: input.max_rounds.max(input.round),
            issue_title: &clean.title,
            issue_author: &clean.author,
            issue_body: keep_head(&clean.body, budget.body),
            comments: clean.comments[first..]
                .iter()
                .map(|(author, body)| ContextComment { author, body })
                .collect(),
            comments_omitted: clean.comments_dropped + first,
            request: clean.request.as_deref(),
            previous_failure: clean.previous_failure.as_deref(),
            repo_instructions: clean.instructions.as_ref().map(|(source, text)| {
                ContextInstructions {
                    source,
                    text: keep_head(text, budget.instructions),
                }
            }),
            gates: &clean.gates,
            feedback: clean
                .feedback
                .iter()
                .map(|f| ContextFeedback {
                    gate: &f.gate,
                    command: &f.command,
                    exit_code: f.exit_code,
                    output: keep_tail(&f.output, budget.output),
                })
                .collect(),
            // A reviewer's prompt has no other mode: its core and task layers must not take the
            // review or plan variants.
            review: clean
                .review
                .as_ref()
                .filter(|_| clean.peer_review.is_none()),
            plan: clean.plan.as_ref().filter(|_| clean.peer_review.is_none()),
            peer_review: clean.peer_review.as_ref(),
            peer_findings: &clean.peer_findings,
            peer_findings_omitted: clean.peer_findings_dropped,
            learnings: clean.learnings.as_deref(),
        }
    }
}

/// A GitHub login as it may appear after `@`: letters, digits, `-`, and `[bot]`. Logins come from
/// the API, so this only guards against a caller passing something else.
fn login(raw: &str) -> String {
    let name: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '[' | ']'))
        .take(64)
        .collect();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// `owner/name` with only the characters GitHub allows there.
fn repo_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        .take(200)
        .collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
