//! FNV-1a, for ids and jitter that must be stable across runs without a random source.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 over `parts`, each followed by a 0xff separator so ("ab","c") != ("a","bc").
pub(crate) fn fnv1a64(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = OFFSET ^ seed;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_keep_parts_apart() {
        assert_ne!(fnv1a64(0, &[b"ab", b"c"]), fnv1a64(0, &[b"a", b"bc"]));
        assert_eq!(fnv1a64(7, &[b"x"]), fnv1a64(7, &[b"x"]));
        assert_ne!(fnv1a64(7, &[b"x"]), fnv1a64(8, &[b"x"]));
    }
}
