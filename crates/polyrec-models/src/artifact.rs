//! The on-disk form of a trained model: a JSON header (kind, parameters, vocabularies, anything
//! small) and any number of f32 arrays stored as raw little-endian bytes, so a 100,000 × 64
//! factor matrix costs 25 MB and loads without parsing. Save → load gives bit-identical floats.
//!
//! Layout: `POLYREC-MODEL 1\n`, u64 header length, header JSON, u64 array count, then per array
//! a u64 element count and the elements.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const MAGIC: &[u8] = b"POLYREC-MODEL 1\n";

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a polyrec model artifact (bad magic bytes)")]
    Magic,
    #[error("artifact is truncated")]
    Truncated,
    #[error("artifact header: {0}")]
    Header(#[from] serde_json::Error),
    #[error("artifact holds a `{found}` model, expected `{expected}`")]
    Kind { expected: String, found: String },
    #[error("artifact is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub header: Value,
    pub arrays: Vec<Vec<f32>>,
}

impl Artifact {
    pub fn new(kind: &str, header: impl Serialize, arrays: Vec<Vec<f32>>) -> Self {
        let header = serde_json::json!({"kind": kind, "model": serde_json::to_value(header).expect("serialisable")});
        Self { header, arrays }
    }

    pub fn kind(&self) -> &str {
        self.header.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// The header of a model of `kind`, typed.
    pub fn model<H: DeserializeOwned>(&self, kind: &str) -> Result<H, ArtifactError> {
        if self.kind() != kind {
            return Err(ArtifactError::Kind { expected: kind.into(), found: self.kind().into() });
        }
        Ok(serde_json::from_value(self.header.get("model").cloned().unwrap_or(Value::Null))?)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("serialisable");
        let floats: usize = self.arrays.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 16 + header.len() + 8 * self.arrays.len() + 4 * floats);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.arrays.len() as u64).to_le_bytes());
        for array in &self.arrays {
            out.extend_from_slice(&(array.len() as u64).to_le_bytes());
            for x in array {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(ArtifactError::Magic)?;
        let mut reader = Reader(rest);
        let header_len = reader.u64()? as usize;
        let header = serde_json::from_slice(reader.take(header_len)?)?;
        let count = reader.u64()? as usize;
        let mut arrays = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = reader.u64()? as usize;
            let raw = reader.take(len.checked_mul(4).ok_or(ArtifactError::Truncated)?)?;
            arrays.push(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
        }
        Ok(Self { header, arrays })
    }

    /// Array `i`, checked to hold `len` floats.
    pub fn array(&self, i: usize, len: usize) -> Result<&[f32], ArtifactError> {
        let array = self.arrays.get(i).ok_or_else(|| ArtifactError::Invalid(format!("array {i} is missing")))?;
        if array.len() != len {
            return Err(ArtifactError::Invalid(format!("array {i} has {} values, expected {len}", array.len())));
        }
        Ok(array)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        if self.0.len() < n {
            return Err(ArtifactError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, ArtifactError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly_and_rejects_damage() {
        let artifact =
            Artifact::new("test", serde_json::json!({"n": 2}), vec![vec![1.5, f32::MIN_POSITIVE, -0.0], vec![]]);
        let bytes = artifact.to_bytes();
        let back = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(back, artifact);
        assert_eq!(back.arrays[0][1].to_bits(), f32::MIN_POSITIVE.to_bits());
        assert!(matches!(Artifact::from_bytes(&bytes[..bytes.len() - 1]), Err(ArtifactError::Truncated)));
        assert!(matches!(Artifact::from_bytes(b"nope"), Err(ArtifactError::Magic)));
        assert!(matches!(back.model::<Value>("other"), Err(ArtifactError::Kind { .. })));
    }
}
