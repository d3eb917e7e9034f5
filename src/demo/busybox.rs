//! Where the demo image's tools come from: the host's static busybox (Debian's
//! `busybox-static` puts it at `/bin/busybox`), so the image can be built `FROM scratch` with no
//! registry. A dynamically linked busybox would not start in an image without its loader and
//! libraries, so it does not count.

use std::path::{Path, PathBuf};

/// Where distributions install busybox.
const CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"];

/// The first statically linked busybox on this host, with its bytes.
pub fn find_static() -> Option<(PathBuf, Vec<u8>)> {
    CANDIDATES.iter().map(Path::new).find_map(|path| {
        let bytes = std::fs::read(path).ok()?;
        is_static_elf(&bytes).then(|| (path.to_path_buf(), bytes))
    })
}

/// An ELF executable with no program interpreter (`PT_INTERP`) runs without a dynamic loader.
/// Reads the program headers of 32- and 64-bit little-endian files (every architecture Docker
/// runs busybox on here); anything else is "not static".
fn is_static_elf(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
        return false;
    }
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    // (program header offset, entry size, count) for ELF32 and ELF64.
    let table = match bytes[4] {
        1 => (u32_at(28).map(u64::from), u16_at(42), u16_at(44)),
        2 => (u64_at(32), u16_at(54), u16_at(56)),
        _ => return false,
    };
    let (Some(offset), Some(size), Some(count)) = table else {
        return false;
    };
    let Ok(offset) = usize::try_from(offset) else {
        return false;
    };
    let size = usize::from(size);
    // Every entry must be in the file whole: a table that points past the end is not trusted.
    size >= 4
        && (0..usize::from(count)).all(|i| {
            let at = offset + i * size;
            at + size <= bytes.len() && u32_at(at).is_some_and(|kind| kind != PT_INTERP)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with one program header of type `kind`.
    fn elf64(kind: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&kind.to_le_bytes());
        b
    }

    #[test]
    fn an_interpreter_makes_a_binary_dynamic() {
        assert!(is_static_elf(&elf64(1)));
        assert!(!is_static_elf(&elf64(3)));
        assert!(!is_static_elf(b"#!/bin/sh\necho not elf\n"));
        // A header that points past the end of the file is not trusted.
        let mut cut = elf64(1);
        cut.truncate(80);
        assert!(!is_static_elf(&cut));
    }
}
