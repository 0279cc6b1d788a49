// SPDX-License-Identifier: MIT OR Apache-2.0

//! The retrieval index of a reference library: per photo one global embedding (exact
//! nearest-neighbour search for the shortlist) and a grid of local descriptors (re-ranking),
//! and its versioned, checksummed file format.
//!
//! File layout (little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `GSTEXIDX` |
//! | 4 | format version (2; version 1 had no local descriptors and is rebuilt) |
//! | 32 | SHA-256 of the encoder model that made the embeddings |
//! | 4 | embedding dimension `d` |
//! | 4 | local descriptor dimension `c` (0: the encoder has none) |
//! | 4 | entry count `n` |
//! | … | `n` entries: path length (u32), path bytes (relative to the library, as the OS gives them), size (u64), modification time (i64 seconds, u32 nanoseconds), `d` f32, cell count `m` (u32, at most 64), `m` f32 scales, `m × c` i8 |
//! | 32 | SHA-256 of everything before it |

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::descriptor::{Descriptor, LocalFeatures, MAX_PHOTO_GRID};

const MAGIC: &[u8; 8] = b"GSTEXIDX";
const VERSION: u32 = 2;
const MAX_CELLS: usize = MAX_PHOTO_GRID * MAX_PHOTO_GRID;
const MAX_PATH_BYTES: usize = 64 * 1024;
const MAX_DIMENSION: usize = 65_536;

/// What identifies one version of a photo: a change of any field means it must be embedded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoKey {
    /// Relative to the library folder.
    pub path: PathBuf,
    pub size: u64,
    pub modified_secs: i64,
    pub modified_nanos: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    model_hash: [u8; 32],
    dimension: usize,
    local_dimension: usize,
    keys: Vec<PhotoKey>,
    local: Vec<LocalFeatures>,
    /// `keys.len() × dimension` values, L2-normalised rows.
    embeddings: Vec<f32>,
    /// The same rows in 8 bits (`row ≈ scale × quantized`), a quarter of the memory traffic
    /// for the first pass of the search; with the error bounds below the search stays exact.
    quantized: Vec<i8>,
    scales: Vec<f32>,
    /// Per row: `‖row − scale × quantized‖` and `‖scale × quantized‖`.
    error_norms: Vec<f32>,
    quantized_norms: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    NotAnIndex,
    UnsupportedVersion(u32),
    Truncated,
    ChecksumMismatch,
    Malformed(&'static str),
    Unreadable(String),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::NotAnIndex => write!(f, "not a gst-exemplar index file"),
            IndexError::UnsupportedVersion(v) => write!(
                f,
                "index format version {v} is not supported (expected {VERSION})"
            ),
            IndexError::Truncated => write!(f, "the index file is truncated"),
            IndexError::ChecksumMismatch => {
                write!(f, "the index file's checksum does not match its content")
            }
            IndexError::Malformed(what) => write!(f, "the index file is malformed: {what}"),
            IndexError::Unreadable(why) => write!(f, "the index file cannot be read: {why}"),
        }
    }
}

impl std::error::Error for IndexError {}

/// The nearest photo to a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub entry: usize,
    /// Cosine similarity of the two embeddings.
    pub similarity: f32,
    /// Euclidean distance between the normalised embeddings, `sqrt(2 − 2·similarity)`.
    pub distance: f32,
}

impl Index {
    pub fn new(model_hash: [u8; 32], dimension: usize, local_dimension: usize) -> Self {
        Index {
            model_hash,
            dimension,
            local_dimension,
            keys: Vec::new(),
            local: Vec::new(),
            embeddings: Vec::new(),
            quantized: Vec::new(),
            scales: Vec::new(),
            error_norms: Vec::new(),
            quantized_norms: Vec::new(),
        }
    }

