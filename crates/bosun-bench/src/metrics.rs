//! Reading bosun's `GET /metrics` (Prometheus text): the server's own account of what it
//! accepted and stored, checked against what the bench saw on the wire.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Scrape {
    /// `name{labels}` exactly as printed, to its value.
    series: BTreeMap<String, f64>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect();
        Scrape { series }
    }

    /// One series, e.g. `bosun_webhook_deliveries_total{outcome="accepted"}`.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.series.get(series).copied()
    }

    /// Every series whose name starts with `prefix` (`bosun_webhook`), as printed, with its
    /// value, in name order.
    pub fn starting_with(&self, prefix: &str) -> Vec<(String, f64)> {
        self.series
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Every series of a family with one label: `bosun_deliveries{state="x"}` → ("x", value).
    pub fn by_label(&self, family: &str) -> Vec<(String, f64)> {
        let prefix = format!("{family}{{");
        self.series
            .iter()
            .filter_map(|(k, v)| {
                let labels = k.strip_prefix(&prefix)?.strip_suffix('}')?;
                let (_, value) = labels.split_once('=')?;
                Some((value.trim_matches('"').to_string(), *v))
            })
            .collect()
    }

    /// The sum of a one-label family, 0 when absent.
    pub fn total(&self, family: &str) -> f64 {
        self.by_label(family).iter().map(|(_, v)| v).sum()
    }

    /// The sum of a one-label family's series whose label is one of `values`, 0 when absent.
    pub fn total_of(&self, family: &str, values: &[&str]) -> f64 {
        self.by_label(family)
            .iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, v)| v)
            .sum()
    }

    /// `label n, label n` for a one-label family, for the report.
    pub fn describe(&self, family: &str) -> String {
        let parts: Vec<_> = self
            .by_label(family)
            .into_iter()
            .map(|(l, v)| format!("{l} {v}"))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_series_and_families() {
        let s = Scrape::parse(
            "# HELP x y\n# TYPE x counter\n\
             bosun_webhook_deliveries_total{outcome=\"accepted\"} 12\n\
             bosun_deliveries{state=\"ignored\"} 5\nbosun_deliveries{state=\"processed\"} 7\n\
             bosun_queue_depth 0\n",
        );
        assert_eq!(
            s.get("bosun_webhook_deliveries_total{outcome=\"accepted\"}"),
            Some(12.0)
        );
        assert_eq!(s.total("bosun_deliveries"), 12.0);
        assert_eq!(s.describe("bosun_deliveries"), "ignored 5, processed 7");
        assert_eq!(s.get("bosun_queue_depth"), Some(0.0));
        assert_eq!(s.describe("bosun_jobs"), "none");
        assert_eq!(
            s.starting_with("bosun_deliveries"),
            vec![
                ("bosun_deliveries{state=\"ignored\"}".to_string(), 5.0),
                ("bosun_deliveries{state=\"processed\"}".to_string(), 7.0)
            ]
        );
    }
}
