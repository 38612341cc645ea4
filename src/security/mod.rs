//! Capabilities now; seccomp, user namespaces and LSM labels as they land.

pub mod caps;
pub mod lsm;
pub mod seccomp;
