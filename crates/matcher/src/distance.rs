//! Edit distance between folded forms: optimal string alignment, where a substitution, an
//! insertion, a deletion or a swap of two adjacent characters each count as one edit.
//!
//! A check compares one typed form with thousands of recorded ones, so the typed form is
//! prepared once ([`Typed`]) and each comparison runs bit-parallel: one pass over the recorded
//! form, a handful of word operations per character (Hyyrö's bit-vector recurrence, extended
//! with adjacent swaps), instead of a table of every pair of characters.

/// A typed form prepared for many comparisons: for each byte, the positions where it occurs.
pub struct Typed {
    positions: [u64; 256],
    len: usize,
}

impl Typed {
    /// Forms longer than this are compared with the table instead.
    pub const MAX_LEN: usize = 64;

    /// Prepares `form` (at most [`Typed::MAX_LEN`] bytes; the rest is ignored).
    pub fn new(form: &[u8]) -> Self {
        let form = &form[..form.len().min(Self::MAX_LEN)];
        let mut positions = [0_u64; 256];
        for (i, byte) in form.iter().enumerate() {
            positions[*byte as usize] |= 1 << i;
        }
        Typed {
            positions,
            len: form.len(),
        }
    }

    /// The distance from the typed form to `other`, or None when it exceeds `max`.
    pub fn distance(&self, other: &[u8], max: usize) -> Option<usize> {
        let m = self.len;
        if m.abs_diff(other.len()) > max {
            return None;
        }
        if m == 0 {
            return Some(other.len());
        }
        // Column j of the table, kept as vertical differences between neighbouring rows:
        // `up` has a bit where the row below is one more, `down` where it is one less.
        let last = 1_u64 << (m - 1);
        let mut up = u64::MAX;
        let mut down = 0_u64;
        let mut diagonal_zero = 0_u64;
        let mut previous_matches = 0_u64;
        let mut distance = m;
        for (j, byte) in other.iter().enumerate() {
            let matches = self.positions[*byte as usize];
            // A swap of this character and the one before it: the typed form has them the
            // other way round where the diagonal two steps back did not already gain.
            let swapped = ((!diagonal_zero & matches) << 1) & previous_matches;
            diagonal_zero = (((matches & up).wrapping_add(up)) ^ up) | matches | down | swapped;
            let horizontal_up = down | !(diagonal_zero | up);
            let horizontal_down = diagonal_zero & up;
            if horizontal_up & last != 0 {
                distance += 1;
            } else if horizontal_down & last != 0 {
                distance -= 1;
            }
            let shifted_up = (horizontal_up << 1) | 1;
            let shifted_down = horizontal_down << 1;
            up = shifted_down | !(diagonal_zero | shifted_up);
            down = shifted_up & diagonal_zero;
            previous_matches = matches;
            // Each remaining character lowers the distance by at most one.
            let remaining = other.len() - j - 1;
            if distance > max + remaining {
                return None;
            }
        }
        (distance <= max).then_some(distance)
    }
}

/// The distance between `a` and `b`, or None when it exceeds `max`.
pub fn osa(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len() <= Typed::MAX_LEN {
        Typed::new(a).distance(b, max)
    } else {
        osa_table(a, b, max)
    }
}

/// The same distance by the full table: for forms too long for one machine word, and as the
/// reference the bit-parallel version is tested against.
fn osa_table(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut before = vec![0_usize; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0_usize; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (previous[j - 1] + cost)
                .min(previous[j] + 1)
                .min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(before[j - 2] + 1);
            }
            current[j] = value;
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

    #[test]
    fn long_forms_use_the_table() {
        let a = vec![b'7'; 70];
        let mut b = a.clone();
        b[69] = b'8';
        assert_eq!(osa(&a, &b, 2), Some(1));
    }

    proptest::proptest! {
        #[test]
        fn bit_parallel_agrees_with_the_table(a in "[0-9A-D]{0,12}", b in "[0-9A-D]{0,12}", max in 0_usize..5) {
            let typed = Typed::new(a.as_bytes());
            proptest::prop_assert_eq!(
                typed.distance(b.as_bytes(), max),
                osa_table(a.as_bytes(), b.as_bytes(), max)
            );
        }

        // Two letters make swaps and repeats common, where the recurrence is easiest to get wrong.
        #[test]
        fn bit_parallel_agrees_on_swaps_and_repeats(a in "[AB]{0,14}", b in "[AB]{0,14}", max in 0_usize..6) {
            let typed = Typed::new(a.as_bytes());
            proptest::prop_assert_eq!(
                typed.distance(b.as_bytes(), max),
                osa_table(a.as_bytes(), b.as_bytes(), max)
            );
        }

        #[test]
        fn distance_is_symmetric_and_zero_only_for_equal_strings(a in "[0-9A-C]{0,10}", b in "[0-9A-C]{0,10}") {
            let ab = osa(a.as_bytes(), b.as_bytes(), 20);
            proptest::prop_assert_eq!(ab, osa(b.as_bytes(), a.as_bytes(), 20));
            proptest::prop_assert_eq!(ab == Some(0), a == b);
        }
    }
}
