//! What the index keeps of each record's serial: the serial as recorded (to explain a match)
//! and its folded and stripped forms (to verify one), packed in one byte arena.

use crate::normalise::SerialKeys;

/// Marks a record without a stripped form.
const NO_STRIPPED: u8 = u8::MAX;

/// Serials and their forms for many records, packed.
#[derive(Default)]
pub(crate) struct KeyArena {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

impl KeyArena {
    /// Appends a record's serial and keys; the record's slot is the number pushed before it.
    pub fn push(&mut self, serial: &str, keys: &SerialKeys) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let serial = truncate(serial.as_bytes(), 250);
        self.bytes.push(serial.len() as u8);
        self.bytes.extend_from_slice(serial);
        self.bytes.push(keys.zeros.min(255) as u8);
        self.bytes.push(keys.folded.len() as u8);
        for form in &keys.folded {
            self.bytes.push(form.len() as u8);
            self.bytes.extend_from_slice(form);
        }
        match &keys.stripped {
            Some(stripped) => {
                self.bytes.push(stripped.len() as u8);
                self.bytes.extend_from_slice(stripped);
            }
            None => self.bytes.push(NO_STRIPPED),
        }
        self.offsets.push(self.bytes.len() as u32);
    }

    /// Gives back the memory reserved beyond what the records use.
    pub fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    /// Appends every record of `other` after this arena's.
    pub fn append(&mut self, other: KeyArena) {
        if other.offsets.is_empty() {
            return;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let shift = self.bytes.len() as u32;
        self.offsets
            .extend(other.offsets[1..].iter().map(|o| o + shift));
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// The keys of slot `slot`.
    pub fn get(&self, slot: usize) -> StoredKeys<'_> {
        StoredKeys(&self.bytes[self.offsets[slot] as usize..self.offsets[slot + 1] as usize])
    }

    /// The first folded form of slot `slot`.
    pub fn primary(&self, slot: usize) -> &[u8] {
        self.get(slot).folded().next().unwrap_or_default()
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.bytes.capacity()
    }
}

/// Cuts a UTF-8 string's bytes at a character boundary at most `max` long.
fn truncate(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    let mut end = max;
    while end > 0 && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &bytes[..end]
}

/// One record's packed serial and forms.
#[derive(Clone, Copy)]
pub(crate) struct StoredKeys<'a>(&'a [u8]);

impl<'a> StoredKeys<'a> {
    /// The serial as recorded.
    pub fn serial(&self) -> &'a str {
        let len = self.0[0] as usize;
        std::str::from_utf8(&self.0[1..1 + len]).unwrap_or_default()
    }

    fn after_serial(&self) -> &'a [u8] {
        &self.0[2 + self.0[0] as usize..]
    }

    /// How many leading zeros the folded forms dropped.
    pub fn zeros(&self) -> usize {
        self.0[1 + self.0[0] as usize] as usize
    }

    /// The folded forms, look-alike reading first.
    pub fn folded(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let rest = self.after_serial();
        let count = rest[0] as usize;
        let mut at = 1;
        (0..count).map(move |_| {
            let len = rest[at] as usize;
            let form = &rest[at + 1..at + 1 + len];
            at += 1 + len;
            form
        })
    }

    /// The stripped form, if the serial has letters embedded between digits.
    pub fn stripped(&self) -> Option<&'a [u8]> {
        let rest = self.after_serial();
        let mut at = 1;
        for _ in 0..rest[0] {
            at += 1 + rest[at] as usize;
        }
        match rest[at] {
            NO_STRIPPED => None,
            len => Some(&rest[at + 1..at + 1 + len as usize]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arenas_joined_in_order_read_as_one() {
        let mut first = KeyArena::default();
        let mut second = KeyArena::default();
        first.push("AB12", &SerialKeys::of("AB12"));
        second.push("ЖВ 45", &SerialKeys::of("ЖВ 45"));
        second.push("0099", &SerialKeys::of("0099"));
        first.append(second);
        let serials: Vec<&str> = (0..3).map(|i| first.get(i).serial()).collect();
        assert_eq!(serials, ["AB12", "ЖВ 45", "0099"]);
    }

    #[test]
    fn a_record_reads_back_as_it_was_packed() {
        let mut arena = KeyArena::default();
        for serial in ["ЖВ 4521", "369J257", ""] {
            arena.push(serial, &SerialKeys::of(serial));
        }
        for (slot, serial) in ["ЖВ 4521", "369J257", ""].iter().enumerate() {
            let keys = SerialKeys::of(serial);
            let stored = arena.get(slot);
            assert_eq!(stored.serial(), *serial);
            assert_eq!(
                stored.folded().map(<[u8]>::to_vec).collect::<Vec<_>>(),
                keys.folded
            );
            assert_eq!(stored.stripped().map(<[u8]>::to_vec), keys.stripped);
            assert_eq!(stored.zeros(), keys.zeros);
        }
    }
}
