//! Signatures of revisions: ed25519 (the `ed25519-compact` crate) over the text of the
//! source's digest (`sha256:<hex>`: an image's manifest digest, a docker-archive's config
//! digest, a bundle directory's tree digest, a bundle tarball's file digest).
//!
//! Keys are what OpenSSL writes (`openssl genpkey -algorithm ed25519`, `openssl pkey -pubout`):
//! PEM PKCS#8 private keys and SubjectPublicKeyInfo public keys, or the bare base64 of the 32
//! raw bytes. A signature file holds the 64-byte signature, raw or base64, so that
//! `openssl pkeyutl -sign -rawin` makes one as well as `mote deploy sign`.

use crate::prelude::*;

use super::digest::Digest;
use crate::error::{Error, Result};
use crate::spec::limits::MAX_KEYS;
use crate::sys::fs;
use rustix::fd::AsRawFd;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// Decode base64 (whitespace ignored); None if it is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits, mut pad) = (0u32, 0u32, 0usize);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None;
        }
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if pad > 2 {
        return None;
    }
    Some(out)
}

/// DER prefixes of ed25519 keys (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The 32 key bytes of a key file's text: PEM (with the DER prefix `prefix`) or bare base64.
fn key_bytes(text: &str, label: &str, prefix: &[u8]) -> Option<[u8; 32]> {
    let begin = format!("-----BEGIN {label}-----");
    let body = match text.find(&begin) {
        Some(i) => {
            let rest = &text[i + begin.len()..];
            &rest[..rest.find("-----END")?]
        }
        None => text,
    };
    let der = base64_decode(body)?;
    let raw = if der.len() == 32 {
        &der[..]
    } else {
        der.strip_prefix(prefix)?
    };
    raw.try_into().ok()
}

fn read_text(path: &str, what: &str) -> Result<String> {
    let v = fs::read_file(path).map_err(|e| Error::sys("read a key", e).ctx(format_args!("{what} {path}")))?;
    String::from_utf8(v).map_err(|_| Error::input("read a key").ctx(format_args!("{what} {path}: not text")))
}

/// The public keys of a directory (`*.pub`, and `*.pem` holding a public key).
pub fn load_keys(dir: &str) -> Result<Vec<(String, ed25519_compact::PublicKey)>> {
    let d = match fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) {
        Ok(d) => d,
        Err(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(Error::sys("open the keys directory", e).ctx(format_args!("{dir}"))),
    };
    let mut names =
        fs::list_dir(d.as_raw_fd()).map_err(|e| Error::sys("list the keys directory", e).ctx(format_args!("{dir}")))?;
    names.retain(|n| n.ends_with(".pub") || n.ends_with(".pem"));
    names.sort_unstable();
    let mut keys = Vec::new();
    for n in names {
        let path = format!("{dir}/{n}");
        let text = read_text(&path, "public key")?;
        let k = key_bytes(&text, "PUBLIC KEY", &SPKI_PREFIX).ok_or_else(|| {
            Error::input("read a key").ctx(format_args!(
                "{path}: not an ed25519 public key (PEM from `openssl pkey -pubout`, or base64 of 32 bytes)"
            ))
        })?;
        if keys.len() >= MAX_KEYS {
            return Err(Error::input("read a key").ctx(format_args!("{dir}: more than MAX_KEYS ({MAX_KEYS}) keys")));
        }
        keys.push((n, ed25519_compact::PublicKey::new(k)));
    }
    Ok(keys)
}

/// The message a signature signs.
fn message(d: &Digest) -> heapless::String<80> {
    let mut m = heapless::String::new();
    let _ = core::fmt::write(&mut m, format_args!("{d}"));
    m
}

/// Check `sig_file`'s signature of `digest` against the keys; the name of the key that made it.
pub fn verify(keys: &[(String, ed25519_compact::PublicKey)], digest: &Digest, sig_file: &str) -> Result<String> {
    let raw = fs::read_file(sig_file).map_err(|e| {
        Error::sys("read the signature", e).ctx(format_args!(
            "{sig_file} (a key is configured, so every source must be signed: mote deploy sign)"
        ))
    })?;
    let bytes = if raw.len() == 64 {
        raw
    } else {
        core::str::from_utf8(&raw)
            .ok()
            .and_then(base64_decode)
            .unwrap_or_default()
    };
    let sig = ed25519_compact::Signature::from_slice(&bytes).map_err(|_| {
        Error::input("verify the signature").ctx(format_args!(
            "{sig_file}: not an ed25519 signature (64 bytes, raw or base64)"
        ))
    })?;
    let m = message(digest);
    for (name, k) in keys {
        if k.verify(m.as_bytes(), &sig).is_ok() {
            return Ok(name.clone());
        }
    }
    Err(Error::input("verify the signature").ctx(format_args!(
        "{sig_file}: bad signature: no key of the keys directory signed {digest}"
    )))
}

/// Sign `digest` with the private key in `key_file`; the signature, base64.
pub fn sign(key_file: &str, digest: &Digest) -> Result<String> {
    let text = read_text(key_file, "private key")?;
    let seed = key_bytes(&text, "PRIVATE KEY", &PKCS8_PREFIX).ok_or_else(|| {
        Error::input("read a key").ctx(format_args!(
            "{key_file}: not an ed25519 private key (PEM from `openssl genpkey -algorithm ed25519`, or base64 of a 32-byte seed)"
        ))
    })?;
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
    let sig = kp.sk.sign(message(digest).as_bytes(), None);
    Ok(base64_encode(sig.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64_encode(s)).unwrap(), s);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zm9v\nYg=="), Some(b"foob".to_vec()));
        assert_eq!(base64_decode("Zm9v!"), None);
    }

    #[test]
    fn rfc8032_vector_and_pem_keys() {
        // RFC 8032 7.1 TEST 1: the seed and its public key.
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let pk = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let hex = |h: &str| -> Vec<u8> {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect()
        };
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend(hex(seed));
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64_encode(&der)
        );
        assert_eq!(
            key_bytes(&pem, "PRIVATE KEY", &PKCS8_PREFIX).unwrap().to_vec(),
            hex(seed)
        );
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::from_slice(&hex(seed)).unwrap());
        assert_eq!(kp.pk.as_ref().to_vec(), hex(pk));
        // The empty message's signature (RFC 8032 TEST 1).
        let sig = kp.sk.sign(b"", None);
        assert_eq!(
            super::super::digest::Hex(sig.as_ref()).to_string(),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let mut spki = SPKI_PREFIX.to_vec();
        spki.extend(hex(pk));
        let pubpem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64_encode(&spki)
        );
        assert_eq!(
            key_bytes(&pubpem, "PUBLIC KEY", &SPKI_PREFIX).unwrap().to_vec(),
            hex(pk)
        );
    }
}
