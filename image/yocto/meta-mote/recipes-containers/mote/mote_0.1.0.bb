SUMMARY = "Small OCI container runtime and workload supervisor for edge boards"
DESCRIPTION = "mote runs OCI bundles with runc's command line (podman, containerd and CRI-O \
can use it as they use runc); mote supervise runs a directory of workloads with restart \
policies, health checks, bounded logs and a hardware watchdog; mote deploy stages, activates, \
commits and rolls back workload revisions delivered over the air."
SECTION = "console/utils"
# The project has not chosen a license yet.
LICENSE = "CLOSED"

# Where the sources come from: set MOTE_SRC_URI (a git URL with ;protocol=...;branch=...) and
# SRCREV in local.conf, or build from a checkout with externalsrc:
#   INHERIT += "externalsrc"
#   EXTERNALSRC:pn-mote = "/path/to/mote"
MOTE_SRC_URI ??= "git:///srv/git/mote.git;protocol=file;branch=main"
SRC_URI = "${MOTE_SRC_URI}"
SRCREV ??= "${AUTOREV}"
S = "${WORKDIR}/git"

inherit cargo cargo-update-recipe-crates systemd update-rc.d

# The crates of Cargo.lock (crate:// fetches, checksummed); regenerate with
# image/yocto/gen-crates.sh after changing Cargo.lock (or `bitbake -c update_crates mote`).
require ${BPN}-crates.inc

# mote's own builds are static musl; here it links the image's C library like any package.
CARGO_BUILD_FLAGS:append = " --bin mote"

SYSTEMD_SERVICE:${PN} = "mote.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
INITSCRIPT_NAME = "mote"
INITSCRIPT_PARAMS = "defaults 90 10"

do_install:append() {
    install -d ${D}${sysconfdir}/mote/workloads ${D}${sysconfdir}/mote/keys
    install -m 0644 ${S}/image/debian/example-workload.json ${D}${sysconfdir}/mote/example-workload.json
    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${S}/image/init/mote.service ${D}${systemd_system_unitdir}/mote.service
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${S}/image/init/mote.sysvinit ${D}${sysconfdir}/init.d/mote
    fi
}

CONFFILES:${PN} = "${sysconfdir}/mote/example-workload.json"
FILES:${PN} += "${sysconfdir}/mote"
