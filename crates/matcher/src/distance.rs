//! Edit distance between folded forms: optimal string alignment, where a substitution, an
//! insertion, a deletion or a swap of two adjacent characters each count as one edit.

/// The distance between `a` and `b`, or None when it exceeds `max`.
pub fn osa(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if a == b {
        return Some(0);
    }
    // Folded forms are at most MAX_KEY_BYTES long: three rows on the stack, two back for
    // transpositions, no allocation on the hot path.
    const ROW: usize = crate::normalise::MAX_KEY_BYTES + 1;
    if b.len() >= ROW {
        return osa(&a[..a.len().min(ROW - 1)], &b[..ROW - 1], max);
    }
    let width = b.len() + 1;
    let mut before = [0_usize; ROW];
    let mut previous = [0_usize; ROW];
    let mut current = [0_usize; ROW];
    for (j, cell) in previous.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = current[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (previous[j - 1] + cost)
                .min(previous[j] + 1)
                .min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(before[j - 2] + 1);
            }
            current[j] = value;
            row_min = row_min.min(value);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= max).then_some(distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_typing_error_counts_one() {
        assert_eq!(osa(b"123456", b"123456", 2), Some(0));
        assert_eq!(osa(b"123456", b"123956", 2), Some(1), "substitution");
        assert_eq!(osa(b"123456", b"1234560", 2), Some(1), "insertion");
        assert_eq!(osa(b"123456", b"12456", 2), Some(1), "deletion");
        assert_eq!(osa(b"123456", b"124356", 2), Some(1), "adjacent swap");
        assert_eq!(osa(b"123456", b"213465", 2), Some(2), "two swaps");
    }

    #[test]
    fn distances_above_the_bound_are_none() {
        assert_eq!(osa(b"123456", b"654321", 2), None);
        assert_eq!(osa(b"12", b"123456", 2), None);
    }

    proptest::proptest! {
        #[test]
        fn distance_is_symmetric_and_zero_only_for_equal_strings(a in "[0-9A-C]{0,10}", b in "[0-9A-C]{0,10}") {
            let ab = osa(a.as_bytes(), b.as_bytes(), 20);
            proptest::prop_assert_eq!(ab, osa(b.as_bytes(), a.as_bytes(), 20));
            proptest::prop_assert_eq!(ab == Some(0), a == b);
        }
    }
}
