//! What a call costs: a table of per-model prices, in USD per million tokens, as operators write
//! them (the unit providers publish), turned into integer micro-USD so that adding up thousands
//! of calls never drifts the way float sums do.
//!
//! A model is looked up by its exact name, else by the longest configured prefix of it: requests
//! and responses name dated snapshots (`claude-sonnet-4-5-20250929`, `gpt-5-codex-2025-09-15`)
//! while price lists name families (`claude-sonnet-4-5`). An entry for the empty string `""` is a
//! prefix of every name and so acts as a catch-all for models the table does not list.
//!
//! A model with no entry has an unknown cost: the proxy counts such a call in
//! [`Spent::unpriced_calls`](super::Spent) and adds nothing to the USD total, so a USD budget
//! does not see it. Token budgets still apply to it. Operators who want unknown models held to
//! the USD budget give the table a `""` entry with a deliberately high price.

use super::usage::Usage;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The price of one model, in USD per million tokens, as configured.
///
/// `cache_read` and `cache_write` default to `input` when absent: never cheaper than the
/// provider's real price for reads (which are discounted), and the plain input price for cache
/// writes (Anthropic charges 1.25x or 2x for those; configure them to count exactly).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// A price that cannot be used: negative, not a number, or absurdly large.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("price of model {model:?}: {field} = {value} is not a usable USD-per-million-tokens price")]
pub struct PriceError {
    pub model: String,
    pub field: &'static str,
    pub value: f64,
}

/// Above this (USD per million tokens) a price is a typo, and refusing it keeps the integer
/// arithmetic far from overflow.
const MAX_PRICE_USD_PER_MTOK: f64 = 1_000_000.0;

/// Micro-USD per million tokens for the four kinds of tokens: the configured USD price times
/// 10^6, so that `tokens * rate / 10^6` is micro-USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rates {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

/// Model name (or name prefix) → price. Deserializes from a plain map, e.g. in JSON
/// `{"claude-sonnet-4-5": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}}`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "BTreeMap<String, ModelPrice>")]
pub struct PriceTable {
    models: BTreeMap<String, Rates>,
}

impl fmt::Debug for PriceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.models.keys()).finish()
    }
}

impl TryFrom<BTreeMap<String, ModelPrice>> for PriceTable {
    type Error = PriceError;

    fn try_from(map: BTreeMap<String, ModelPrice>) -> Result<Self, PriceError> {
        let mut table = PriceTable::default();
        for (model, price) in map {
            table.insert(model, price)?;
        }
        Ok(table)
    }
}

impl PriceTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the price of `model` (a full name or a prefix).
    pub fn insert(
        &mut self,
        model: impl Into<String>,
        price: ModelPrice,
    ) -> Result<(), PriceError> {
        let model = model.into();
        let rate = |field: &'static str, value: f64| -> Result<u64, PriceError> {
            if value.is_finite() && (0.0..=MAX_PRICE_USD_PER_MTOK).contains(&value) {
                Ok((value * 1_000_000.0).round() as u64)
            } else {
                Err(PriceError {
                    model: model.clone(),
                    field,
                    value,
                })
            }
        };
        let rates = Rates {
            input: rate("input", price.input)?,
            output: rate("output", price.output)?,
            cache_read: rate("cache_read", price.cache_read.unwrap_or(price.input))?,
            cache_write: rate("cache_write", price.cache_write.unwrap_or(price.input))?,
        };
        self.models.insert(model, rates);
        Ok(())
    }

    /// The same table with one more entry; for building tables in code.
    pub fn with(mut self, model: impl Into<String>, price: ModelPrice) -> Result<Self, PriceError> {
        self.insert(model, price)?;
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The table entry that prices `model`: the exact name, else the longest configured prefix.
    pub fn entry_for(&self, model: &str) -> Option<&str> {
        self.rates_for(model).map(|(name, _)| name)
    }

    fn rates_for(&self, model: &str) -> Option<(&str, &Rates)> {
        // The exact name is itself the longest possible prefix, so one rule covers both.
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(name, rates)| (name.as_str(), rates))
    }

    /// What `usage` of `model` costs, in micro-USD, rounded up (a call is never free because
    /// of rounding); `None` when the table has no price for the model.
    pub fn cost_micro_usd(&self, model: &str, usage: &Usage) -> Option<u64> {
        let (_, rates) = self.rates_for(model)?;
        Some(rates.cost(usage))
    }

    /// `usage` at the highest rate of each kind the table holds (0 for an empty table): what
    /// a call of a model without a price may cost at most.
    pub fn highest_cost_micro_usd(&self, usage: &Usage) -> u64 {
        let highest = |rate: fn(&Rates) -> u64| self.models.values().map(rate).max().unwrap_or(0);
        Rates {
            input: highest(|r| r.input),
            output: highest(|r| r.output),
            cache_read: highest(|r| r.cache_read),
            cache_write: highest(|r| r.cache_write),
        }
        .cost(usage)
    }
}

