//! Runs at once per agent vendor (adapter), in this process: a vendor's API has its own rate
//! limits and bill, so a server may run several claude tasks but only one codex task at a time.
//! The queue's own limits (`db::jobs`) do not know the agent, which is chosen when the run
//! starts; a run that finds its vendor full goes back to the queue for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct VendorSlots {
    taken: Arc<Mutex<HashMap<String, u32>>>,
}

/// A taken slot; dropping it gives it back.
#[derive(Debug)]
pub struct VendorSlot {
    taken: Arc<Mutex<HashMap<String, u32>>>,
    vendor: String,
}

impl VendorSlots {
    /// A slot for `vendor` if fewer than `limit` are taken; always one without a limit.
    pub fn take(&self, vendor: &str, limit: Option<u32>) -> Option<VendorSlot> {
        let mut taken = crate::locks::lock(&self.taken);
        let count = taken.entry(vendor.to_string()).or_insert(0);
        if limit.is_some_and(|l| *count >= l) {
            return None;
        }
        *count += 1;
        Some(VendorSlot {
            taken: self.taken.clone(),
            vendor: vendor.to_string(),
        })
    }
}

impl Drop for VendorSlot {
    fn drop(&mut self) {
        if let Some(count) = crate::locks::lock(&self.taken).get_mut(&self.vendor) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_gets_at_most_its_limit_and_slots_come_back() {
        let slots = VendorSlots::default();
        let first = slots.take("codex", Some(2)).unwrap();
        let _second = slots.take("codex", Some(2)).unwrap();
        assert!(slots.take("codex", Some(2)).is_none());
        assert!(
            slots.take("claude", Some(1)).is_some(),
            "each vendor counts alone"
        );
        drop(first);
        assert!(slots.take("codex", Some(2)).is_some());
        let many: Vec<_> = (0..10).map(|_| slots.take("gemini", None)).collect();
        assert!(many.iter().all(Option::is_some), "no limit");
    }
}