    pub fn model_hash(&self) -> &[u8; 32] {
        &self.model_hash
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn local_dimension(&self) -> usize {
        self.local_dimension
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn key(&self, entry: usize) -> &PhotoKey {
        &self.keys[entry]
    }

    pub fn embedding(&self, entry: usize) -> &[f32] {
        &self.embeddings[entry * self.dimension..(entry + 1) * self.dimension]
    }

    pub fn local(&self, entry: usize) -> &LocalFeatures {
        &self.local[entry]
    }

    pub fn descriptor(&self, entry: usize) -> Descriptor {
        Descriptor {
            global: self.embedding(entry).to_vec(),
            local: self.local[entry].clone(),
        }
    }

    pub fn position(&self, key: &PhotoKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// Whether a descriptor fits this index: the embedding's dimension, and local descriptors
    /// of the index's width (or none), within the grid bound.
    pub fn fits(&self, descriptor: &Descriptor) -> bool {
        let local = &descriptor.local;
        descriptor.global.len() == self.dimension
            && local.cells() <= MAX_CELLS
            && (local.cells() == 0 || local.dimension() == self.local_dimension)
    }

    /// Adds an entry; the embedding is L2-normalised on the way in.
    ///
    /// Panics if the descriptor does not fit (a programming error; check with `fits`).
    pub fn push(&mut self, key: PhotoKey, descriptor: &Descriptor) {
        assert!(self.fits(descriptor), "descriptor does not fit the index");
        self.add_row(key, &normalized(&descriptor.global));
        self.local.push(descriptor.local.clone());
    }

    fn add_row(&mut self, key: PhotoKey, row: &[f32]) {
        let (quantized, scale) = quantize(row);
        let mut error = 0.0f32;
        let mut approximation = 0.0f32;
        for (&v, &q) in row.iter().zip(&quantized) {
            let approx = scale * q as f32;
            error += (v - approx) * (v - approx);
            approximation += approx * approx;
        }
        self.keys.push(key);
        self.embeddings.extend_from_slice(row);
        self.quantized.extend_from_slice(&quantized);
        self.scales.push(scale);
        self.error_norms.push(error.sqrt());
        self.quantized_norms.push(approximation.sqrt());
    }

    /// Exact nearest neighbour by cosine similarity over every entry. `query` must have the
    /// index's dimension and be L2-normalised.
    pub fn nearest(&self, query: &[f32]) -> Option<Match> {
        self.nearest_k(query, 1).into_iter().next()
    }

    /// The `k` exact nearest neighbours by cosine similarity, nearest first (the earlier entry
    /// first among equals); fewer when the index is smaller, none when `query` does not fit.
    ///
    /// A first pass scores every entry in 8 bits. With `e` the row's quantisation error and
    /// `ε` the query's, `|row·q − approx| ≤ ‖e‖ + ‖row_q‖·‖ε‖`, so only entries whose upper
    /// bound reaches the k-th best lower bound can be among the k; the second pass scores those
    /// exactly in f32.
    pub fn nearest_k(&self, query: &[f32], k: usize) -> Vec<Match> {
        if query.len() != self.dimension || self.is_empty() || k == 0 {
            return Vec::new();
        }
        let (query_quantized, query_scale) = quantize(query);
        let query_error = query
            .iter()
            .zip(&query_quantized)
            .map(|(&v, &q)| (v - query_scale * q as f32).powi(2))
            .sum::<f32>()
            .sqrt();
        // Slack for the rounding of the f32 arithmetic in the bounds themselves.
        const SLACK: f32 = 1e-4;
        let screened: Vec<(f32, f32)> = self
            .quantized
            .chunks_exact(self.dimension)
            .enumerate()
            .map(|(entry, row)| {
                let approx =
                    self.scales[entry] * query_scale * dot_i8(row, &query_quantized) as f32;
                let bound =
                    self.error_norms[entry] + self.quantized_norms[entry] * query_error + SLACK;
                (approx, bound)
            })
            .collect();
        let mut lower: Vec<f32> = screened
            .iter()
            .map(|(approx, bound)| approx - bound)
            .collect();
        let k = k.min(lower.len());
        let (_, &mut kth_lower, _) = lower.select_nth_unstable_by(k - 1, |x, y| y.total_cmp(x));
        let mut found: Vec<(usize, f32)> = screened
            .iter()
            .enumerate()
            .filter(|(_, (approx, bound))| approx + bound >= kth_lower)
            .map(|(entry, _)| (entry, dot(self.embedding(entry), query)))
            .collect();
        found.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        found.truncate(k);
        found
            .into_iter()
            .map(|(entry, similarity)| Match {
                entry,
                similarity,
                distance: distance(similarity),
            })
            .collect()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.embeddings.len() * 4 + self.keys.len() * 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.model_hash);
        out.extend_from_slice(&(self.dimension as u32).to_le_bytes());
        out.extend_from_slice(&(self.local_dimension as u32).to_le_bytes());
        out.extend_from_slice(&(self.keys.len() as u32).to_le_bytes());
        for (entry, key) in self.keys.iter().enumerate() {
            let path = path_bytes(&key.path);
            out.extend_from_slice(&(path.len() as u32).to_le_bytes());
            out.extend_from_slice(&path);
            out.extend_from_slice(&key.size.to_le_bytes());
            out.extend_from_slice(&key.modified_secs.to_le_bytes());
            out.extend_from_slice(&key.modified_nanos.to_le_bytes());
            for v in self.embedding(entry) {
                out.extend_from_slice(&v.to_le_bytes());
            }
            let local = &self.local[entry];
            out.extend_from_slice(&(local.cells() as u32).to_le_bytes());
            for scale in local.scales() {
                out.extend_from_slice(&scale.to_le_bytes());
            }
            out.extend(local.values().iter().map(|&v| v as u8));
        }
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// Parses an index file, trusting nothing: any inconsistency is an error, never a panic,
    /// and allocations are bounded by the input's length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IndexError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(IndexError::NotAnIndex);
        }
        let mut reader = Reader {
            bytes,
            at: MAGIC.len(),
        };
        let version = reader.u32()?;
        if version != VERSION {
            return Err(IndexError::UnsupportedVersion(version));
        }
        if bytes.len() < 32 + MAGIC.len() {
            return Err(IndexError::Truncated);
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(IndexError::ChecksumMismatch);
        }
        let mut reader = Reader {
            bytes: body,
            at: reader.at,
        };
        let model_hash: [u8; 32] = reader
            .take(32)?
            .try_into()
            .map_err(|_| IndexError::Truncated)?;
        let dimension = reader.u32()? as usize;
        if dimension == 0 || dimension > MAX_DIMENSION {
            return Err(IndexError::Malformed("embedding dimension out of range"));
        }
        let local_dimension = reader.u32()? as usize;
        if local_dimension > MAX_DIMENSION {
            return Err(IndexError::Malformed(
                "local descriptor dimension out of range",
            ));
        }
        let count = reader.u32()? as usize;
        // Each entry takes at least 28 + 4·d bytes: a count that cannot fit is a lie.
        if count.saturating_mul(28 + 4 * dimension) > body.len() {
            return Err(IndexError::Truncated);
        }
        let mut index = Index::new(model_hash, dimension, local_dimension);
        index.embeddings.reserve(count * dimension);
        index.quantized.reserve(count * dimension);
        for _ in 0..count {
            let path_len = reader.u32()? as usize;
            if path_len == 0 || path_len > MAX_PATH_BYTES {
                return Err(IndexError::Malformed("path length out of range"));
            }
            let path = path_from_bytes(reader.take(path_len)?);
            if path.is_absolute()
                || path
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
            {
                return Err(IndexError::Malformed("path leaves the library folder"));
            }
            let size = reader.u64()?;
            let modified_secs = reader.u64()? as i64;
            let modified_nanos = reader.u32()?;
            let mut row = Vec::with_capacity(dimension);
            for _ in 0..dimension {
                let v = f32::from_le_bytes(reader.array()?);
                if !v.is_finite() {
                    return Err(IndexError::Malformed("embedding value is not finite"));
                }
                row.push(v);
            }
            let cells = reader.u32()? as usize;
            if cells > MAX_CELLS || (cells > 0 && local_dimension == 0) {
                return Err(IndexError::Malformed("local descriptor count out of range"));
            }
            let mut scales = Vec::with_capacity(cells);
            for _ in 0..cells {
                let scale = f32::from_le_bytes(reader.array()?);
                if !scale.is_finite() || scale < 0.0 {
                    return Err(IndexError::Malformed("local descriptor scale is not valid"));
                }
                scales.push(scale);
            }
            let values = reader
                .take(cells * local_dimension)?
                .iter()
                .map(|&v| v as i8)
                .collect();
            let local = LocalFeatures::from_parts(local_dimension, values, scales)
                .ok_or(IndexError::Malformed("local descriptors do not add up"))?;
            index.local.push(local);
            index.add_row(
                PhotoKey {
                    path,
                    size,
                    modified_secs,
                    modified_nanos,
                },
                &row,
            );
        }
        if reader.at != body.len() {
            return Err(IndexError::Malformed("trailing bytes after the entries"));
        }
        Ok(index)
    }
}

/// Euclidean distance between two L2-normalised vectors of this cosine similarity.
pub fn distance(similarity: f32) -> f32 {
    (2.0 - 2.0 * similarity).max(0.0).sqrt()
}

/// Dot product in eight independent lanes so the compiler can keep vector registers busy.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.len() / 8;
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += ca[k] * cb[k];
        }
    }
    let tail: f32 = a[chunks * 8..]
        .iter()
        .zip(&b[chunks * 8..])
        .map(|(x, y)| x * y)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// `v / ‖v‖` (a zero vector stays zero).
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// Symmetric 8-bit quantisation with one scale per vector: `v ≈ scale × q`.
pub(crate) fn quantize(values: &[f32]) -> (Vec<i8>, f32) {
    let peak = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak == 0.0 {
        return (vec![0; values.len()], 0.0);
    }
    let scale = peak / 127.0;
    let quantized = values
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (quantized, scale)
}

