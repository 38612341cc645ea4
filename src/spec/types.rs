//! config.json (runtime-spec 1.2), as bounded types borrowing from the input buffer.
//!
//! Every field of the spec's `config.md` and `config-linux.md` is here. Lists of strings and
//! the seccomp argument conditions live in the document's pools (see [`super::json::Pools`]);
//! other lists are inline with the capacities of [`super::limits`]. Enumerated strings
//! (namespace types, seccomp actions...) are kept as strings here and checked by
//! [`super::validate`], which can name the allowed values.

use super::json::{read_named, Json, Map, NamedList, PoolList, Present, ReadContext, Str};
use super::limits::*;
use crate::json_object;
use serde::de::Deserializer;

json_object! {
    /// The whole config.json.
    pub struct Spec<'a> {
        "ociVersion" => oci_version: Str<'a>,
        "process" => process: Option<Process<'a>>,
        "root" => root: Option<Root<'a>>,
        "hostname" => hostname: Option<Str<'a>>,
        "domainname" => domainname: Option<Str<'a>>,
        "mounts" => mounts: PoolList<Mount<'a>>,
        "hooks" => hooks: Option<Hooks<'a>>,
        "annotations" => annotations: Map,
        "linux" => linux: Option<Linux<'a>>,
    }
}

json_object! {
    pub struct Process<'a> {
        "terminal" => terminal: bool,
        "consoleSize" => console_size: Option<ConsoleSize<'a>>,
        "user" => user: User<'a>,
        "args" => args: PoolList<Str<'a>>,
        "commandLine" => command_line: Option<Str<'a>>,
        "env" => env: PoolList<Str<'a>>,
        "cwd" => cwd: Str<'a>,
        "capabilities" => capabilities: Option<Capabilities<'a>>,
        "rlimits" => rlimits: PoolList<Rlimit<'a>>,
        "noNewPrivileges" => no_new_privileges: bool,
        "apparmorProfile" => apparmor_profile: Option<Str<'a>>,
        "oomScoreAdj" => oom_score_adj: Option<i32>,
        "selinuxLabel" => selinux_label: Option<Str<'a>>,
        "ioPriority" => io_priority: Option<IoPriority<'a>>,
        "scheduler" => scheduler: Option<Scheduler<'a>>,
        "execCPUAffinity" => exec_cpu_affinity: Option<CpuAffinity<'a>>,
    }
}

json_object! {
    pub struct ConsoleSize<'a> {
        "height" => height: u32,
        "width" => width: u32,
    }
}

json_object! {
    pub struct User<'a> {
        "uid" => uid: u32,
        "gid" => gid: u32,
        "umask" => umask: Option<u32>,
        "additionalGids" => additional_gids: heapless::Vec<u32, MAX_ADDITIONAL_GIDS>,
        "username" => username: Option<Str<'a>>,
    }
}

json_object! {
    pub struct Capabilities<'a> {
        "bounding" => bounding: Option<PoolList<Str<'a>>>,
        "effective" => effective: Option<PoolList<Str<'a>>>,
        "inheritable" => inheritable: Option<PoolList<Str<'a>>>,
        "permitted" => permitted: Option<PoolList<Str<'a>>>,
        "ambient" => ambient: Option<PoolList<Str<'a>>>,
    }
}

json_object! {
    pub struct Rlimit<'a> {
        "type" => kind: Str<'a>,
        "hard" => hard: u64,
        "soft" => soft: u64,
    }
}

json_object! {
    pub struct IoPriority<'a> {
        "class" => class: Str<'a>,
        "priority" => priority: i32,
    }
}

json_object! {
    pub struct Scheduler<'a> {
        "policy" => policy: Str<'a>,
        "nice" => nice: Option<i32>,
        "priority" => priority: Option<i32>,
        "flags" => flags: PoolList<Str<'a>>,
        "runtime" => runtime: Option<u64>,
        "deadline" => deadline: Option<u64>,
        "period" => period: Option<u64>,
    }
}

json_object! {
    pub struct CpuAffinity<'a> {
        "initial" => initial: Option<Str<'a>>,
        "final" => final_: Option<Str<'a>>,
    }
}

json_object! {
    pub struct Root<'a> {
        "path" => path: Str<'a>,
        "readonly" => readonly: bool,
    }
}

json_object! {
    pub struct Mount<'a> {
        "destination" => destination: Str<'a>,
        "source" => source: Option<Str<'a>>,
        "type" => kind: Option<Str<'a>>,
        "options" => options: PoolList<Str<'a>>,
        "uidMappings" => uid_mappings: PoolList<IdMapping<'a>>,
        "gidMappings" => gid_mappings: PoolList<IdMapping<'a>>,
    }
}

json_object! {
    pub struct IdMapping<'a> {
        "containerID" => container_id: u32,
        "hostID" => host_id: u32,
        "size" => size: u32,
    }
}

