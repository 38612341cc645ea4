//! Every capacity limit of mote, in one place.
//!
//! mote parses config.json (and the other JSON inputs) into bounded, fixed-capacity
//! containers. When an input exceeds one of these limits, the error names the JSON path,
//! the limit and this file. The README's "Limits" table lists the same constants; a unit test
//! keeps the two in step.
//!
//! The values are chosen to be generous for real configurations: podman 4.3's default
//! config.json carries 22 seccomp rules naming 437 syscalls, 10 mounts, and five capability
//! sets of 14 names (41 each when privileged).

/// Largest config.json (or state.json, process.json, resources file) read, in bytes.
pub const MAX_INPUT_BYTES: usize = 1 << 20;
/// Deepest nesting of JSON arrays and objects, anywhere in the document (known or not).
pub const MAX_DEPTH: usize = 32;
/// Longest single JSON string (a path, an argument, an environment entry), in bytes.
pub const MAX_STRING_BYTES: usize = 32 * 1024;

/// Strings held by all string lists of one config together (args, env, capability sets,
/// mount options, masked/readonly paths, seccomp syscall names and architectures, hook
/// arguments...).
pub const MAX_STRINGS: usize = 4096;
/// Key/value pairs of all maps of one config together (annotations, linux.sysctl,
/// linux.resources.unified).
pub const MAX_MAP_ENTRIES: usize = 512;
/// Argument conditions of all seccomp rules together (linux.seccomp.syscalls[].args).
pub const MAX_SECCOMP_ARGS: usize = 1024;

/// mounts
pub const MAX_MOUNTS: usize = 128;
/// process.rlimits
pub const MAX_RLIMITS: usize = 32;
/// process.user.additionalGids
pub const MAX_ADDITIONAL_GIDS: usize = 64;
/// hooks of all six kinds together
pub const MAX_HOOKS: usize = 64;
/// linux.namespaces
pub const MAX_NAMESPACES: usize = 16;
/// ID mappings together: linux.uidMappings, linux.gidMappings and those of mounts (the
/// kernel accepts 340 lines per map)
pub const MAX_ID_MAPPINGS: usize = 256;
/// linux.devices
pub const MAX_DEVICES: usize = 128;
/// linux.resources.devices
pub const MAX_DEVICE_RULES: usize = 128;
/// linux.resources.blockIO.weightDevice, and the four throttle lists together
pub const MAX_BLKIO_DEVICES: usize = 64;
/// linux.resources.hugepageLimits
pub const MAX_HUGEPAGE_LIMITS: usize = 8;
/// linux.resources.network.priorities
pub const MAX_NET_PRIORITIES: usize = 16;
/// linux.resources.rdma
pub const MAX_RDMA: usize = 8;
/// linux.seccomp.syscalls
pub const MAX_SECCOMP_RULES: usize = 512;

/// Container id length (runc has no limit; 1024 keeps paths under PATH_MAX).
pub const MAX_ID_BYTES: usize = 1024;
/// Containers listed by `mote list`.
pub const MAX_CONTAINERS: usize = 1024;
/// Levels of sub-cgroups below a container's cgroup that `delete` removes (made by a program
/// in the container, or used by `exec --cgroup`); deeper ones make delete fail with EBUSY.
pub const MAX_SUB_CGROUP_DEPTH: usize = 16;

/// How long `create` and `exec` wait for a container process to finish a setup step and
/// answer (seconds), on top of the createContainer hooks' own timeouts: a stage stuck in the
/// kernel (a hung mount, a FUSE server that does not answer) ends in an error, not in a
/// caller (the supervisor) waiting forever.
pub const SETUP_TIMEOUT_SECS: usize = 60;
/// The timeout of a hook whose config gives none (seconds). runc waits forever; mote bounds
/// it so that one stuck hook cannot freeze a supervisor. Set `timeout` on the hook for more.
pub const DEFAULT_HOOK_TIMEOUT_SECS: usize = 120;

/// Workload files the supervisor reads from its directory.
pub const MAX_WORKLOADS: usize = 128;
/// A workload's name, in bytes (it is part of its container's id and cgroup path).
pub const MAX_WORKLOAD_NAME: usize = 64;
/// dependsOn of one workload.
pub const MAX_DEPENDS: usize = 16;
/// health.exec: the check's program and arguments.
pub const MAX_HEALTH_ARGS: usize = 32;
/// env of one workload file.
pub const MAX_WORKLOAD_ENV: usize = 32;
/// startLimit.burst: the starts remembered to apply the start limit.
pub const MAX_START_BURST: usize = 100;
/// readiness.fd: the highest fd number a workload may be given to report readiness on.
pub const MAX_READY_FD: usize = 63;
/// logs.ringBytes: a workload's in-memory log.
pub const MAX_LOG_RING_BYTES: usize = 16 << 20;
/// logs.keep: rotated log files kept.
pub const MAX_LOG_FILES: usize = 16;
/// A request on the supervisor's control socket, in bytes (one JSON line).
pub const MAX_CONTROL_REQUEST: usize = 4096;
/// Clients connected to the control socket at once; more are refused.
pub const MAX_CONTROL_CLIENTS: usize = 16;
/// Milliseconds a control client has to send its whole request.
pub const CONTROL_TIMEOUT_MS: usize = 2000;

