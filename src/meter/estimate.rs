//! What a model call may cost at most, read from its request before it is sent: the proxy
//! reserves it against the run's budget while the call is in flight (so parallel calls cannot
//! each be admitted against the same unspent budget), and charges it for a call whose answer
//! carried no readable usage.

use super::prices::PriceTable;
use super::usage::{Api, Usage};
use serde_json::Value;

/// The output a call is assumed to ask for when its request sets no limit (OpenAI's Responses
/// API lets it go unset; the CLIs that leave it out get long answers).
pub(crate) const UNSET_MAX_OUTPUT: u64 = 32_000;

/// Bytes of request per token, rounded down so the estimate stays above what the provider
/// counts for ordinary text and code (about four bytes a token).
const BYTES_PER_TOKEN: u64 = 3;

/// What the request says about its cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallFacts {
    /// The model the request names (Gemini: the one its path names).
    pub(crate) model: Option<String>,
    /// The most output it asks for.
    pub(crate) max_output: Option<u64>,
    /// The request body's length in bytes: everything in it is input.
    pub(crate) body_len: u64,
}

impl CallFacts {
    /// Reads the facts from a call's JSON body; `path_model` is the model a Gemini path names.
    pub(crate) fn read(
        api: Api,
        json: &Value,
        path_model: Option<&str>,
        body_len: usize,
    ) -> CallFacts {
        let number = |pointer: &str| json.pointer(pointer).and_then(Value::as_u64);
        let max_output = match api {
            Api::AnthropicMessages => number("/max_tokens"),
            Api::OpenAiResponses => number("/max_output_tokens"),
            Api::OpenAiChatCompletions => {
                number("/max_completion_tokens").or_else(|| number("/max_tokens"))
            }
            Api::GeminiGenerateContent => number("/generationConfig/maxOutputTokens"),
        };
        let model = path_model
            .map(str::to_owned)
            .or_else(|| json.get("model").and_then(Value::as_str).map(str::to_owned));
        CallFacts {
            model,
            max_output,
            body_len: body_len as u64,
        }
    }

    /// The usage the call may come to at most.
    pub(crate) fn ceiling(&self) -> Usage {
        Usage {
            input_tokens: self.body_len.div_ceil(BYTES_PER_TOKEN),
            output_tokens: self.max_output.unwrap_or(UNSET_MAX_OUTPUT),
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        }
    }
}

/// A call's reservation: its ceiling in tokens and in micro-USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Estimate {
    pub(crate) tokens: u64,
    pub(crate) micro_usd: u64,
}

impl Estimate {
    /// The ceiling priced at the model's rates, or at the table's highest when the model has
    /// none (the call is then refused under a dollar budget, see `Run::admit`).
    pub(crate) fn of(facts: &CallFacts, prices: &PriceTable) -> Estimate {
        let ceiling = facts.ceiling();
        let micro_usd = facts
            .model
            .as_deref()
            .and_then(|model| prices.cost_micro_usd(model, &ceiling))
            .unwrap_or_else(|| prices.highest_cost_micro_usd(&ceiling));
        Estimate {
            tokens: ceiling.total(),
            micro_usd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::ModelPrice;
    use serde_json::json;

    #[test]
    fn each_api_names_its_output_limit_and_model() {
        let facts = CallFacts::read(
            Api::AnthropicMessages,
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 1024}),
            None,
            300,
        );
        assert_eq!(facts.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(facts.max_output, Some(1024));
        assert_eq!(facts.ceiling().input_tokens, 100);
        let responses = CallFacts::read(Api::OpenAiResponses, &json!({"model": "gpt-5"}), None, 3);
        assert_eq!(responses.ceiling().output_tokens, UNSET_MAX_OUTPUT);
        let chat = json!({"model": "m", "max_tokens": 5, "max_completion_tokens": 7});
        let chat = CallFacts::read(Api::OpenAiChatCompletions, &chat, None, 0);
        assert_eq!(chat.max_output, Some(7));
        let gemini = json!({"generationConfig": {"maxOutputTokens": 64}});
        let gemini = CallFacts::read(
            Api::GeminiGenerateContent,
            &gemini,
            Some("gemini-2.5-pro"),
            0,
        );
        assert_eq!(
            (gemini.model.as_deref(), gemini.max_output),
            (Some("gemini-2.5-pro"), Some(64))
        );
    }

    #[test]
    fn an_unpriced_model_is_estimated_at_the_highest_rates() {
        let price = |input: f64, output: f64| ModelPrice {
            input,
            output,
            cache_read: None,
            cache_write: None,
        };
        let prices = PriceTable::new()
            .with("cheap", price(1.0, 2.0))
            .unwrap()
            .with("dear", price(3.0, 15.0))
            .unwrap();
        let facts = |model: &str| CallFacts {
            model: Some(model.into()),
            max_output: Some(1_000_000),
            body_len: 3_000_000,
        };
        // A million tokens in and out: $1 + $2, and unpriced at $3 + $15.
        assert_eq!(Estimate::of(&facts("cheap"), &prices).micro_usd, 3_000_000);
        assert_eq!(
            Estimate::of(&facts("unknown"), &prices).micro_usd,
            18_000_000
        );
        assert_eq!(Estimate::of(&facts("cheap"), &prices).tokens, 2_000_000);
    }
}
