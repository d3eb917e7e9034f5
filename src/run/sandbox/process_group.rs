//! Signals to a whole process group. The process backend starts the script as the leader of a
//! new group, so its background children (`sleep 100 &`, a dev server a test forgot) are
//! stopped with it instead of outliving the run.

/// Sends `signal` to every process in group `pgid`. A group that is already empty is fine.
pub(crate) fn signal_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never signal "every process" or init by accident
    }
    // SAFETY: killpg has no memory-safety preconditions; a stale or empty group gives ESRCH.
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, signal, error = %err, "could not signal process group");
        }
    }
}

/// Kills the group with SIGKILL when dropped, unless disarmed: a dropped run future must not
/// leave the script running on the host.
pub(crate) struct GroupGuard {
    pgid: u32,
    armed: bool,
}

impl GroupGuard {
    pub(crate) fn new(pgid: u32) -> Self {
        GroupGuard { pgid, armed: true }
    }

    /// Kills what is left of the group now and disarms the guard.
    pub(crate) fn kill_rest(&mut self) {
        signal_group(self.pgid, libc::SIGKILL);
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}
