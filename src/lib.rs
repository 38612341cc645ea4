//! mote: a small OCI container runtime and workload supervisor for edge Linux boards.
//!
//! One library used by the CLI and the supervisor: `container` holds the lifecycle
//! operations; `spec` the inputs; `sys` the system calls (the only `unsafe`); `rootfs`,
//! `process`, `cgroup` and `security` the steps `create` performs.

#![deny(unsafe_op_in_unsafe_fn)]
// No std outside the unit tests: core, alloc, rustix and libc (src/main.rs has the entry
// point, the allocator and the panic handler). See README "Building" for why.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

/// What std's prelude would give: alloc's types and macros, imported by each module.
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

pub mod cgroup;
pub mod cli;
pub mod container;
#[cfg(feature = "deploy")]
pub mod deploy;
pub mod error;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod spec;
#[cfg(feature = "supervise")]
pub mod supervisor;
pub mod sys;

/// mote's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The runtime-spec version mote implements.
pub const SPEC_VERSION: &str = "1.2.0";
/// The git commit mote was built from.
pub const COMMIT: &str = match option_env!("MOTE_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
