//! `update`: change the resource limits of a running container.

use crate::prelude::*;

use super::state::{self, Handle, Root, Status};
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::spec::{self, Config};

/// `update`: apply linux.resources documents (a `--resources` file, then the flags turned into
/// one) to a running container's cgroup.
pub fn update(root: &Root, id: &str, inputs: &[(&str, Vec<u8>)]) -> Result<()> {
    let h = Handle::open(root, id)?;
    if matches!(h.status(), Status::Stopped | Status::Creating) {
        return Err(Error::failed("update").ctx(format_args!("container {id:?} is not running")));
    }
    let mut cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("update").ctx(format_args!("container {id:?} has no cgroup")))?;
    for (what, input) in inputs {
        let mut arena = vec![0u8; input.len()];
        let mut cfg = Config {
            spec: spec::Spec::default(),
            pools: Default::default(),
        };
        let r = spec::parse_doc::<spec::Resources<'_>>(input, &mut arena, &mut cfg.pools)
            .map_err(|e| Error::input("resources:").ctx(format_args!("{what}: {e}")))?;
        crate::cgroup::resources::check_supported(&cfg, &r)?;
        let need = crate::cgroup::resources::controllers_for(&r);
        if cg.add_controllers(&need)? {
            rewrite_cgroup_dirs(&h, &cg)?;
        }
        crate::cgroup::resources::apply(&cg, &cfg, &r)?;
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