#[inline(always)]
fn dot_i8_lanes(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 32];
    let chunks = a.len() / 32;
    for (ca, cb) in a.chunks_exact(32).zip(b.chunks_exact(32)) {
        for k in 0..32 {
            lanes[k] += ca[k] as i16 as i32 * cb[k] as i16 as i32;
        }
    }
    let tail: i32 = a[chunks * 32..]
        .iter()
        .zip(&b[chunks * 32..])
        .map(|(&x, &y)| x as i32 * y as i32)
        .sum();
    lanes.iter().sum::<i32>() + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_lanes(a, b)
}

/// Integer dot product (|sum| ≤ 127² × len, no overflow below 133 000 dimensions), with the
/// AVX2 build of the same loop where the processor has it.
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_lanes(a, b)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self.at.checked_add(n).ok_or(IndexError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(IndexError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        self.take(N)?.try_into().map_err(|_| IndexError::Truncated)
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, IndexError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> PhotoKey {
        PhotoKey {
            path: PathBuf::from(name),
            size: 1234,
            modified_secs: 1_700_000_000,
            modified_nanos: 5,
        }
    }

    fn global(embedding: &[f32]) -> Descriptor {
        Descriptor {
            global: embedding.to_vec(),
            local: LocalFeatures::empty(2),
        }
    }

    fn sample() -> Index {
        let mut index = Index::new([7; 32], 4, 2);
        index.push(key("a.jpg"), &global(&[1.0, 0.0, 0.0, 0.0]));
        index.push(key("sub/b.png"), &global(&[0.0, 2.0, 0.0, 0.0]));
        index.push(key("c.webp"), &global(&[1.0, 1.0, 0.0, 0.0]));
        let map = [1.0, 0.0, 0.5, 0.0, 1.0, 0.5];
        index.push(
            key("d.tif"),
            &Descriptor {
                global: vec![0.0, 0.0, 1.0, 0.0],
                local: LocalFeatures::from_map(&map, 2, 1, 3, 8),
            },
        );
        index
    }

    #[test]
    fn round_trips_through_bytes() {
        let index = sample();
        let bytes = index.to_bytes();
        assert_eq!(Index::from_bytes(&bytes), Ok(index));
    }

    #[test]
    fn finds_the_exact_nearest_neighbour() {
        let index = sample();
        let found = index.nearest(&[0.0, 1.0, 0.0, 0.0]).unwrap();
        assert_eq!(found.entry, 1);
        assert_eq!(found.similarity, 1.0);
        assert_eq!(found.distance, 0.0);
        let diagonal = index.nearest(&[0.6, 0.8, 0.0, 0.0]).unwrap();
        assert_eq!(diagonal.entry, 2);
        assert!((diagonal.similarity - 1.4 / 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(index.nearest(&[1.0, 0.0]), None);
        assert_eq!(
            Index::new([0; 32], 4, 2).nearest(&[1.0, 0.0, 0.0, 0.0]),
            None
        );
    }

    #[test]
    fn screened_search_equals_brute_force() {
        let mut state = 7u32;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 - 0.5
        };
        let dimension = 1280;
        let mut index = Index::new([0; 32], dimension, 2);
        let base: Vec<f32> = (0..dimension).map(|_| random()).collect();
        for i in 0..500 {
            // Clustered rows (shared component plus noise) make near-ties, the hard case.
            let row: Vec<f32> = base.iter().map(|b| b + 0.3 * random()).collect();
            index.push(key(&format!("{i}.jpg")), &global(&row));
        }
        for _ in 0..50 {
            let q: Vec<f32> = base.iter().map(|b| b + 0.3 * random()).collect();
            let q = normalized(&q);
            let mut brute: Vec<(usize, f32)> = (0..index.len())
                .map(|e| (e, dot(index.embedding(e), &q)))
                .collect();
            brute.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            let found = index.nearest(&q).unwrap();
            assert_eq!((found.entry, found.similarity), brute[0]);
            let five: Vec<(usize, f32)> = index
                .nearest_k(&q, 5)
                .iter()
                .map(|m| (m.entry, m.similarity))
                .collect();
            assert_eq!(five, brute[..5]);
        }
        assert_eq!(index.nearest_k(&normalized(&base), 600).len(), 500);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error() {
        let bytes = sample().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                Index::from_bytes(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        for at in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[at] ^= 0x40;
            assert!(Index::from_bytes(&corrupt).is_err(), "byte {at} flipped");
        }
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            Index::from_bytes(b"random bytes here"),
            Err(IndexError::NotAnIndex)
        );
        let mut bytes = sample().to_bytes();
        bytes[8] = 9;
        assert_eq!(
            Index::from_bytes(&bytes),
            Err(IndexError::UnsupportedVersion(9))
        );
        let mut bytes = sample().to_bytes();
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        assert_eq!(Index::from_bytes(&bytes), Err(IndexError::ChecksumMismatch));
    }

    #[test]
    fn a_version_1_index_is_refused_by_its_number() {
        let mut bytes = sample().to_bytes();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(
            Index::from_bytes(&bytes),
            Err(IndexError::UnsupportedVersion(1))
        );
    }

    #[test]
    fn keeps_local_descriptors() {
        let index = sample();
        let back = Index::from_bytes(&index.to_bytes()).unwrap();
        assert_eq!(back.local(3).cells(), 3);
        assert_eq!(back.local(3), index.local(3));
        assert_eq!(back.local(0).cells(), 0);
    }

    #[test]
    fn refuses_paths_that_leave_the_library() {
        let mut index = Index::new([0; 32], 1, 2);
        index.push(key("../etc/passwd"), &global(&[1.0]));
        assert_eq!(
            Index::from_bytes(&index.to_bytes()),
            Err(IndexError::Malformed("path leaves the library folder"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn keeps_non_utf8_names() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
        let mut index = Index::new([0; 32], 2, 2);
        index.push(
            PhotoKey {
                path: PathBuf::from(name),
                ..key("x")
            },
            &global(&[0.0, 1.0]),
        );
        let back = Index::from_bytes(&index.to_bytes()).unwrap();
        assert_eq!(back.key(0).path.as_os_str(), name);
    }
}
