// SPDX-License-Identifier: MIT OR Apache-2.0

//! Arbitrary bytes as a reference index file: parsing never panics or over-allocates, and what
//! parses writes back to the same bytes and can be searched. Each input is also tried with its
//! checksum made right, so the fuzzer reaches the parser behind the checksum.
#![no_main]

use gstexemplar::colorize::index::Index;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn check(data: &[u8]) {
    if let Ok(index) = Index::from_bytes(data) {
        assert_eq!(index.to_bytes(), data);
        let mut query = vec![0.0f32; index.dimension()];
        query[0] = 1.0;
        if let Some(found) = index.nearest(&query) {
            assert!(found.entry < index.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 32 {
        let body = &data[..data.len() - 32];
        let mut fixed = body.to_vec();
        fixed.extend_from_slice(&Sha256::digest(body));
        check(&fixed);
    }
});
