//! Fitting the prompt into its total cap. Each piece has its own cap already; when they still add
//! up to too much, pieces give way in order of how little the agent loses:
//! 1. the oldest comments (the newest carry the latest decisions);
//! 2. the repository's instructions, down to [`FLOOR_INSTRUCTIONS`] (the agent can read the file
//!    in the workspace);
//! 3. the gate output tails, down to [`FLOOR_OUTPUT`] each (the last lines matter most);
//! 4. the issue body, down to [`FLOOR_BODY`] (it is the task, so it goes last).
//!
//! Title, request, gate commands, learnings (at most ten lines of 400 characters) and bosun's
//! own text are small and capped; they never shrink. Nor does a reviewer's diff: it is capped up
//! front at `MAX_DIFF_CHARS`, and with every other piece at its cap or floor the prompt still
//! fits (a test renders that worst case), so the change under review is what stays whole.

use super::render::{MAX_BODY_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_OUTPUT_TAIL_CHARS};

pub const FLOOR_INSTRUCTIONS: usize = 2_000;
pub const FLOOR_OUTPUT: usize = 1_000;
pub const FLOOR_BODY: usize = 2_000;
/// What a quoted comment costs besides its author and body: "@… wrote:", the fence, blank lines.
const COMMENT_OVERHEAD: usize = 24;
/// Extra room per step for the "[… N characters omitted …]" markers that cutting adds.
const SLACK: usize = 64;

/// Current caps; rendering applies them to the sanitized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// How many of the newest comments are kept.
    pub comments: usize,
    pub instructions: usize,
    pub output: usize,
    pub body: usize,
}

/// Lengths in chars of what a budget can cut (comments oldest first).
#[derive(Debug, Clone, Default)]
pub struct Sizes {
    pub comments: Vec<usize>,
    pub instructions: usize,
    pub outputs: Vec<usize>,
    pub body: usize,
}

impl Budget {
    pub fn new(comments: usize) -> Self {
        Budget {
            comments,
            instructions: MAX_INSTRUCTIONS_CHARS,
            output: MAX_OUTPUT_TAIL_CHARS,
            body: MAX_BODY_CHARS,
        }
    }

    /// Tightens the budget to free at least `excess` chars. False when nothing can give way.
    pub fn shrink(&mut self, excess: usize, sizes: &Sizes) -> bool {
        let need = excess + SLACK;
        let kept = self.comments.min(sizes.comments.len());
        if kept > 0 {
            let oldest_kept = &sizes.comments[sizes.comments.len() - kept..];
            let mut freed = 0;
            for size in oldest_kept {
                self.comments -= 1;
                freed += size + COMMENT_OVERHEAD;
                if freed >= need {
                    break;
                }
            }
            return true;
        }
        if let Some(cap) = lower_cap(
            &[sizes.instructions],
            self.instructions,
            FLOOR_INSTRUCTIONS,
            need,
        ) {
            self.instructions = cap;
            return true;
        }
        if let Some(cap) = lower_cap(&sizes.outputs, self.output, FLOOR_OUTPUT, need) {
            self.output = cap;
            return true;
        }
        if let Some(cap) = lower_cap(&[sizes.body], self.body, FLOOR_BODY, need) {
            self.body = cap;
            return true;
        }
        false
    }
}

/// The largest cap in `floor..cap` that frees at least `need` chars across `lens` (or `floor`
/// when none does); `None` when no cap down to `floor` frees anything.
fn lower_cap(lens: &[usize], cap: usize, floor: usize, need: usize) -> Option<usize> {
    let freed = |c: usize| -> usize { lens.iter().map(|&l| l.min(cap) - l.min(c)).sum() };
    if cap <= floor || freed(floor) == 0 {
        return None;
    }
    if freed(floor) < need {
        return Some(floor);
    }
    // freed() falls as the cap rises: find the largest cap that still frees enough.
    let (mut lo, mut hi) = (floor, cap);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if freed(mid) >= need {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_comments_go_first_just_enough() {
        let mut budget = Budget::new(3);
        let sizes = Sizes {
            comments: vec![1000, 1000, 1000],
            body: 50_000,
            ..Sizes::default()
        };
        assert!(budget.shrink(500, &sizes));
        assert_eq!(budget.comments, 2);
        assert!(budget.shrink(1500, &sizes));
        assert_eq!(budget.comments, 0);
        assert_eq!(budget.body, MAX_BODY_CHARS);
    }

    #[test]
    fn then_instructions_outputs_body_down_to_floors() {
        let mut budget = Budget::new(0);
        let sizes = Sizes {
            comments: vec![],
            instructions: 10_000,
            outputs: vec![8_000, 100],
            body: 20_000,
        };
        assert!(budget.shrink(1_000, &sizes));
        assert_eq!(budget.instructions, 10_000 - 1_000 - SLACK);
        assert!(budget.shrink(100_000, &sizes));
        assert_eq!(budget.instructions, FLOOR_INSTRUCTIONS);
        assert!(budget.shrink(3_000, &sizes));
        assert_eq!(budget.output, 8_000 - 3_000 - SLACK);
        assert!(budget.shrink(100_000, &sizes));
        assert_eq!(budget.output, FLOOR_OUTPUT);
        assert!(budget.shrink(100_000, &sizes));
        assert_eq!(budget.body, FLOOR_BODY);
        assert!(!budget.shrink(1, &sizes));
    }

    #[test]
    fn short_pieces_are_skipped() {
        let mut budget = Budget::new(0);
        let sizes = Sizes {
            instructions: 1_500,
            outputs: vec![900],
            body: 25_000,
            ..Sizes::default()
        };
        assert!(budget.shrink(10, &sizes));
        assert_eq!(budget.instructions, MAX_INSTRUCTIONS_CHARS);
        assert_eq!(budget.output, MAX_OUTPUT_TAIL_CHARS);
        assert_eq!(budget.body, MAX_BODY_CHARS - 10 - SLACK);
    }

    #[test]
    fn lower_cap_spreads_over_several_outputs() {
        // Two long outputs share the cut.
        assert_eq!(
            lower_cap(&[8_000, 8_000, 10], 8_000, 1_000, 2_000),
            Some(7_000)
        );
        assert_eq!(lower_cap(&[500], 8_000, 1_000, 10), None);
        assert_eq!(lower_cap(&[], 8_000, 1_000, 10), None);
    }
}