/// image.entrypoint and image.cmd of a workload file, each.
pub const MAX_OVERRIDE_ARGS: usize = 64;
/// image.volumes of a workload file, and an image config's Volumes.
pub const MAX_VOLUMES: usize = 32;
/// deploy.keep: revisions of a workload kept in the store.
pub const MAX_KEEP: usize = 16;
/// Layers of one image.
pub const MAX_LAYERS: usize = 128;
/// Manifests listed by one image index.
pub const MAX_INDEX_MANIFESTS: usize = 64;
/// Image indexes nested in one another (index.json counts).
pub const MAX_INDEX_DEPTH: usize = 4;
/// Files in an archive (oci-archive, docker-archive, bundle tarball) that mote indexes.
pub const MAX_ARCHIVE_ENTRIES: usize = 4096;
/// A path or link target inside a tar, in bytes.
pub const MAX_TAR_PATH: usize = 4096;
/// A PAX extended header, in bytes.
pub const MAX_PAX_HEADER: usize = 64 * 1024;
/// Entries (files, directories, links) of one revision.
pub const MAX_REVISION_ENTRIES: usize = 200_000;
/// Directory depth of a revision's tree.
pub const MAX_TREE_DEPTH: usize = 64;
/// How much larger than its compressed size a layer may be once decompressed (with
/// MAX_EXPANSION_SLACK on top): past this it is taken for a decompression bomb.
pub const MAX_EXPANSION_RATIO: usize = 100;
/// Bytes any blob may decompress to beyond MAX_EXPANSION_RATIO times its size.
pub const MAX_EXPANSION_SLACK: usize = 64 << 20;
/// The largest zstd window mote decodes with (the zstd format's recommended decoder minimum;
/// the window is the decoder's memory).
pub const MAX_ZSTD_WINDOW: usize = 8 << 20;
/// Public keys read from the keys directory.
pub const MAX_KEYS: usize = 16;
/// Seconds a `mote deploy` command waits for the store's lock (another deploy command).
pub const STORE_LOCK_TIMEOUT_SECS: usize = 60;

