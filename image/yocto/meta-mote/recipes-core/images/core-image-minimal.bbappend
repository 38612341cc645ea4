# An example: mote in core-image-minimal. Copy this line to your own image recipe instead.
IMAGE_INSTALL:append = " mote"
