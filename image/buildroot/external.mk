include $(sort $(wildcard $(BR2_EXTERNAL_MOTE_PATH)/package/*/*.mk))
