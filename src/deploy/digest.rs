//! sha256 digests: of blobs, layers, objects and revision trees (the `sha2` crate), written
//! `sha256:<64 hex digits>` as OCI writes them.

use crate::prelude::*;

use core::fmt;
use sha2::Digest as _;

/// A sha256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// `sha256:<64 lowercase hex>` (what OCI descriptors carry).
    pub fn parse(s: &str) -> Option<Digest> {
        Self::from_hex(s.strip_prefix("sha256:")?)
    }

    /// 64 hex digits.
    pub fn from_hex(h: &str) -> Option<Digest> {
        let b = h.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let v = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            out[i] = v(pair[0])? << 4 | v(pair[1])?;
        }
        Some(Digest(out))
    }

    /// The 64 hex digits, without the algorithm.
    pub fn hex(&self) -> Hex<'_> {
        Hex(&self.0)
    }

    pub fn of(data: &[u8]) -> Digest {
        let mut h = Sha256::new();
        h.update(data);
        h.finish()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Bytes written as lowercase hex.
pub struct Hex<'b>(pub &'b [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A running sha256.
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256(sha2::Sha256::new())
    }
    pub fn update(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

/// The digest as a String (`sha256:...`), for the few places that keep one.
pub fn to_string(d: &Digest) -> String {
    format!("{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_parsing() {
        // FIPS 180-2 test vector.
        let d = Digest::of(b"abc");
        assert_eq!(
            to_string(&d),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(&to_string(&d)), Some(d));
        assert_eq!(Digest::parse("sha256:BA78"), None);
        assert_eq!(
            Digest::parse("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            None
        );
        let mut h = Sha256::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), d);
    }
}
