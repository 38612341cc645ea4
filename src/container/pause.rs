//! `pause` and `resume`: freeze and thaw every process of a container (the freezer cgroup).

use super::state::{Handle, StateRoot, Status};
use crate::error::{Error, Result};

/// Freeze (`on`) or thaw a container.
pub fn pause(root: &StateRoot, id: &str, on: bool) -> Result<()> {
    let h = Handle::open(root, id)?;
    let st = h.status();
    let ok = if on {
        st == Status::Running || st == Status::Created
    } else {
        st == Status::Paused
    };
    if !ok {
        return Err(
            Error::failed(if on { "pause" } else { "resume" }).ctx(format_args!("container {id:?} is {}", st.as_str()))
        );
    }
    let cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("pause").ctx(format_args!("container {id:?} has no cgroup")))?;
    crate::cgroup::resources::freeze(&cg, on)
}
