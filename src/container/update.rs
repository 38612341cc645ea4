//! `update`: change the resource limits of a running container.

use super::state::{self, Handle, StateRoot, Status};
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::spec::{Config, Resources};

/// `update`: apply linux.resources to a running container's cgroup, in order (the CLI gives a
/// `--resources` file, then what its flags set). `cfg` holds the pools the resources' lists
/// live in.
pub fn update(root: &StateRoot, id: &str, inputs: &[(&Config<'_>, &Resources<'_>)]) -> Result<()> {
    let h = Handle::open(root, id)?;
    if matches!(h.status(), Status::Stopped | Status::Creating) {
        return Err(Error::failed("update").ctx(format_args!("container {id:?} is not running")));
    }
    let mut cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("update").ctx(format_args!("container {id:?} has no cgroup")))?;
    for (cfg, r) in inputs {
        crate::cgroup::resources::check_supported(cfg, r)?;
        let need = crate::cgroup::resources::controllers_for(r);
        if cg.add_controllers(&need)? {
            rewrite_cgroup_dirs(&h, &cg)?;
        }
        crate::cgroup::resources::apply(&cg, cfg, r)?;
    }
    Ok(())
}

/// Record a cgroup's directories in state.json again (after `update` added some).
fn rewrite_cgroup_dirs(h: &Handle, cg: &Cgroup) -> Result<()> {
    let Some(s) = h.state.as_ref() else { return Ok(()) };
    let st = s.st();
    state::write(
        &h.dir,
        &state::Doc {
            id: &st.id,
            status: "created",
            pid: st.pid,
            bundle: &st.bundle,
            annotations: s.annotations(),
            runc: Some(state::RuncFields {
                rootfs: &st.rootfs,
                created: &st.created,
                owner: "",
            }),
            kept: Some(state::Kept {
                start_time: st.start_time,
                cgroup: Some(&cg.path),
                cgroup_dirs: &cg.dirs,
                systemd_cgroup: st.systemd_cgroup,
                hooks: st.hooks,
            }),
        },
    )
}
