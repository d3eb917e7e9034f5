//! The runs the proxy knows: each run's token, budget and what it has spent so far.
//!
//! A run's token is `bosun-run-<id>-<64 hex digits from the OS's random source>`. The id part
//! only finds the run in a map (ids are sequential and not secret); the whole token is then
//! compared in constant time, so response timing says nothing about the secret part.
//!
//! Admission and accounting are one small mutex per run: a call is admitted only while the run
//! is under every budget it has, and its usage is added when its response ends. Calls admitted
//! before the budget was crossed are not stopped, so a run overshoots by at most the calls in
//! flight when it crossed (one call, for an agent that makes one call at a time).

use super::estimate::Estimate;
use super::prices::PriceTable;
use super::usage::{Reading, Usage};
use crate::github::secret::Secret;
use bosun_core::repo_config::ModelTool;
use rand::RngCore;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use subtle::ConstantTimeEq;

const TOKEN_PREFIX: &str = "bosun-run-";

/// Identifies a run registered with the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(u64);

impl RunId {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run-{}", self.0)
    }
}

/// Limits of one run; `None` is no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunBudget {
    /// All tokens of every kind (input, output, cache reads, cache writes), summed.
    pub max_tokens: Option<u64>,
    /// Cost in micro-USD (1 USD = 1,000,000), of the calls whose model has a price.
    pub max_micro_usd: Option<u64>,
}

/// What a run has used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Cost of the calls with a known price; calls counted in `unpriced_calls` add nothing.
    pub micro_usd: u64,
    /// Calls with usage whose model has no price in the table.
    pub unpriced_calls: u64,
    /// Tokens charged by estimate: for each unmetered call, the most its request allowed
    /// (its input and its output limit), also priced into `micro_usd`.
    pub estimated_tokens: u64,
    /// Successful calls to a metered endpoint whose response carried no readable usage (a chat
    /// stream without `include_usage`, a compressed body, a stream cut off before its usage).
    pub unmetered_calls: u64,
    /// Calls admitted and forwarded (or attempted) upstream.
    pub calls: u64,
    /// Calls refused because a budget was spent.
    pub refused: u64,
}

impl Spent {
    /// All tokens of every kind: what [`RunBudget::max_tokens`] is compared with.
    pub fn total_tokens(&self) -> u64 {
        self.usage().total().saturating_add(self.estimated_tokens)
    }

    fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens,
        }
    }

    fn add(&mut self, u: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(u.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(u.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(u.cache_read_tokens);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(u.cache_write_tokens);
    }
}

/// Which limit stopped a call, with the numbers for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exhausted {
    /// `used`: settled; `pending`: reserved by calls still being answered.
    Tokens {
        used: u64,
        pending: u64,
        max: u64,
    },
    MicroUsd {
        used: u64,
        pending: u64,
        max: u64,
    },
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usd = |n: u64| format!("${}.{:06}", n / 1_000_000, n % 1_000_000);
        match *self {
            Exhausted::Tokens { used, pending, max } => {
                write!(f, "token budget: {used} of {max} tokens used")?;
                if pending > 0 {
                    write!(f, ", up to {pending} more in calls still being answered")?;
                }
                Ok(())
            }
            Exhausted::MicroUsd { used, pending, max } => {
                write!(f, "USD budget: {} of {} used", usd(used), usd(max))?;
                if pending > 0 {
                    write!(
                        f,
                        ", up to {} more in calls still being answered",
                        usd(pending)
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug)]
struct RunState {
    budget: RunBudget,
    spent: Spent,
    ended: bool,
    in_flight: u64,
    /// What the calls in flight may still cost at most (their [`Estimate`]s).
    reserved: Estimate,
}

/// One registered run. Calls in flight hold it through their [`CallTicket`], so usage that
/// arrives after [`Runs::end`] is still added.
pub(crate) struct Run {
    id: RunId,
    token: Secret,
    /// Provider-side tools the run's repository allows (`model_tools:`).
    model_tools: Vec<ModelTool>,
    /// Provider-side tools taken out of its calls, each once, in order: shown to the task.
    stripped: Mutex<Vec<String>>,
    state: Mutex<RunState>,
}

impl Run {
    pub(crate) fn id(&self) -> RunId {
        self.id
    }

    /// Whether the run may ask the provider for the tool named `name` (bosun's name).
    pub(crate) fn allows_tool(&self, name: &str) -> bool {
        self.model_tools.iter().any(|tool| tool.name() == name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        // The state is plain counters: a panic elsewhere cannot leave them half-updated in a
        // way worth refusing service over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes provider-side tools taken out of one of the run's calls.
    pub(crate) fn note_stripped(&self, names: &[String]) {
        let mut stripped = self.stripped.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            if !stripped.contains(name) {
                stripped.push(name.clone());
            }
        }
    }

    /// Whether the run has a budget in dollars (a call of an unpriced model would slip past it).
    pub(crate) fn has_usd_budget(&self) -> bool {
        self.lock().budget.max_micro_usd.is_some()
    }

    /// Admits one call if what the run spent, plus what its calls in flight may still cost,
    /// is under every budget; counts a refusal otherwise. The call's own `estimate` is then
    /// reserved until it is settled, so calls made in parallel cannot each be admitted against
    /// the same unspent budget: a run overshoots by at most one call, however many it makes
    /// at once (when its estimates hold; see `estimate.rs`).
    pub(crate) fn admit(
        self: &Arc<Self>,
        prices: &Arc<PriceTable>,
        estimate: Estimate,
    ) -> Result<CallTicket, Exhausted> {
        let mut s = self.lock();
        let used_tokens = s.spent.total_tokens();
        let reserved = s.reserved;
        let over = match (s.budget.max_tokens, s.budget.max_micro_usd) {
            (Some(max), _) if used_tokens.saturating_add(reserved.tokens) >= max => {
                Some(Exhausted::Tokens {
                    used: used_tokens,
                    pending: reserved.tokens,
                    max,
                })
            }
            (_, Some(max)) if s.spent.micro_usd.saturating_add(reserved.micro_usd) >= max => {
                Some(Exhausted::MicroUsd {
                    used: s.spent.micro_usd,
                    pending: reserved.micro_usd,
                    max,
                })
            }
            _ => None,
        };
        if let Some(over) = over {
            s.spent.refused += 1;
            return Err(over);
        }
        s.spent.calls += 1;
        s.in_flight += 1;
        s.reserved.tokens = s.reserved.tokens.saturating_add(estimate.tokens);
        s.reserved.micro_usd = s.reserved.micro_usd.saturating_add(estimate.micro_usd);
        Ok(CallTicket {
            run: Arc::clone(self),
            prices: Arc::clone(prices),
            estimate,
        })
    }
}

/// An admitted call. Dropping it settles the call: [`CallTicket::settle`] first adds what its
/// response said it used.
pub(crate) struct CallTicket {
    run: Arc<Run>,
    prices: Arc<PriceTable>,
    /// Reserved at admission, released when the ticket is dropped; charged if the answer
    /// carries no readable usage.
    estimate: Estimate,
}

/// What settling one call counted; for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    pub(crate) usage: Option<Usage>,
    pub(crate) model: Option<String>,
    pub(crate) micro_usd: Option<u64>,
}

impl CallTicket {
    /// Adds the call's usage to its run. `metered` is false for responses that were not
    /// expected to carry usage (an error status, an endpoint that costs nothing).
    pub(crate) fn settle(self, reading: Reading, metered: bool) -> Settled {
        let Reading { usage, model } = reading;
        let mut cost = None;
        {
            let mut s = self.run.lock();
            match usage {
                Some(u) => {
                    s.spent.add(&u);
                    cost = model
                        .as_deref()
                        .and_then(|m| self.prices.cost_micro_usd(m, &u));
                    match cost {
                        Some(c) => s.spent.micro_usd = s.spent.micro_usd.saturating_add(c),
                        None => s.spent.unpriced_calls += 1,
                    }
                }
                // Counted as the most the request allowed: a stream cut short or an answer
                // the meter cannot read must not be free.
                None if metered => {
                    s.spent.unmetered_calls += 1;
                    let e = self.estimate;
                    s.spent.estimated_tokens = s.spent.estimated_tokens.saturating_add(e.tokens);
                    s.spent.micro_usd = s.spent.micro_usd.saturating_add(e.micro_usd);
                }
                None => {}
            }
        }
        Settled {
            usage,
            model,
            micro_usd: cost,
        }
    }
}

impl Drop for CallTicket {
    fn drop(&mut self) {
        let mut s = self.run.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.reserved.tokens = s.reserved.tokens.saturating_sub(self.estimate.tokens);
        s.reserved.micro_usd = s.reserved.micro_usd.saturating_sub(self.estimate.micro_usd);
    }
}

/// All runs, by id.
#[derive(Default)]
pub(crate) struct Runs {
    next_id: AtomicU64,
    by_id: RwLock<HashMap<u64, Arc<Run>>>,
}

impl Runs {
    /// A new run with its budget and the provider-side tools its repository allows.
    pub(crate) fn register(
        &self,
        budget: RunBudget,
        model_tools: Vec<ModelTool>,
    ) -> (RunId, Secret) {
        let id = RunId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = Secret::new(format!("{TOKEN_PREFIX}{}-{}", id.0, hex::encode(secret)));
        let run = Arc::new(Run {
            id,
            token: token.clone(),
            model_tools,
            stripped: Mutex::new(Vec::new()),
            state: Mutex::new(RunState {
                budget,
                spent: Spent::default(),
                ended: false,
                in_flight: 0,
                reserved: Estimate::default(),
            }),
        });
        self.write().insert(id.0, run);
        (id, token)
    }

    /// The live run this token belongs to; `None` for a malformed, unknown or ended token.
    pub(crate) fn authenticate(&self, token: &str) -> Option<Arc<Run>> {
        let id: u64 = token
            .strip_prefix(TOKEN_PREFIX)?
            .split_once('-')?
            .0
            .parse()
            .ok()?;
        let run = self.read().get(&id).cloned()?;
        let matches: bool = run.token.expose().as_bytes().ct_eq(token.as_bytes()).into();
        (matches && !run.lock().ended).then_some(run)
    }

    pub(crate) fn spent(&self, id: RunId) -> Option<Spent> {
        let run = self.read().get(&id.0).cloned()?;
        let spent = run.lock().spent;
        Some(spent)
    }

    /// The provider-side tools taken out of the run's calls so far.
    pub(crate) fn stripped(&self, id: RunId) -> Vec<String> {
        let Some(run) = self.read().get(&id.0).cloned() else {
            return Vec::new();
        };
        let stripped = run
            .stripped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        stripped
    }

    /// Calls currently being answered for the run.
    pub(crate) fn in_flight(&self, id: RunId) -> Option<u64> {
        let run = self.read().get(&id.0).cloned()?;
        let n = run.lock().in_flight;
        Some(n)
    }

    pub(crate) fn end(&self, id: RunId) -> Option<Spent> {
        let run = self.read().get(&id.0).cloned()?;
        let mut s = run.lock();
        s.ended = true;
        Some(s.spent)
    }

    pub(crate) fn forget(&self, id: RunId) -> Option<Spent> {
        let run = self.write().remove(&id.0)?;
        let mut s = run.lock();
        s.ended = true;
        Some(s.spent)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<Run>>> {
        self.by_id.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<Run>>> {
        self.by_id.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Runs {
        fn register_budget(&self, budget: RunBudget) -> (RunId, Secret) {
            self.register(budget, Vec::new())
        }
    }
    use crate::meter::prices::ModelPrice;

    fn prices() -> Arc<PriceTable> {
        Arc::new(
            PriceTable::new()
                .with(
                    "m",
                    ModelPrice {
                        input: 1.0,
                        output: 1.0,
                        cache_read: None,
                        cache_write: None,
                    },
                )
                .unwrap(),
        )
    }

    fn reading(model: &str, input: u64, output: u64) -> Reading {
        Reading {
            usage: Some(Usage {
                input_tokens: input,
                output_tokens: output,
                ..Usage::default()
            }),
            model: Some(model.into()),
        }
    }

    #[test]
    fn the_tools_taken_out_of_a_runs_calls_are_remembered_once_each() {
        let runs = Runs::default();
        let (id, token) = runs.register_budget(RunBudget::default());
        let run = runs.authenticate(token.expose()).unwrap();
        run.note_stripped(&["web_search".into()]);
        run.note_stripped(&["web_search".into(), "mcp".into()]);
        assert_eq!(runs.stripped(id), ["web_search", "mcp"]);
        let (other, _) = runs.register_budget(RunBudget::default());
        assert!(runs.stripped(other).is_empty());
    }

    #[test]
    fn tokens_are_unguessable_and_checked_whole() {
        let runs = Runs::default();
        let (a, token_a) = runs.register_budget(RunBudget::default());
        let (b, token_b) = runs.register_budget(RunBudget::default());
        assert_ne!(a, b);
        assert_ne!(token_a, token_b);
        assert!(token_a.expose().len() > 64);
        assert_eq!(runs.authenticate(token_a.expose()).unwrap().id(), a);
        assert_eq!(runs.authenticate(token_b.expose()).unwrap().id(), b);
        // The right id with a wrong secret, a truncated token, garbage: all refused.
        let forged = format!("{TOKEN_PREFIX}{}-{}", a.get(), "0".repeat(64));
        assert!(runs.authenticate(&forged).is_none());
        assert!(runs
            .authenticate(&token_a.expose()[..token_a.expose().len() - 1])
            .is_none());
        assert!(runs.authenticate("sk-ant-api03-whatever").is_none());
        assert!(runs.authenticate("").is_none());
        assert!(runs.authenticate("bosun-run-99-x").is_none());
    }

    #[test]
    fn an_ended_run_refuses_its_token_but_keeps_counting_calls_in_flight() {
        let runs = Runs::default();
        let prices = prices();
        let (id, token) = runs.register_budget(RunBudget::default());
        let ticket = runs
            .authenticate(token.expose())
            .unwrap()
            .admit(&prices, Estimate::default())
            .unwrap();
        assert_eq!(runs.in_flight(id), Some(1));
        assert_eq!(runs.end(id).unwrap().calls, 1);
        assert!(runs.authenticate(token.expose()).is_none());
        ticket.settle(reading("m", 10, 5), true);
        assert_eq!(runs.in_flight(id), Some(0));
        let spent = runs.spent(id).unwrap();
        assert_eq!(
            (spent.input_tokens, spent.output_tokens, spent.micro_usd),
            (10, 5, 15)
        );
        assert_eq!(runs.forget(id).unwrap(), spent);
        assert!(runs.spent(id).is_none());
    }

    #[test]
    fn budgets_admit_until_spent_and_say_which_one() {
        let runs = Runs::default();
        let prices = prices();
        let (id, token) = runs.register_budget(RunBudget {
            max_tokens: Some(100),
            max_micro_usd: None,
        });
        let run = runs.authenticate(token.expose()).unwrap();
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(reading("m", 60, 0), true);
        // 60 < 100: admitted, and this call crosses the budget.
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(reading("m", 60, 0), true);
        assert_eq!(
            run.admit(&prices, Estimate::default()).err(),
            Some(Exhausted::Tokens {
                used: 120,
                pending: 0,
                max: 100
            })
        );
        let spent = runs.spent(id).unwrap();
        assert_eq!((spent.calls, spent.refused), (2, 1));

        let (_, token) = runs.register_budget(RunBudget {
            max_tokens: None,
            max_micro_usd: Some(50),
        });
        let run = runs.authenticate(token.expose()).unwrap();
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(reading("m", 30, 30), true);
        let err = run.admit(&prices, Estimate::default()).err().unwrap();
        assert_eq!(
            err,
            Exhausted::MicroUsd {
                used: 60,
                pending: 0,
                max: 50
            }
        );
        assert_eq!(err.to_string(), "USD budget: $0.000060 of $0.000050 used");
    }

    #[test]
    fn an_answer_without_usage_is_charged_the_most_its_request_allowed() {
        let runs = Runs::default();
        let prices = prices();
        let (id, token) = runs.register_budget(RunBudget {
            max_tokens: Some(1000),
            max_micro_usd: None,
        });
        let run = runs.authenticate(token.expose()).unwrap();
        let estimate = Estimate {
            tokens: 700,
            micro_usd: 900,
        };
        let ticket = run.admit(&prices, estimate).unwrap();
        // While it is answered, its estimate is held against the budget...
        let held = run.admit(&prices, estimate).unwrap();
        let refused = run.admit(&prices, estimate).err().unwrap();
        assert_eq!(
            refused.to_string(),
            "token budget: 0 of 1000 tokens used, up to 1400 more in calls still being answered"
        );
        drop(held);
        // ...and an answer the meter could not read is charged it.
        ticket.settle(Reading::default(), true);
        let spent = runs.spent(id).unwrap();
        assert_eq!(
            (
                spent.estimated_tokens,
                spent.total_tokens(),
                spent.micro_usd
            ),
            (700, 700, 900)
        );
        assert_eq!(runs.in_flight(id), Some(0));
        assert!(
            run.admit(&prices, estimate).is_ok(),
            "700 of 1000: room again"
        );
    }

    #[test]
    fn unpriced_and_unmetered_calls_are_counted_apart() {
        let runs = Runs::default();
        let prices = prices();
        let (id, token) = runs.register_budget(RunBudget {
            max_tokens: None,
            max_micro_usd: Some(1),
        });
        let run = runs.authenticate(token.expose()).unwrap();
        // A model without a price: tokens count, the USD budget does not see it.
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(reading("other", 1000, 1000), true);
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(Reading::default(), true);
        run.admit(&prices, Estimate::default())
            .unwrap()
            .settle(Reading::default(), false);
        let spent = runs.spent(id).unwrap();
        assert_eq!(spent.total_tokens(), 2000);
        assert_eq!(
            (
                spent.micro_usd,
                spent.unpriced_calls,
                spent.unmetered_calls,
                spent.calls
            ),
            (0, 1, 1, 3)
        );
        assert!(run.admit(&prices, Estimate::default()).is_ok());
    }
}