/// Every limit: its name, its value, and the JSON paths it bounds (indices written `[]`).
/// Error messages and the README's "Limits" table are made from this table.
pub const ALL: &[(&str, usize, &str)] = &[
    ("MAX_INPUT_BYTES", MAX_INPUT_BYTES, "(the whole file)"),
    ("MAX_DEPTH", MAX_DEPTH, "(any nesting)"),
    ("MAX_STRING_BYTES", MAX_STRING_BYTES, "(any string)"),
    ("MAX_STRINGS", MAX_STRINGS, "(all string lists together)"),
    ("MAX_MAP_ENTRIES", MAX_MAP_ENTRIES, "annotations, linux.sysctl, linux.resources.unified"),
    ("MAX_SECCOMP_ARGS", MAX_SECCOMP_ARGS, "linux.seccomp.syscalls[].args (all rules together)"),
    ("MAX_MOUNTS", MAX_MOUNTS, "mounts"),
    ("MAX_RLIMITS", MAX_RLIMITS, "process.rlimits"),
    ("MAX_ADDITIONAL_GIDS", MAX_ADDITIONAL_GIDS, "process.user.additionalGids"),
    ("MAX_HOOKS", MAX_HOOKS, "hooks.prestart, hooks.createRuntime, hooks.createContainer, hooks.startContainer, hooks.poststart, hooks.poststop (together)"),
    ("MAX_NAMESPACES", MAX_NAMESPACES, "linux.namespaces"),
    ("MAX_ID_MAPPINGS", MAX_ID_MAPPINGS, "linux.uidMappings, linux.gidMappings, mounts[].uidMappings, mounts[].gidMappings (together)"),
    ("MAX_DEVICES", MAX_DEVICES, "linux.devices"),
    ("MAX_DEVICE_RULES", MAX_DEVICE_RULES, "linux.resources.devices"),
    ("MAX_BLKIO_DEVICES", MAX_BLKIO_DEVICES, "linux.resources.blockIO.weightDevice, linux.resources.blockIO.throttleReadBpsDevice, linux.resources.blockIO.throttleWriteBpsDevice, linux.resources.blockIO.throttleReadIOPSDevice, linux.resources.blockIO.throttleWriteIOPSDevice (the four throttle lists together)"),
    ("MAX_HUGEPAGE_LIMITS", MAX_HUGEPAGE_LIMITS, "linux.resources.hugepageLimits"),
    ("MAX_NET_PRIORITIES", MAX_NET_PRIORITIES, "linux.resources.network.priorities"),
    ("MAX_RDMA", MAX_RDMA, "linux.resources.rdma"),
    ("MAX_SECCOMP_RULES", MAX_SECCOMP_RULES, "linux.seccomp.syscalls"),
    ("MAX_ID_BYTES", MAX_ID_BYTES, "(container id)"),
    ("MAX_CONTAINERS", MAX_CONTAINERS, "(mote list)"),
    ("MAX_SUB_CGROUP_DEPTH", MAX_SUB_CGROUP_DEPTH, "(sub-cgroups removed by delete)"),
    ("SETUP_TIMEOUT_SECS", SETUP_TIMEOUT_SECS, "(seconds a container setup step may take)"),
    ("DEFAULT_HOOK_TIMEOUT_SECS", DEFAULT_HOOK_TIMEOUT_SECS, "hooks.*[].timeout (when absent)"),
    ("MAX_WORKLOADS", MAX_WORKLOADS, "(workload files in the directory)"),
    ("MAX_WORKLOAD_NAME", MAX_WORKLOAD_NAME, "name (workload file)"),
    ("MAX_DEPENDS", MAX_DEPENDS, "dependsOn"),
    ("MAX_HEALTH_ARGS", MAX_HEALTH_ARGS, "health.exec"),
    ("MAX_WORKLOAD_ENV", MAX_WORKLOAD_ENV, "env"),
    ("MAX_START_BURST", MAX_START_BURST, "startLimit.burst"),
    ("MAX_READY_FD", MAX_READY_FD, "readiness.fd"),
    ("MAX_LOG_RING_BYTES", MAX_LOG_RING_BYTES, "logs.ringBytes"),
    ("MAX_LOG_FILES", MAX_LOG_FILES, "logs.keep"),
    ("MAX_CONTROL_REQUEST", MAX_CONTROL_REQUEST, "(a control socket request, bytes)"),
    ("MAX_CONTROL_CLIENTS", MAX_CONTROL_CLIENTS, "(control socket clients at once)"),
    ("CONTROL_TIMEOUT_MS", CONTROL_TIMEOUT_MS, "(milliseconds to send a control request)"),
    ("MAX_OVERRIDE_ARGS", MAX_OVERRIDE_ARGS, "image.entrypoint, image.cmd"),
    ("MAX_VOLUMES", MAX_VOLUMES, "image.volumes, config.Volumes (image config)"),
    ("MAX_KEEP", MAX_KEEP, "deploy.keep"),
    ("MAX_LAYERS", MAX_LAYERS, "layers (image manifest), rootfs.diff_ids (image config)"),
    ("MAX_INDEX_MANIFESTS", MAX_INDEX_MANIFESTS, "manifests (image index)"),
    ("MAX_INDEX_DEPTH", MAX_INDEX_DEPTH, "(nested image indexes)"),
    ("MAX_ARCHIVE_ENTRIES", MAX_ARCHIVE_ENTRIES, "(files of an image archive)"),
    ("MAX_TAR_PATH", MAX_TAR_PATH, "(a path in a tar, bytes)"),
    ("MAX_PAX_HEADER", MAX_PAX_HEADER, "(a PAX header, bytes)"),
    ("MAX_REVISION_ENTRIES", MAX_REVISION_ENTRIES, "(entries of a revision)"),
    ("MAX_TREE_DEPTH", MAX_TREE_DEPTH, "(directory depth of a revision)"),
    ("MAX_EXPANSION_RATIO", MAX_EXPANSION_RATIO, "(decompressed / compressed size of a blob)"),
    ("MAX_EXPANSION_SLACK", MAX_EXPANSION_SLACK, "(bytes a blob may decompress to beyond the ratio)"),
    ("MAX_ZSTD_WINDOW", MAX_ZSTD_WINDOW, "(zstd window, bytes)"),
    ("MAX_KEYS", MAX_KEYS, "(public keys in the keys directory)"),
    ("STORE_LOCK_TIMEOUT_SECS", STORE_LOCK_TIMEOUT_SECS, "(seconds to wait for the store's lock)"),
];

/// The limit that bounds the list at `pattern` (a JSON path with indices written `[]`).
pub fn for_path(pattern: &str) -> Option<(&'static str, usize)> {
    ALL.iter()
        .find(|(_, _, paths)| paths.split(", ").any(|p| p == pattern))
        .map(|(n, v, _)| (*n, *v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn readme_lists_every_limit_with_its_value() {
        let readme = include_str!("../../README.md");
        for (name, value, bounds) in super::ALL {
            let row = format!("| `{name}` | {value} | {bounds} |");
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}
