//! A map from strings to numbers, for the two places that need set lookups over many strings:
//! renaming colliding redacted keys (`pii`) and telling this tab's queued events from another
//! tab's (`pipeline`). Open addressing with linear probing over FNV-1a hashes, kept at most half
//! full, so lookups stay constant-time with thousands of names.
//!
//! Hand-written because std's `BTreeMap`/`BTreeSet` (and `HashMap`, and the sorts a sorted `Vec`
//! would need) cost kilobytes of wasm each, downloaded by every visitor (STYLE.md rule 6).

/// A map from names to numbers (or, ignoring the numbers, a set of names).
pub struct Names {
    /// 0: empty; `k`: `entries[k - 1]`. The length is a power of two.
    slots: Vec<u32>,
    entries: Vec<(String, usize)>,
}

impl Names {
    /// An empty map with room for `n` names before it grows.
    pub fn with_capacity(n: usize) -> Names {
        Names {
            slots: vec![0; (2 * n).next_power_of_two().max(8)],
            entries: Vec::with_capacity(n),
        }
    }

    /// The slot holding `name`, or the empty slot where it would go.
    fn slot(&self, name: &str) -> usize {
        let mask = self.slots.len() - 1;
        let mut h: u32 = 0x811c_9dc5;
        for b in name.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let mut i = h as usize & mask;
        loop {
            match self.slots[i] {
                0 => return i,
                k if self.entries[k as usize - 1].0 == name => return i,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The number kept for `name`, if it is in the map.
    pub fn get(&self, name: &str) -> Option<usize> {
        match self.slots[self.slot(name)] {
            0 => None,
            k => Some(self.entries[k as usize - 1].1),
        }
    }

    /// Sets `name` to `value`.
    pub fn insert(&mut self, name: String, value: usize) {
        let i = self.slot(&name);
        if self.slots[i] != 0 {
            self.entries[self.slots[i] as usize - 1].1 = value;
            return;
        }
        self.entries.push((name, value));
        self.slots[i] = self.entries.len() as u32;
        if 2 * self.entries.len() > self.slots.len() {
            self.slots = vec![0; 2 * self.slots.len()];
            for k in 1..=self.entries.len() {
                let j = self.slot(&self.entries[k - 1].0);
                self.slots[j] = k as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_updated_and_kept_through_growth() {
        let mut m = Names::with_capacity(2);
        for i in 0..1000 {
            m.insert(format!("name {i}"), i);
        }
        m.insert("name 7".into(), 70);
        for i in 0..1000 {
            assert_eq!(
                m.get(&format!("name {i}")),
                Some(if i == 7 { 70 } else { i })
            );
        }
        assert_eq!(m.get("name 1000"), None);
        assert_eq!(m.get(""), None);
        m.insert(String::new(), 1);
        assert_eq!(m.get(""), Some(1));
    }
}
