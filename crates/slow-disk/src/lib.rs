//! A preload library for `bosun-bench --fsync-delay-us N`: loaded into `bosun serve` with
//! `LD_PRELOAD`, it makes every `fsync` and `fdatasync` of that process wait
//! `BOSUN_BENCH_FSYNC_DELAY_US` microseconds before doing the real one. Ingest waits for an
//! fsync before each 202, so its numbers depend on the disk; this shows what a machine with a
//! slower disk would see, on the machine at hand. The delay is a sleep, so unlike a real slow
//! disk it costs no CPU and two syncs at once do not queue behind each other.
//!
//! Never part of bosun: only the bench builds and loads it.

use std::ffi::{c_int, CStr};
use std::sync::OnceLock;
use std::time::Duration;

type SyncFn = unsafe extern "C" fn(c_int) -> c_int;

const DELAY_VAR: &str = "BOSUN_BENCH_FSYNC_DELAY_US";

fn delay() -> Duration {
    static DELAY: OnceLock<Duration> = OnceLock::new();
    *DELAY.get_or_init(|| delay_from(std::env::var(DELAY_VAR).ok().as_deref()))
}

/// Microseconds; anything unreadable adds nothing, so a typo cannot stall the server.
fn delay_from(value: Option<&str>) -> Duration {
    Duration::from_micros(value.and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

/// The C library's own function of that name: the next definition after this library's.
fn next(name: &CStr) -> SyncFn {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name only looks a symbol up.
    let found = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    assert!(
        !found.is_null(),
        "slow-disk: no {name:?} after this library"
    );
    // SAFETY: fsync and fdatasync both have the C type int (*)(int).
    unsafe { std::mem::transmute::<*mut libc::c_void, SyncFn>(found) }
}

fn delayed(real: &OnceLock<SyncFn>, name: &CStr, fd: c_int) -> c_int {
    let real = *real.get_or_init(|| next(name));
    std::thread::sleep(delay());
    // SAFETY: the C library's function, called with the caller's own argument.
    unsafe { real(fd) }
}

/// # Safety
/// As the C library's `fsync`: `fd` is the caller's file descriptor.
#[no_mangle]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    static REAL: OnceLock<SyncFn> = OnceLock::new();
    delayed(&REAL, c"fsync", fd)
}

/// # Safety
/// As the C library's `fdatasync`: `fd` is the caller's file descriptor.
#[no_mangle]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    static REAL: OnceLock<SyncFn> = OnceLock::new();
    delayed(&REAL, c"fdatasync", fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_delay_is_read_in_microseconds_and_nonsense_adds_nothing() {
        assert_eq!(delay_from(Some("700")), Duration::from_micros(700));
        assert_eq!(delay_from(Some(" 5 ")), Duration::from_micros(5));
        assert_eq!(delay_from(Some("-3")), Duration::ZERO);
        assert_eq!(delay_from(Some("fast")), Duration::ZERO);
        assert_eq!(delay_from(None), Duration::ZERO);
    }

    // The wrappers find the C library's functions and hand back their answers unchanged,
    // errors included.
    #[test]
    fn the_real_calls_answer_through_the_wrappers() {
        let file = scratch_file();
        let fd = file.as_raw_fd();
        // SAFETY: a file descriptor this test owns, and one that is not open.
        unsafe {
            assert_eq!(fsync(fd), 0);
            assert_eq!(fdatasync(fd), 0);
            assert_eq!(fdatasync(-1), -1);
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    fn scratch_file() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("slow-disk-test-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
