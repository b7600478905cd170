//! Integer-weighted choice, so draws are identical on every platform (no floating point).

use rand::Rng;

/// Picks an index with probability proportional to its weight.
#[derive(Debug, Clone)]
pub struct WeightedTable {
    cumulative: Vec<u32>,
}

impl WeightedTable {
    /// Builds a table; panics if there are no weights or they are all zero, which is a bug in built-in data.
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut total = 0u32;
        let cumulative: Vec<u32> = weights
            .into_iter()
            .map(|w| {
                total = total.checked_add(w).expect("weights overflow u32");
                total
            })
            .collect();
        assert!(total > 0, "a weighted table needs a positive weight");
        Self { cumulative }
    }

    /// Draws an index.
    pub fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().expect("checked non-empty in new");
        let ticket = rng.gen_range(0..total);
        self.cumulative.partition_point(|&upto| upto <= ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    #[test]
    fn a_zero_weight_is_never_picked_and_shares_follow_weights() {
        let table = WeightedTable::new([1, 0, 3]);
        let mut rng = Pcg64::seed_from_u64(9);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[table.pick(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((28_000..32_000).contains(&counts[2]), "{counts:?}");
    }
}
