################################################################################
#
# mote
#
################################################################################

MOTE_VERSION = 0.1.0
# This tree lives in the mote source tree (image/buildroot): build from it.
MOTE_SITE = $(BR2_EXTERNAL_MOTE_PATH)/../..
MOTE_SITE_METHOD = local
# The project has not chosen a license yet.
MOTE_LICENSE = PROPRIETARY

define MOTE_INSTALL_CONFIG
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/mote/workloads $(TARGET_DIR)/etc/mote/keys
	$(INSTALL) -D -m 0644 $(@D)/image/debian/example-workload.json \
		$(TARGET_DIR)/etc/mote/example-workload.json
endef
MOTE_POST_INSTALL_TARGET_HOOKS += MOTE_INSTALL_CONFIG

define MOTE_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/image/init/mote.sysvinit $(TARGET_DIR)/etc/init.d/S90mote
endef

define MOTE_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/image/init/mote.service \
		$(TARGET_DIR)/usr/lib/systemd/system/mote.service
endef

$(eval $(cargo-package))
