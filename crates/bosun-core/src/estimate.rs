//! Estimates from history: how long and how much a new task will likely take, from finished
//! attempts of similar tasks (same repository and complexity, similar title and body), with a
//! 95% interval. Pure: the history comes from `db::run_stats`.

/// At least this many similar tasks, or the estimate falls back to the repository's average
/// for the complexity, and says so.
pub const MIN_SIMILAR: usize = 5;

/// One finished attempt, as an estimate uses it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub secs: f64,
    /// `None` when the cost was not known (an agent that reports none).
    pub micro_usd: Option<f64>,
}

/// Where the samples came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Similar tasks of the repository.
    Similar,
    /// Too few similar ones: every task of the repository with the same complexity.
    Complexity,
}

/// A central value (the mean) and a 95% interval, rounded to whole units (seconds,
/// micro-dollars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub mid: u64,
    pub low: u64,
    pub high: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub secs: Range,
    pub micro_usd: Option<Range>,
    pub samples: u32,
    pub basis: Basis,
}

/// The estimate from `similar` (best matches), else from `same_complexity`; `None` without
/// any history.
pub fn estimate(similar: &[Sample], same_complexity: &[Sample]) -> Option<Estimate> {
    let (samples, basis) = if similar.len() >= MIN_SIMILAR {
        (similar, Basis::Similar)
    } else if !same_complexity.is_empty() {
        (same_complexity, Basis::Complexity)
    } else {
        return None;
    };
    let secs: Vec<f64> = samples.iter().map(|s| s.secs).collect();
    let costs: Vec<f64> = samples.iter().filter_map(|s| s.micro_usd).collect();
    Some(Estimate {
        secs: range(&secs)?,
        micro_usd: range(&costs),
        samples: samples.len() as u32,
        basis,
    })
}

/// The mean, and the interval between the 2.5th and 97.5th percentiles (linear interpolation
/// between the closest ranks): run times are skewed (a few runs take much longer), so an
/// interval around the mean by the standard deviation would go below zero and miss the tail.
pub fn range(values: &[f64]) -> Option<Range> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let whole = |x: f64| x.max(0.0).round() as u64;
    Some(Range {
        mid: whole(mean),
        low: whole(percentile(&sorted, 0.025)),
        high: whole(percentile(&sorted, 0.975)),
    })
}

/// The `p`-th quantile of sorted values: rank `p·(n-1)`, interpolated (0.5 is the median).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    let weight = rank - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * weight
}

/// Words too common to tell two issues apart.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "this", "that", "not", "are", "was", "but", "has", "have",
    "into", "when", "what", "which", "should", "would", "could", "its", "our", "you", "your",
    "can", "all", "any", "there", "then", "than", "will", "also", "does",
];

/// The words of a title and body as an FTS5 query: each distinct word of three or more
/// letters or digits that is not a stop word, quoted (so no word is read as an operator),
/// joined by OR. At most 32 words, the first ones: titles say the most.
pub fn similarity_query(title: &str, body: &str) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    let words: Vec<String> = format!("{title} {body}")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .take(32)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(secs: &[f64], cost: f64) -> Vec<Sample> {
        secs.iter()
            .map(|s| Sample {
                secs: *s,
                micro_usd: Some(cost),
            })
            .collect()
    }

    #[test]
    fn the_interval_is_the_middle_95_percent() {
        // 11 values 0, 10, …, 100: ranks 0.25 and 9.75.
        let values: Vec<f64> = (0..=10).map(|i| f64::from(i) * 10.0).collect();
        let r = range(&values).unwrap();
        // 2.5 and 97.5, rounded half away from zero.
        assert_eq!((r.mid, r.low, r.high), (50, 3, 98));
        let one = range(&[42.0]).unwrap();
        assert_eq!((one.mid, one.low, one.high), (42, 42, 42));
        assert_eq!(range(&[]), None);
    }

    #[test]
    fn too_few_similar_tasks_fall_back_to_the_complexity() {
        let similar = samples(&[60.0, 120.0], 1.0);
        let all = samples(&[60.0, 120.0, 300.0], 2.0);
        let e = estimate(&similar, &all).unwrap();
        assert_eq!(e.basis, Basis::Complexity);
        assert_eq!(e.samples, 3);
        assert_eq!(e.secs.mid, 160);
        let enough = samples(&[60.0; 5], 1.0);
        assert_eq!(estimate(&enough, &all).unwrap().basis, Basis::Similar);
        assert_eq!(estimate(&[], &[]), None);
    }

    #[test]
    fn unknown_costs_are_left_out_of_the_cost() {
        let mut s = samples(&[60.0; 5], 3.0);
        s[0].micro_usd = None;
        let e = estimate(&s, &[]).unwrap();
        assert_eq!(e.micro_usd.unwrap().mid, 3);
        s.iter_mut().for_each(|x| x.micro_usd = None);
        assert_eq!(estimate(&s, &[]).unwrap().micro_usd, None);
    }

    #[test]
    fn queries_quote_words_so_none_is_an_operator() {
        assert_eq!(
            similarity_query("Fix NOT the parser", "a parser: NEAR \"x\"").as_deref(),
            Some("\"fix\" OR \"parser\" OR \"near\"")
        );
        assert_eq!(similarity_query("a b the", ""), None);
    }
}
