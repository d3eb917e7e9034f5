//! Running usage totals, and the rule that a `Usage` event is emitted only on change.
//!
//! Consumers show a live counter; repeating an unchanged total on every line would be noise.

use super::{AgentEvent, Usage};

impl Usage {
    /// Field-wise sum; the cost is known if either side's is.
    pub(super) fn plus(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_add(other.cache_read_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_add(other.cache_write_tokens),
            cost_usd: match (self.cost_usd, other.cost_usd) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            },
        }
    }
}

/// Holds the current totals of one run.
#[derive(Default)]
pub(super) struct Meter {
    current: Usage,
}

impl Meter {
    pub(super) fn current(&self) -> Usage {
        self.current
    }

    /// Replaces the totals; returns the event to emit if they changed.
    pub(super) fn set(&mut self, totals: Usage) -> Option<AgentEvent> {
        if totals == self.current {
            None
        } else {
            self.current = totals;
            Some(AgentEvent::Usage(totals))
        }
    }

    /// Adds to the totals; returns the event to emit if they changed.
    pub(super) fn add(&mut self, more: Usage) -> Option<AgentEvent> {
        self.set(self.current.plus(more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, cost: Option<f64>) -> Usage {
        Usage {
            input_tokens: input,
            cost_usd: cost,
            ..Usage::default()
        }
    }

    #[test]
    fn plus_sums_fields_and_costs() {
        let sum = tokens(1, Some(0.5))
            .plus(tokens(2, None))
            .plus(tokens(3, Some(0.25)));
        assert_eq!(sum, tokens(6, Some(0.75)));
        assert_eq!(tokens(1, None).plus(tokens(1, None)).cost_usd, None);
    }

    #[test]
    fn meter_emits_only_on_change() {
        let mut m = Meter::default();
        assert_eq!(m.set(Usage::default()), None);
        assert_eq!(
            m.add(tokens(5, None)),
            Some(AgentEvent::Usage(tokens(5, None)))
        );
        assert_eq!(m.add(Usage::default()), None);
        assert_eq!(m.set(tokens(5, None)), None);
        assert_eq!(
            m.set(tokens(5, Some(0.0))),
            Some(AgentEvent::Usage(tokens(5, Some(0.0))))
        );
        assert_eq!(m.current(), tokens(5, Some(0.0)));
    }
}