impl Rates {
    /// `usage` at these rates, in micro-USD, rounded up.
    fn cost(&self, usage: &Usage) -> u64 {
        let scaled = u128::from(usage.input_tokens) * u128::from(self.input)
            + u128::from(usage.output_tokens) * u128::from(self.output)
            + u128::from(usage.cache_read_tokens) * u128::from(self.cache_read)
            + u128::from(usage.cache_write_tokens) * u128::from(self.cache_write);
        u64::try_from(scaled.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            input,
            output,
            cache_read: None,
            cache_write: None,
        }
    }

    fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
        }
    }

    #[test]
    fn deserializes_from_a_map_and_defaults_cache_prices_to_input() {
        let table: PriceTable = serde_json::from_str(
            r#"{"claude-sonnet-4-5": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75},
                "gpt-5": {"input": 1.25, "output": 10}}"#,
        )
        .unwrap();
        // 1M of each kind at Sonnet prices: 3 + 15 + 0.30 + 3.75 USD.
        let million = usage(1_000_000, 1_000_000, 1_000_000, 1_000_000);
        assert_eq!(
            table.cost_micro_usd("claude-sonnet-4-5", &million),
            Some(22_050_000)
        );
        // No cache prices configured: both are charged at the input price.
        assert_eq!(
            table.cost_micro_usd("gpt-5", &usage(0, 0, 1_000_000, 1_000_000)),
            Some(2_500_000)
        );
    }

    #[test]
    fn unusable_prices_and_unknown_fields_are_refused() {
        assert!(
            serde_json::from_str::<PriceTable>(r#"{"m": {"input": -1, "output": 1}}"#).is_err()
        );
        assert!(serde_json::from_str::<PriceTable>(r#"{"m": {"input": 1}}"#).is_err());
        assert!(serde_json::from_str::<PriceTable>(
            r#"{"m": {"input": 1, "output": 1, "cahce_read": 1}}"#
        )
        .is_err());
        let err = PriceTable::new()
            .with("m", price(f64::NAN, 1.0))
            .unwrap_err();
        assert_eq!(err.field, "input");
    }

    #[test]
    fn lookup_is_exact_else_longest_prefix_else_none() {
        let table = PriceTable::new()
            .with("claude-sonnet-4", price(1.0, 1.0))
            .unwrap()
            .with("claude-sonnet-4-5", price(3.0, 15.0))
            .unwrap()
            .with("claude-sonnet-4-5-20250929", price(4.0, 16.0))
            .unwrap();
        assert_eq!(
            table.entry_for("claude-sonnet-4-5-20250929"),
            Some("claude-sonnet-4-5-20250929")
        );
        assert_eq!(
            table.entry_for("claude-sonnet-4-5-20991231"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            table.entry_for("claude-sonnet-4-20250514"),
            Some("claude-sonnet-4")
        );
        assert_eq!(table.entry_for("claude-opus-4-1"), None);
        assert_eq!(table.cost_micro_usd("gpt-5", &usage(1, 1, 1, 1)), None);
    }

    #[test]
    fn an_empty_prefix_is_a_catch_all() {
        let table = PriceTable::new()
            .with("", price(100.0, 100.0))
            .unwrap()
            .with("gpt-5", price(1.0, 1.0))
            .unwrap();
        assert_eq!(table.entry_for("some-new-model"), Some(""));
        assert_eq!(table.entry_for("gpt-5-codex"), Some("gpt-5"));
    }

    #[test]
    fn costs_are_exact_integers_rounded_up() {
        let table = PriceTable::new()
            .with(
                "m",
                ModelPrice {
                    input: 3.0,
                    output: 15.0,
                    cache_read: Some(0.3),
                    cache_write: Some(3.75),
                },
            )
            .unwrap();
        // 1000 input at $3/M = 3000 micro-USD; 200 output at $15/M = 3000; 10_000 cache reads
        // at $0.30/M = 3000; 400 cache writes at $3.75/M = 1500.
        assert_eq!(
            table.cost_micro_usd("m", &usage(1000, 200, 10_000, 400)),
            Some(10_500)
        );
        // One input token costs 3 micro-USD; one cache read 0.3, rounded up to 1.
        assert_eq!(table.cost_micro_usd("m", &usage(1, 0, 0, 0)), Some(3));
        assert_eq!(table.cost_micro_usd("m", &usage(0, 0, 1, 0)), Some(1));
        assert_eq!(table.cost_micro_usd("m", &Usage::default()), Some(0));
        // Huge counts saturate instead of wrapping.
        assert_eq!(
            table.cost_micro_usd("m", &usage(u64::MAX, u64::MAX, 0, 0)),
            Some(u64::MAX)
        );
    }
}
