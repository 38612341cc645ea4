//! The mote binary: a C `main` over the library, without std (README "Building" says why).
//!
//! Debug builds link std all the same: `cargo test` turns on the dev-dependencies' features for
//! the binary it builds, serde's `std` among them, and std then brings its own panic handler
//! and unwinder. Release builds (every shipped binary) have only core, alloc and musl.

// `cargo test --all-targets` also builds this file as an (empty) test harness: everything
// below is for the real binary only.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![cfg(not(test))]

#[cfg(debug_assertions)]
extern crate std;

use core::ffi::{c_char, c_int};

#[global_allocator]
static HEAP: mote::sys::alloc::Malloc = mote::sys::alloc::Malloc;

#[cfg(not(debug_assertions))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    mote::sys::alloc::panic(info)
}

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: argc and argv are what the C runtime passes to main: argc strings that live as
    // long as the process, then a null pointer.
    unsafe { mote::sys::env::init(argc, argv) };
    mote::cli::main()
}

// The C library: std linked it before; without std the binary names it itself (statically
// for the static musl builds, as the libc crate does).
#[cfg_attr(
    target_feature = "crt-static",
    link(name = "c", kind = "static", modifiers = "-bundle")
)]
#[cfg_attr(not(target_feature = "crt-static"), link(name = "c"))]
extern "C" {}

/// core and alloc as rustup ships them were compiled for unwinding and name the unwinder's
/// entry points. mote aborts on panic, so nothing ever unwinds and these are never called.
#[cfg(not(debug_assertions))]
#[no_mangle]
extern "C" fn _Unwind_Resume() -> ! {
    mote::sys::env::exit(134)
}

/// See `_Unwind_Resume`: referenced from unwind tables, never called.
#[cfg(not(debug_assertions))]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// 32-bit ARM's unwind tables (.ARM.exidx) name these personality routines; as above, never
/// called.
#[cfg(all(target_arch = "arm", not(debug_assertions)))]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr0() {}
/// See `__aeabi_unwind_cpp_pr0`.
#[cfg(all(target_arch = "arm", not(debug_assertions)))]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr1() {}
/// See `__aeabi_unwind_cpp_pr0`.
#[cfg(all(target_arch = "arm", not(debug_assertions)))]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr2() {}