json_object! {
    pub struct Hooks<'a> {
        "prestart" => prestart: PoolList<Hook<'a>>,
        "createRuntime" => create_runtime: PoolList<Hook<'a>>,
        "createContainer" => create_container: PoolList<Hook<'a>>,
        "startContainer" => start_container: PoolList<Hook<'a>>,
        "poststart" => poststart: PoolList<Hook<'a>>,
        "poststop" => poststop: PoolList<Hook<'a>>,
    }
}

impl Hooks<'_> {
    /// True when no hook of any kind is configured.
    pub fn is_empty(&self) -> bool {
        self.prestart.is_empty()
            && self.create_runtime.is_empty()
            && self.create_container.is_empty()
            && self.start_container.is_empty()
            && self.poststart.is_empty()
            && self.poststop.is_empty()
    }
}

json_object! {
    pub struct Hook<'a> {
        "path" => path: Str<'a>,
        "args" => args: PoolList<Str<'a>>,
        "env" => env: PoolList<Str<'a>>,
        "timeout" => timeout: Option<i64>,
    }
}

json_object! {
    pub struct Linux<'a> {
        "namespaces" => namespaces: PoolList<Namespace<'a>>,
        "uidMappings" => uid_mappings: PoolList<IdMapping<'a>>,
        "gidMappings" => gid_mappings: PoolList<IdMapping<'a>>,
        "timeOffsets" => time_offsets: TimeOffsets<'a>,
        "devices" => devices: PoolList<Device<'a>>,
        "cgroupsPath" => cgroups_path: Option<Str<'a>>,
        "resources" => resources: Option<Resources<'a>>,
        "rootfsPropagation" => rootfs_propagation: Option<Str<'a>>,
        "seccomp" => seccomp: Option<Seccomp<'a>>,
        "sysctl" => sysctl: Map,
        "maskedPaths" => masked_paths: PoolList<Str<'a>>,
        "readonlyPaths" => readonly_paths: PoolList<Str<'a>>,
        "mountLabel" => mount_label: Option<Str<'a>>,
        "personality" => personality: Option<Personality<'a>>,
        "intelRdt" => intel_rdt: Option<IntelRdt<'a>>,
        // runtime-spec 1.3: read only to be refused (exit 4), never silently ignored.
        "memoryPolicy" => memory_policy: Option<Present>,
        "netDevices" => net_devices: Option<Present>,
    }
}

json_object! {
    pub struct Namespace<'a> {
        "type" => kind: Str<'a>,
        "path" => path: Option<Str<'a>>,
    }
}

/// linux.timeOffsets: an object from clock names ("monotonic", "boottime") to offsets.
#[derive(Debug, Default, Clone)]
pub struct TimeOffsets<'a> {
    pub entries: NamedList<'a, TimeOffset<'a>, 4>,
}

#[cfg(test)]
impl<'a> super::json::ToValue<'a> for TimeOffsets<'a> {
    fn to_value(&self, p: &super::json::Pools<'a>) -> serde_json::Value {
        self.entries.to_value(p)
    }
}

impl<'a> Json<'a> for TimeOffsets<'a> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        read_named(cx, d).map(|entries| TimeOffsets { entries })
    }
}

json_object! {
    pub struct TimeOffset<'a> {
        "secs" => secs: i64,
        "nanosecs" => nanosecs: u32,
    }
}

json_object! {
    pub struct Device<'a> {
        "type" => kind: Str<'a>,
        "path" => path: Str<'a>,
        "major" => major: i64,
        "minor" => minor: i64,
        "fileMode" => file_mode: Option<u32>,
        "uid" => uid: Option<u32>,
        "gid" => gid: Option<u32>,
    }
}

json_object! {
    pub struct Resources<'a> {
        "devices" => devices: PoolList<DeviceRule<'a>>,
        "memory" => memory: Option<Memory<'a>>,
        "cpu" => cpu: Option<Cpu<'a>>,
        "pids" => pids: Option<Pids<'a>>,
        "blockIO" => block_io: Option<BlockIo<'a>>,
        "hugepageLimits" => hugepage_limits: PoolList<HugepageLimit<'a>>,
        "network" => network: Option<Network<'a>>,
        "rdma" => rdma: Rdma<'a>,
        "unified" => unified: Map,
    }
}

json_object! {
    pub struct DeviceRule<'a> {
        "allow" => allow: bool,
        "type" => kind: Option<Str<'a>>,
        "major" => major: Option<i64>,
        "minor" => minor: Option<i64>,
        "access" => access: Option<Str<'a>>,
    }
}

json_object! {
    pub struct Memory<'a> {
        "limit" => limit: Option<i64>,
        "reservation" => reservation: Option<i64>,
        "swap" => swap: Option<i64>,
        "kernel" => kernel: Option<i64>,
        "kernelTCP" => kernel_tcp: Option<i64>,
        "swappiness" => swappiness: Option<u64>,
        "disableOOMKiller" => disable_oom_killer: Option<bool>,
        "useHierarchy" => use_hierarchy: Option<bool>,
        "checkBeforeUpdate" => check_before_update: Option<bool>,
    }
}

