//! How the process hands freed memory back to the system.
//!
//! glibc's allocator serves a large block (above its mmap threshold, 128 KiB at start) with its
//! own mapping and unmaps it on free, but every such free also raises the threshold to the
//! freed block's size, up to 32 MiB. A password check allocates ~19 MiB for argon2, so after
//! the first few checks (the demo's accounts at start-up, a burst of logins) those blocks come
//! from the heap arenas instead, and freed arena memory mostly stays with the process: a demo
//! server held ~480 MB idle against ~115 MB for the same database served again. Pinning the
//! threshold keeps large blocks mapped and returned on free; blocks that size are few, so the
//! extra system calls cost nothing measurable (`ops/bench/run-login.sh` records RSS).

/// Called once, first thing in `main`, before threads start allocating.
pub fn return_large_blocks_on_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt only changes allocator parameters; it is called before any other
        // thread exists, as glibc recommends for tuning.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

/// Hands the heap's freed pages back to the system: called once start-up work is done (the
/// catalogue learned from its labelled calls, the demo district generated), whose many small
/// blocks glibc would otherwise keep resident for the life of the process (~8 MB of the second
/// opinion's learning alone).
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free memory at the top and inside the heap to the
        // system; it is safe to call at any time from any thread.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
