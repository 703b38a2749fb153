"""PoseC3D (Duan et al., CVPR 2022): a SlowOnly 3D CNN on stacked pseudo heatmaps of the
keypoints (or limbs), ``actionkit.ops.pose_heatmaps`` / the ``GeneratePoseTarget``
pipeline step."""

from __future__ import annotations

from .backbones.resnet3d import ResNet3d
from .heads import I3DHead
from .recognizer import Recognizer3D
from .registry import register_model


@register_model
def posec3d_r50(
    num_classes: int = 60, in_channels: int = 17, dropout: float = 0.5, **kwargs
) -> Recognizer3D:
    """PoseC3D's SlowOnly-R50 as MMAction2's ``slowonly_r50_8xb16-u48-240e_ntu60-xsub``
    configs build it: input ``[B, views, K, T, H, W]`` heatmaps (``in_channels`` K: 17
    COCO keypoints, or 17 limbs; 48x56x56 in training), 32 base channels, three stages
    of (4, 6, 3) blocks, no stem downsampling, 3x1x1 convolutions in stages 2 and 3,
    temporal stride 2 in the last; 512 features into an I3D head."""
    options = dict(
        conv1_kernel=(1, 7, 7),
        conv1_stride_s=1,
        pool1_stride_s=1,
        base_channels=32,
        stage_blocks=(4, 6, 3),
        inflate=(0, 1, 1),
        spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 2),
        with_pool2=False,
        in_channels=in_channels,
    )
    backbone = ResNet3d(50, **{**options, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))
