//! A bound on what a `.github/bosun.yml` may cost to read. YAML aliases repeat a node without
//! repeating its text, and serde_yaml_ng's repetition limit counts alias uses, not what they
//! expand to: a 10 KB file of one 2,000-item anchor used 2,000 times expands to four million
//! nodes (420 MB, measured), and the growth is quadratic. Anyone who can push to one
//! repository's default branch could so take down the server for every repository. Before
//! anything is built from the file, its size is checked, and a pass that builds nothing counts
//! the nodes as aliases expand, stopping at the bound.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A configuration is a few hundred bytes; a generous one a few KiB.
pub const MAX_BYTES: usize = 256 * 1024;
/// Far beyond any real configuration (one with 100 gates has a few thousand nodes).
pub const MAX_NODES: usize = 100_000;

/// Why a file is refused before it is read, or `None`.
pub fn over_budget(yaml: &str) -> Option<String> {
    if yaml.len() > MAX_BYTES {
        return Some(format!(
            "the file is {} KiB; bosun reads at most {} KiB",
            yaml.len().div_ceil(1024),
            MAX_BYTES / 1024
        ));
    }
    let mut left = MAX_NODES;
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        match (Count { left: &mut left }).deserialize(document) {
            Ok(()) => {}
            Err(e) if e.to_string().contains(TOO_MANY) => {
                return Some(format!(
                    "the file expands to more than {MAX_NODES} values (its `*aliases` repeat \
                     too much); write the values out instead"
                ));
            }
            // Other errors are the real parse's to report, with their position.
            Err(_) => return None,
        }
    }
    None
}

const TOO_MANY: &str = "bosun: too many YAML nodes";

/// Visits every node, building nothing, and fails once `left` runs out.
struct Count<'a> {
    left: &'a mut usize,
}

impl Count<'_> {
    fn spend<E: de::Error>(&mut self) -> Result<(), E> {
        if *self.left == 0 {
            return Err(E::custom(TOO_MANY));
        }
        *self.left -= 1;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.spend()
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.spend()
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.spend()
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.spend()
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        self.spend()
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.spend()
    }
    fn visit_none<E: de::Error>(mut self) -> Result<(), E> {
        self.spend()
    }
    fn visit_some<D: Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        self.spend()?;
        d.deserialize_any(Count { left: self.left })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        self.spend()?;
        d.deserialize_any(Count { left: self.left })
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.spend()?;
        while seq
            .next_element_seed(Count {
                left: &mut *self.left,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.spend()?;
        while map
            .next_key_seed(Count {
                left: &mut *self.left,
            })?
            .is_some()
        {
            map.next_value_seed(Count {
                left: &mut *self.left,
            })?;
        }
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(mut self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess;
        self.spend()?;
        let ((), variant) = data.variant_seed(Count {
            left: &mut *self.left,
        })?;
        variant.newtype_variant_seed(Count { left: self.left })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quadratic bomb the fuzz target found: one anchor of `n` items used `n` times.
    fn bomb(n: usize) -> String {
        let items = vec!["a"; n].join(",");
        let uses = vec!["*x"; n].join(",");
        format!("x: &x [{items}]\ny: [{uses}]\n")
    }

    #[test]
    fn an_alias_bomb_is_refused_before_anything_is_built() {
        let why = over_budget(&bomb(2000)).expect("refused");
        assert!(why.contains("aliases"), "{why}");
        assert!(over_budget(&bomb(100)).is_none(), "10,000 nodes are fine");
    }

    #[test]
    fn ordinary_files_pass_and_huge_ones_are_refused() {
        assert!(over_budget("trigger_label: go\ngates:\n  - name: t\n    run: make\n").is_none());
        assert!(over_budget("").is_none());
        assert!(
            over_budget("[unclosed").is_none(),
            "the real parse reports it"
        );
        let huge = format!("instructions: \"{}\"\n", "x".repeat(MAX_BYTES));
        assert!(over_budget(&huge).unwrap().contains("KiB"));
    }
}
