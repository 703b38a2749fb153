"""A first tour of actionkit's compiled ops on generated data (no downloads).

    dev/demo          # or: python examples/quickstart.py

1. TSM's temporal shift inside a tiny 2D-CNN residual block, trained for a few steps
   to tell clips whose content moves forward in time from clips that move backward,
   something a frame-by-frame 2D CNN without the shift cannot do.
2. RoIAlign3D pooling actor boxes from SlowFast-like clip features, as an AVA head does.
"""

import torch
from torch import nn

import actionkit
from actionkit.ops import _reference


def moving_dot_clips(n: int, frames: int = 8, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of a dot that moves right (label 1) or left (label 0): [n, T, 1, H, W]."""
    labels = torch.randint(0, 2, (n,))
    clips = torch.zeros(n, frames, 1, size, size)
    for i in range(n):
        row = torch.randint(2, size - 2, ()).item()
        start = torch.randint(0, size - frames, ()).item()
        for t in range(frames):
            col = start + t if labels[i] == 1 else start + frames - 1 - t
            clips[i, t, 0, row - 1 : row + 2, col] = 1.0
    return clips, labels


class ShiftNet(nn.Module):
    """conv -> temporal shift -> conv, per frame; averaged over frames and space."""

    def __init__(self, frames: int, shift: bool = True) -> None:
        super().__init__()
        self.frames, self.shift = frames, shift
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, 2)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        n, t = clips.shape[:2]
        x = torch.relu(self.conv1(clips.flatten(0, 1)))  # [N*T, C, H, W]
        if self.shift:
            x = actionkit.ops.temporal_shift(x, self.frames, shift_div=4)
        x = torch.relu(self.conv2(x))
        return self.fc(x.mean((2, 3)).view(n, t, -1).mean(1))


def train(model: nn.Module, steps: int = 150) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        clips, labels = moving_dot_clips(32)
        loss = nn.functional.cross_entropy(model(clips), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    clips, labels = moving_dot_clips(512)
    with torch.no_grad():
        return (model(clips).argmax(1) == labels).float().mean().item()


def main() -> None:
    torch.manual_seed(0)
    print(actionkit.info(), "\n")

    print("1. Temporal shift: which way does the dot move?")
    for shift in (False, True):
        torch.manual_seed(0)
        acc = train(ShiftNet(frames=8, shift=shift))
        print(f"   2D CNN {'with' if shift else 'without'} temporal shift: accuracy {acc:.1%}")

    print("\n2. RoIAlign3D: pooling two actors from clip features")
    features = torch.randn(
        2, 256, 8, 16, 16, requires_grad=True
    )  # stride-16 features of 256x256 clips
    boxes = torch.tensor([[0, 40.0, 30.0, 120.0, 220.0], [1, 150.0, 60.0, 240.0, 250.0]])
    pooled = actionkit.ops.roi_align3d(features, boxes, (1, 7, 7), spatial_scale=1 / 16)
    per_frame = actionkit.ops.roi_align3d(features, boxes, (8, 7, 7), spatial_scale=1 / 16)
    tube = torch.tensor([[0, 2.0, 40.0, 30.0, 6.0, 120.0, 220.0]])  # frames [2, 6) only
    tubelet = actionkit.ops.roi_align3d(features, tube, (4, 7, 7), spatial_scale=1 / 16)
    ref = _reference.roi_align3d(features.detach(), boxes, (1, 7, 7), 1 / 16)
    print(
        f"   temporal mean   {tuple(pooled.shape)}  "
        f"max |op - reference| = {(pooled - ref).abs().max():.1e}"
    )
    print(f"   every frame     {tuple(per_frame.shape)}")
    print(f"   tube, frames 2-6 {tuple(tubelet.shape)}")
    pooled.sum().backward()
    print(f"   gradient reaches the features: |grad| = {features.grad.abs().sum():.1f}")


if __name__ == "__main__":
    main()
