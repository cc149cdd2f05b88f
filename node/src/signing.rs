//! Signed gossip values.
//!
//! chitchat authenticates nothing: anyone who can reach the gossip port and
//! knows the cluster id can write keys. So every profile value a node
//! publishes carries an HMAC-SHA256 tag over the cluster id, the
//! publishing node's id and generation, the key and the payload. A value
//! replayed under another key, node or incarnation fails the check, and
//! receivers drop (and count) anything unsigned or badly signed.
//!
//! Value format (chitchat values are UTF-8 strings): base64url(payload)
//! `.` base64url(first 16 bytes of the tag). Unsigned values (insecure
//! mode) have an empty tag.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::DropReason;

const TAG_BYTES: usize = 16;

/// Signs and verifies values; `None` secret means insecure mode.
#[derive(Clone)]
pub struct Signer {
    cluster_id: String,
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Signer({}, {})", self.cluster_id, if self.secret.is_some() { "signed" } else { "insecure" })
    }
}

/// Where a value was found: what its tag must cover besides the payload.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The publishing node's id.
    pub node: &'a str,
    /// Its generation.
    pub generation: u64,
    /// The key the value sits under.
    pub key: &'a str,
}

impl Signer {
    /// A signer for `cluster_id`; `secret` `None` is insecure mode.
    pub fn new(cluster_id: &str, secret: Option<&[u8]>) -> Signer {
        Signer { cluster_id: cluster_id.to_string(), secret: secret.map(|s| s.to_vec()) }
    }

    /// Whether values are signed and checked.
    pub fn is_secure(&self) -> bool {
        self.secret.is_some()
    }

    fn tag(&self, secret: &[u8], place: Place<'_>, payload: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        for part in [self.cluster_id.as_bytes(), place.node.as_bytes(), &place.generation.to_be_bytes(), place.key.as_bytes()] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0; TAG_BYTES];
        out.copy_from_slice(&full[..TAG_BYTES]);
        out
    }

    /// The value to publish for `payload` at `place`.
    pub fn seal(&self, place: Place<'_>, payload: &[u8]) -> String {
        let body = B64.encode(payload);
        match &self.secret {
            Some(s) => format!("{body}.{}", B64.encode(self.tag(s, place, payload))),
            None => format!("{body}."),
        }
    }

    /// The payload of a value found at `place`, if its tag checks out. In
    /// insecure mode the tag is not checked.
    pub fn open(&self, place: Place<'_>, value: &str) -> Result<Vec<u8>, DropReason> {
        let (body, tag) = value.split_once('.').ok_or(DropReason::Unsigned)?;
        let payload = B64.decode(body).map_err(|e| DropReason::Undecodable(format!("base64: {e}")))?;
        let Some(secret) = &self.secret else {
            return Ok(payload);
        };
        if tag.is_empty() {
            return Err(DropReason::Unsigned);
        }
        let tag = B64.decode(tag).map_err(|_| DropReason::BadSignature)?;
        let want = self.tag(secret, place, &payload);
        // Constant-time comparison: the tag is a secret-derived value.
        if tag.len() != TAG_BYTES || tag.iter().zip(want.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return Err(DropReason::BadSignature);
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Place<'static> = Place { node: "node-1", generation: 7, key: "fn:00" };

    #[test]
    fn a_sealed_value_opens_only_where_and_by_whom_it_was_sealed() {
        let s = Signer::new("c1", Some(b"secret"));
        let v = s.seal(AT, b"payload");
        assert_eq!(s.open(AT, &v).unwrap(), b"payload");
        for other in [Place { node: "node-2", ..AT }, Place { generation: 8, ..AT }, Place { key: "fn:01", ..AT }] {
            assert_eq!(s.open(other, &v), Err(DropReason::BadSignature));
        }
        assert_eq!(Signer::new("c2", Some(b"secret")).open(AT, &v), Err(DropReason::BadSignature));
        assert_eq!(Signer::new("c1", Some(b"other")).open(AT, &v), Err(DropReason::BadSignature));
        // Tampered payload, truncated tag, no tag at all.
        let (body, tag) = v.split_once('.').unwrap();
        let forged = format!("{}.{tag}", B64.encode(b"payloae"));
        assert_eq!(s.open(AT, &forged), Err(DropReason::BadSignature));
        assert_eq!(s.open(AT, &format!("{body}.{}", &tag[..10])), Err(DropReason::BadSignature));
        assert_eq!(s.open(AT, &format!("{body}.")), Err(DropReason::Unsigned));
        assert_eq!(s.open(AT, body), Err(DropReason::Unsigned));
        assert!(matches!(s.open(AT, "%%%.x"), Err(DropReason::Undecodable(_))));
    }

    #[test]
    fn insecure_mode_neither_signs_nor_checks() {
        let s = Signer::new("c1", None);
        let v = s.seal(AT, b"p");
        assert!(v.ends_with('.'));
        assert_eq!(s.open(AT, &v).unwrap(), b"p");
        let signed = Signer::new("c1", Some(b"k")).seal(AT, b"p");
        assert_eq!(s.open(AT, &signed).unwrap(), b"p");
        // ...and a secure node drops what an insecure one publishes.
        assert_eq!(Signer::new("c1", Some(b"k")).open(AT, &v), Err(DropReason::Unsigned));
    }
}
