"""Camera images for the conversation: checked, decoded for real, downscaled and re-encoded as a bounded JPEG."""

from .gate import ImageGate, ImagePolicy
from .probe import ImageInfo, ImageRejected, probe_image

__all__ = ["ImageGate", "ImageInfo", "ImagePolicy", "ImageRejected", "probe_image"]
