//! The agent prompt: bosun's rules, the repository's instructions, the issue and, from round 2 on,
//! the gate failures (or a reviewing agent's blockers), rendered from the templates in
//! `prompts/`. A reviewing agent's prompt quotes the change's diff instead of asking for one.
//!
//! Untrusted text (issue title, body, comments, the @mention request, repository instructions,
//! gate output, what earlier runs learned) is cleaned by [`sanitize`] (what a reader on GitHub
//! cannot see is removed), capped in length, and quoted in a fence it cannot close (trust
//! rule 2). The agent is told that quoted text is data; the cleaning makes sure it is at least
//! data the triggering maintainer could see.
//!
//! Self-contained on purpose (std, `minijinja`, `serde`; only `self::`/`super::` paths) so it
//! can be built and tested on its own.

mod budget;
mod caps;
mod chars;
pub mod fence;
mod html;
mod md_image;
pub mod render;
mod route;
pub mod sanitize;

pub use render::{
    render_prompt, GateFeedback, PeerFinding, PeerReviewInput, PlanInput, PromptComment,
    PromptError, PromptInput, PromptThread, RepoInstructions, ReviewInput, MAX_BODY_CHARS,
    MAX_COMMENTS, MAX_COMMENT_CHARS, MAX_DIFF_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_OUTPUT_TAIL_CHARS,
    MAX_PROMPT_CHARS, MAX_REQUEST_CHARS,
};
pub use route::{render_route_prompt, RouteInput};
pub use sanitize::{sanitize, sanitize_output};
