//! Profiles on local disk, so a restarted node warms up even when it is
//! alone (or the first to come back).
//!
//! File `profiles.snap` in the data directory: a magic line, format version
//! and profile schema (u32 LE each), a count, then length-prefixed
//! `ember.profile.v1` messages, and a trailer of the first 16 bytes of
//! SHA-256 over everything before it. Written to a temporary file and
//! renamed, so a crash mid-write leaves the old snapshot. Loading checks
//! every layer; a corrupt, truncated or foreign-version file is reported
//! and ignored — never a crash, never a partial load.

use std::path::{Path, PathBuf};

use ember_engine::{CompactProfile, PROFILE_SCHEMA_VERSION};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::codec::{Origin, Received, from_wire, to_wire};

const MAGIC: &[u8; 11] = b"EMBERSNAP1\n";
const FORMAT: u32 = 1;
const TRAILER: usize = 16;
/// File name inside the data directory.
pub const FILE_NAME: &str = "profiles.snap";
/// A snapshot holds at most this many profiles (more are dropped, coldest first).
pub const MAX_PROFILES: usize = 100_000;

/// Why a snapshot was not loaded.
#[derive(Debug)]
pub enum SnapshotError {
    /// No snapshot there (not an error for a fresh node).
    Missing,
    /// Reading failed.
    Io(std::io::Error),
    /// The file is not a snapshot, is damaged, or is of another version.
    Corrupt(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Missing => f.write_str("no snapshot"),
            SnapshotError::Io(e) => write!(f, "cannot read snapshot: {e}"),
            SnapshotError::Corrupt(m) => write!(f, "snapshot ignored: {m}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Path of the snapshot in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Writes `profiles` (hottest first) to `dir`, atomically.
pub fn save(dir: &Path, origin: &Origin, profiles: &[CompactProfile]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let profiles = &profiles[..profiles.len().min(MAX_PROFILES)];
    let mut buf = Vec::with_capacity(64 + profiles.len() * 128);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT.to_le_bytes());
    buf.extend_from_slice(&PROFILE_SCHEMA_VERSION.to_le_bytes());
    buf.extend_from_slice(&(profiles.len() as u32).to_le_bytes());
    for p in profiles {
        let bytes = to_wire(p, Some(origin), None).encode_to_vec();
        buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        buf.extend_from_slice(&bytes);
    }
    let sum = Sha256::digest(&buf);
    buf.extend_from_slice(&sum[..TRAILER]);
    let path = path_in(dir);
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    std::fs::write(&tmp, &buf)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Reads the snapshot in `dir`.
pub fn load(dir: &Path) -> Result<Vec<Received>, SnapshotError> {
    let path = path_in(dir);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SnapshotError::Missing),
        Err(e) => return Err(SnapshotError::Io(e)),
    };
    parse(&data).map_err(|m| SnapshotError::Corrupt(format!("{}: {m}", path.display())))
}

fn parse(data: &[u8]) -> Result<Vec<Received>, String> {
    let head = MAGIC.len() + 12;
    if data.len() < head + TRAILER || &data[..MAGIC.len()] != MAGIC {
        return Err("not an Ember profile snapshot".into());
    }
    let (body, trailer) = data.split_at(data.len() - TRAILER);
    if Sha256::digest(body)[..TRAILER] != *trailer {
        return Err("checksum mismatch (damaged or truncated)".into());
    }
    let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().expect("4 bytes"));
    let format = u32_at(MAGIC.len());
    if format != FORMAT {
        return Err(format!("format version {format}, this node reads {FORMAT}"));
    }
    let schema = u32_at(MAGIC.len() + 4);
    if schema != PROFILE_SCHEMA_VERSION {
        return Err(format!("profile schema {schema}, this node reads {PROFILE_SCHEMA_VERSION}"));
    }
    let count = u32_at(MAGIC.len() + 8) as usize;
    if count > MAX_PROFILES {
        return Err(format!("{count} profiles, more than {MAX_PROFILES}"));
    }
    let mut out = Vec::with_capacity(count);
    let mut at = head;
    for i in 0..count {
        if at + 4 > body.len() {
            return Err(format!("ends inside profile {i}"));
        }
        let len = u32_at(at) as usize;
        at += 4;
        let Some(bytes) = body.get(at..at + len) else {
            return Err(format!("profile {i} runs past the end"));
        };
        at += len;
        let w = ember_proto::profile::FunctionProfile::decode(bytes).map_err(|e| format!("profile {i}: {e}"))?;
        out.push(from_wire(&w).map_err(|e| format!("profile {i}: {e}"))?);
    }
    if at != body.len() {
        return Err(format!("{} stray bytes after the last profile", body.len() - at));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_engine::FunctionKey;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ember-snap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn origin() -> Origin {
        Origin { node: "n1".into(), generation: 5, timestamp_ms: 77 }
    }

    #[test]
    fn saved_profiles_load_back() {
        let d = dir("ok");
        let ps: Vec<CompactProfile> = (1..=3)
            .map(|i| CompactProfile { key: FunctionKey(i), calls: 1000 * i as u64, site_bits: vec![i as u8; 4], ..Default::default() })
            .collect();
        save(&d, &origin(), &ps).unwrap();
        let back = load(&d).unwrap();
        assert_eq!(back.len(), 3);
        for (b, p) in back.iter().zip(&ps) {
            assert_eq!((b.profile.key, &b.profile.site_bits), (p.key, &p.site_bits));
            assert_eq!(b.origin, Some(origin()));
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn damaged_or_foreign_snapshots_are_reported_not_loaded() {
        let d = dir("bad");
        assert!(matches!(load(&d), Err(SnapshotError::Missing)));
        let ps = vec![CompactProfile { key: FunctionKey(1), calls: 10, ..Default::default() }];
        let path = save(&d, &origin(), &ps).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (b"hello".to_vec(), "not an Ember"),
            (good[..good.len() - 3].to_vec(), "checksum"),
            (
                {
                    let mut v = good.clone();
                    v[MAGIC.len() + 14] ^= 1;
                    v
                },
                "checksum",
            ),
        ];
        // Another format or schema version, with a valid checksum.
        for (offset, what) in [(0usize, "format version"), (4, "profile schema")] {
            let mut v = good[..good.len() - TRAILER].to_vec();
            v[MAGIC.len() + offset] = 99;
            let sum = Sha256::digest(&v);
            v.extend_from_slice(&sum[..TRAILER]);
            cases.push((v, what));
        }
        for (bytes, want) in cases {
            std::fs::write(&path, &bytes).unwrap();
            match load(&d) {
                Err(SnapshotError::Corrupt(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
