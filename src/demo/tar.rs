//! A build context for the Docker engine, written in memory: the engine's `/build` endpoint
//! takes a tar archive, and the demo's context is a handful of small files, so a plain ustar
//! writer (files, directories, symbolic links) is all it needs.

/// One entry of the archive. Paths are relative, `/`-separated, at most 100 bytes.
pub enum Entry<'a> {
    File {
        path: &'a str,
        mode: u32,
        content: &'a [u8],
    },
    Dir {
        path: &'a str,
        mode: u32,
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
}

const BLOCK: usize = 512;

/// The archive holding `entries` in order, owned by root, dated at the epoch (so the same
/// entries always give the same bytes).
pub fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let (path, mode, kind, link, content): (&str, u32, u8, &str, &[u8]) = match entry {
            Entry::File {
                path,
                mode,
                content,
            } => (path, *mode, b'0', "", content),
            Entry::Dir { path, mode } => (path, *mode, b'5', "", &[]),
            Entry::Symlink { path, target } => (path, 0o777, b'2', target, &[]),
        };
        out.extend_from_slice(&header(path, mode, content.len(), kind, link));
        out.extend_from_slice(content);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    // The end of an archive is two zero blocks.
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

fn header(path: &str, mode: u32, size: usize, kind: u8, link: &str) -> [u8; BLOCK] {
    // The demo's own paths are short; a longer one would be a mistake in this module.
    assert!(
        path.len() <= 100 && link.len() <= 100,
        "tar path too long: {path}"
    );
    let mut h = [0u8; BLOCK];
    put(&mut h[0..100], path.as_bytes());
    put(&mut h[100..108], format!("{mode:07o}").as_bytes());
    put(&mut h[108..116], b"0000000");
    put(&mut h[116..124], b"0000000");
    put(&mut h[124..136], format!("{size:011o}").as_bytes());
    put(&mut h[136..148], b"00000000000");
    h[156] = kind;
    put(&mut h[157..257], link.as_bytes());
    put(&mut h[257..263], b"ustar\0");
    put(&mut h[263..265], b"00");
    // The checksum is computed with its own field read as spaces.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h[148..156], format!("{sum:06o}\0 ").as_bytes());
    h
}

fn put(field: &mut [u8], value: &[u8]) {
    field[..value.len()].copy_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_block_aligned_with_valid_checksums() {
        let tar = archive(&[
            Entry::Dir {
                path: "rootfs/",
                mode: 0o755,
            },
            Entry::File {
                path: "rootfs/a.sh",
                mode: 0o755,
                content: b"echo hi\n",
            },
            Entry::Symlink {
                path: "rootfs/sh",
                target: "busybox",
            },
        ]);
        // Three headers, one data block, two end blocks.
        assert_eq!(tar.len(), 6 * BLOCK);
        let file = &tar[BLOCK..2 * BLOCK];
        assert_eq!(&file[0..11], b"rootfs/a.sh");
        assert_eq!(&file[100..107], b"0000755");
        assert_eq!(&file[124..135], b"00000000010");
        assert_eq!(&tar[2 * BLOCK..2 * BLOCK + 8], b"echo hi\n");
        let link = &tar[3 * BLOCK..4 * BLOCK];
        assert_eq!(link[156], b'2');
        assert_eq!(&link[157..164], b"busybox");
        for h in [&tar[..BLOCK], file, link] {
            let stored = std::str::from_utf8(&h[148..154]).unwrap();
            let mut copy = h.to_vec();
            copy[148..156].fill(b' ');
            let sum: u32 = copy.iter().map(|b| u32::from(*b)).sum();
            assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
        }
    }
}
