//! The heap: musl's malloc behind Rust's `GlobalAlloc` (installed by src/main.rs).

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// musl's allocator. Alignments up to 16 (all mote asks for) come from malloc directly; larger
/// ones from posix_memalign.
pub struct Malloc;

/// What musl's malloc guarantees for every size, on 32- and 64-bit targets alike.
const MALLOC_ALIGN: usize = 16;

// SAFETY: malloc, realloc and free implement the GlobalAlloc contract for the alignments
// checked below; memory is returned to the same allocator it came from.
unsafe impl GlobalAlloc for Malloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: a plain malloc of a non-zero size (GlobalAlloc never asks for 0 bytes).
            unsafe { libc::malloc(layout.size()).cast() }
        } else {
            let mut p: *mut c_void = core::ptr::null_mut();
            let align = layout.align().max(core::mem::size_of::<usize>());
            // SAFETY: `p` is a valid out-pointer; align is a power of two multiple of
            // sizeof(void*).
            if unsafe { libc::posix_memalign(&mut p, align, layout.size()) } != 0 {
                return core::ptr::null_mut();
            }
            p.cast()
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: calloc of one non-zero-sized element. musl hands large blocks straight
            // from mmap without touching them: a zeroed 1 MiB read buffer that is mostly
            // unused (state.json, cgroup.procs) costs no memory until written. (GlobalAlloc's
            // default would write every byte.)
            unsafe { libc::calloc(1, layout.size()).cast() }
        } else {
            // SAFETY: the caller's contract, as for alloc.
            let p = unsafe { self.alloc(layout) };
            if !p.is_null() {
                // SAFETY: `p` is valid for layout.size() bytes.
                unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from malloc or posix_memalign above (the caller's contract).
        unsafe { libc::free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: `ptr` came from this allocator with a malloc-compatible alignment.
            unsafe { libc::realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: the caller's contract for realloc; the new layout is valid because
            // new_size does not overflow when rounded to the alignment (GlobalAlloc's rule).
            let new = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller of the two sizes and distinct.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            new
        }
    }
}

/// What a panic does: print the message and where, then end by SIGABRT (else status 134).
/// mote must not panic on any input; a panic is a bug, and the message says where to look.
/// Not abort(3): musl's raise signals the thread id it cached, which in a child forked by
/// clone3 (proc::fork_into_cgroup) is still its parent's.
pub fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write as _;
    let mut w = super::env::FdWriter::stderr();
    let _ = writeln!(w, "mote: internal error (a bug; please report it): {info}");
    let _ = w.flush();
    // SAFETY: plain system calls on our own process; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGABRT, libc::SIG_DFL);
        libc::kill(libc::getpid(), libc::SIGABRT);
    }
    // Blocked, or the init of a pid namespace (which its own signals do not end).
    super::proc::exit_now(134)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_zeroing_and_realloc_keep_their_promises() {
        let a = Malloc;
        for align in [1usize, 2, 8, 16, 32, 64, 4096] {
            for size in [1usize, 7, 16, 100, 5000, 2 << 20] {
                let l = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every block is freed with its layout.
                unsafe {
                    let z = a.alloc_zeroed(l);
                    assert!(!z.is_null() && z as usize % align == 0, "zeroed {size}/{align}");
                    assert!(core::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                    core::ptr::write_bytes(z, 0xa5, size);
                    let r = a.realloc(z, l, size * 3);
                    assert!(!r.is_null() && r as usize % align == 0, "realloc {size}/{align}");
                    assert!(core::slice::from_raw_parts(r, size).iter().all(|b| *b == 0xa5));
                    a.dealloc(r, Layout::from_size_align(size * 3, align).unwrap());
                }
            }
        }
    }
}