json_object! {
    pub struct Cpu<'a> {
        "shares" => shares: Option<u64>,
        "quota" => quota: Option<i64>,
        "burst" => burst: Option<u64>,
        "period" => period: Option<u64>,
        "realtimeRuntime" => realtime_runtime: Option<i64>,
        "realtimePeriod" => realtime_period: Option<u64>,
        "cpus" => cpus: Option<Str<'a>>,
        "mems" => mems: Option<Str<'a>>,
        "idle" => idle: Option<i64>,
    }
}

json_object! {
    pub struct Pids<'a> {
        "limit" => limit: i64,
    }
}

json_object! {
    pub struct BlockIo<'a> {
        "weight" => weight: Option<u16>,
        "leafWeight" => leaf_weight: Option<u16>,
        "weightDevice" => weight_device: PoolList<WeightDevice<'a>>,
        "throttleReadBpsDevice" => throttle_read_bps: PoolList<ThrottleDevice<'a>>,
        "throttleWriteBpsDevice" => throttle_write_bps: PoolList<ThrottleDevice<'a>>,
        "throttleReadIOPSDevice" => throttle_read_iops: PoolList<ThrottleDevice<'a>>,
        "throttleWriteIOPSDevice" => throttle_write_iops: PoolList<ThrottleDevice<'a>>,
    }
}

json_object! {
    pub struct WeightDevice<'a> {
        "major" => major: i64,
        "minor" => minor: i64,
        "weight" => weight: Option<u16>,
        "leafWeight" => leaf_weight: Option<u16>,
    }
}

json_object! {
    pub struct ThrottleDevice<'a> {
        "major" => major: i64,
        "minor" => minor: i64,
        "rate" => rate: u64,
    }
}

json_object! {
    pub struct HugepageLimit<'a> {
        "pageSize" => page_size: Str<'a>,
        "limit" => limit: u64,
    }
}

json_object! {
    pub struct Network<'a> {
        "classID" => class_id: Option<u32>,
        "priorities" => priorities: PoolList<NetPriority<'a>>,
    }
}

json_object! {
    pub struct NetPriority<'a> {
        "name" => name: Str<'a>,
        "priority" => priority: u32,
    }
}

/// linux.resources.rdma: an object from device names to limits.
#[derive(Debug, Default, Clone)]
pub struct Rdma<'a> {
    pub entries: NamedList<'a, RdmaLimit<'a>, MAX_RDMA>,
}

#[cfg(test)]
impl<'a> super::json::ToValue<'a> for Rdma<'a> {
    fn to_value(&self, p: &super::json::Pools<'a>) -> serde_json::Value {
        self.entries.to_value(p)
    }
}

impl<'a> Json<'a> for Rdma<'a> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        read_named(cx, d).map(|entries| Rdma { entries })
    }
}

json_object! {
    pub struct RdmaLimit<'a> {
        "hcaHandles" => hca_handles: Option<u32>,
        "hcaObjects" => hca_objects: Option<u32>,
    }
}

json_object! {
    pub struct Seccomp<'a> {
        "defaultAction" => default_action: Str<'a>,
        "defaultErrnoRet" => default_errno_ret: Option<u32>,
        "architectures" => architectures: PoolList<Str<'a>>,
        "flags" => flags: PoolList<Str<'a>>,
        "listenerPath" => listener_path: Option<Str<'a>>,
        "listenerMetadata" => listener_metadata: Option<Str<'a>>,
        "syscalls" => syscalls: PoolList<SyscallRule<'a>>,
    }
}

json_object! {
    pub struct SyscallRule<'a> {
        "names" => names: PoolList<Str<'a>>,
        "action" => action: Str<'a>,
        "errnoRet" => errno_ret: Option<u32>,
        "args" => args: PoolList<SeccompArg<'a>>,
    }
}

json_object! {
    pub struct SeccompArg<'a> {
        "index" => index: u32,
        "value" => value: u64,
        "valueTwo" => value_two: u64,
        "op" => op: Str<'a>,
    }
}

json_object! {
    pub struct Personality<'a> {
        "domain" => domain: Str<'a>,
        "flags" => flags: PoolList<Str<'a>>,
    }
}

json_object! {
    pub struct IntelRdt<'a> {
        "closID" => clos_id: Option<Str<'a>>,
        "l3CacheSchema" => l3_cache_schema: Option<Str<'a>>,
        "memBwSchema" => mem_bw_schema: Option<Str<'a>>,
        "schemata" => schemata: PoolList<Str<'a>>,
        "enableMonitoring" => enable_monitoring: bool,
        "enableCMT" => enable_cmt: bool,
        "enableMBM" => enable_mbm: bool,
    }
}
