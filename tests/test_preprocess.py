"""The fused preprocessing op against the same steps done separately (crop, F.interpolate,
flip, normalize), the pure-PyTorch reference, opcheck, compile, and bad inputs."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference
from actionkit.ops.preprocess import IMAGENET_MEAN, IMAGENET_STD

OP = torch.ops.actionkit.preprocess.default


def separate_steps(frames, boxes, flip, size, mean, std, layout):
    """What a pipeline does without the fused op: integer crop, resize, flip, normalize."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    clips = []
    for b in range(frames.shape[0]):
        x1, y1, x2, y2 = (int(v) for v in boxes[b])
        x = frames[b, :, y1:y2, x1:x2].permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if flip[b]:
            x = x.flip(-1)
        x = (x - m) / s
        clips.append(x.permute(1, 0, 2, 3) if layout == "NCTHW" else x)
    return torch.stack(clips)


def random_case(gen, b=3, t=4, h=37, w=53, c=3):
    frames = torch.randint(0, 256, (b, t, h, w, c), dtype=torch.uint8, generator=gen)
    boxes = []
    for _ in range(b):
        x1 = int(torch.randint(0, w - 2, (1,), generator=gen))
        y1 = int(torch.randint(0, h - 2, (1,), generator=gen))
        x2 = int(torch.randint(x1 + 1, w + 1, (1,), generator=gen))
        y2 = int(torch.randint(y1 + 1, h + 1, (1,), generator=gen))
        boxes.append([x1, y1, x2, y2])
    flip = torch.rand(b, generator=gen) < 0.5
    return frames, torch.tensor(boxes, dtype=torch.float32), flip


@pytest.mark.parametrize("layout", ["NCTHW", "NTCHW"])
@pytest.mark.parametrize("size", [(16, 24), (50, 61), (1, 1), (37, 53)])
def test_equals_the_separate_steps(layout, size):
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        frames, boxes, flip = random_case(gen)
        out = actionkit.ops.preprocess(frames, size, boxes, flip, layout=layout)
        expected = separate_steps(frames, boxes, flip, size, IMAGENET_MEAN, IMAGENET_STD, layout)
        assert out.shape == expected.shape and out.dtype == torch.float32
        # float32 rounding (F.interpolate derives its weights in another order): 2e-5
        # after dividing by std ~57 is a thousandth of a grey level.
        torch.testing.assert_close(out, expected, atol=2e-5, rtol=0)


def test_fractional_boxes_match_the_reference():
    gen = torch.Generator().manual_seed(1)
    frames, boxes, flip = random_case(gen, b=4)
    boxes = boxes + torch.rand(boxes.shape, generator=gen) * 0.9
    boxes[:, 2] = boxes[:, 2].clamp(max=53)
    boxes[:, 3] = boxes[:, 3].clamp(max=37)
    boxes[:, 2] = torch.maximum(boxes[:, 2], boxes[:, 0] + 0.5)
    boxes[:, 3] = torch.maximum(boxes[:, 3], boxes[:, 1] + 0.5)
    mean, std = (10.0, 20.0, 30.0), (2.0, 3.0, 4.0)
    out = actionkit.ops.preprocess(frames, (13, 17), boxes, flip, mean, std)
    ref = _reference.preprocess(frames, boxes, flip, (13, 17), mean, std)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-6)  # values up to ~125


def test_hand_worked_two_by_two():
    # One 2x2 grey frame [[0, 100], [200, 40]] upscaled to 4x4: PyTorch's align_corners=False
    # taps at source positions (clamped) 0, 0.25, 0.75, 1 along each axis.
    frame = torch.tensor([[0, 100], [200, 40]], dtype=torch.uint8).view(1, 1, 2, 2, 1)
    out = actionkit.ops.preprocess(frame, (4, 4), mean=(0.0,), std=(1.0,))[0, 0, 0]
    expected = torch.tensor(
        [
            [0.0, 25.0, 75.0, 100.0],  # top row: 0 -> 100
            [50.0, 58.75, 76.25, 85.0],  # 3/4 top + 1/4 bottom
            [150.0, 126.25, 78.75, 55.0],  # 1/4 top + 3/4 bottom
            [200.0, 160.0, 80.0, 40.0],  # bottom row: 200 -> 40
        ]
    )
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    flipped = actionkit.ops.preprocess(
        frame, (4, 4), flip=torch.tensor([True]), mean=(0.0,), std=(1.0,)
    )[0, 0, 0]
    torch.testing.assert_close(flipped, expected.flip(-1), atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_output_dtypes_round_the_float32_result(dtype):
    gen = torch.Generator().manual_seed(2)
    frames, boxes, flip = random_case(gen)
    f32 = actionkit.ops.preprocess(frames, (20, 20), boxes, flip)
    out = actionkit.ops.preprocess(frames, (20, 20), boxes, flip, dtype=dtype)
    assert out.dtype == dtype
    assert torch.equal(out, f32.to(dtype))


def test_defaults_single_channel_and_empty():
    gen = torch.Generator().manual_seed(3)
    frames = torch.randint(0, 256, (2, 3, 10, 12, 1), dtype=torch.uint8, generator=gen)
    out = actionkit.ops.preprocess(frames, (5, 6), mean=(127.5,), std=(127.5,))
    expected = separate_steps(
        frames,
        torch.tensor([[0, 0, 12, 10]] * 2),
        [False, False],
        (5, 6),
        (127.5,),
        (127.5,),
        "NCTHW",
    )
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=0)
    empty = torch.zeros(0, 3, 10, 12, 3, dtype=torch.uint8)
    assert actionkit.ops.preprocess(empty, (4, 4)).shape == (0, 3, 3, 4, 4)
    no_frames = torch.zeros(2, 0, 10, 12, 3, dtype=torch.uint8)
    assert actionkit.ops.preprocess(no_frames, (4, 4), layout="NTCHW").shape == (2, 0, 3, 4, 4)


def test_non_contiguous_frames():
    gen = torch.Generator().manual_seed(4)
    frames, boxes, flip = random_case(gen, b=2)
    wide = torch.randint(0, 256, (2, 4, 37, 53, 4), dtype=torch.uint8, generator=gen)
    wide[..., :3] = frames
    view = wide[..., :3]  # RGBA storage viewed as RGB
    assert not view.is_contiguous()
    torch.testing.assert_close(
        actionkit.ops.preprocess(view, (9, 9), boxes, flip),
        actionkit.ops.preprocess(frames, (9, 9), boxes, flip),
        atol=0,
        rtol=0,
    )


def test_opcheck_and_compile():
    gen = torch.Generator().manual_seed(5)
    frames, boxes, flip = random_case(gen, b=2)
    args = (frames, boxes, flip, [8, 8], list(IMAGENET_MEAN), list(IMAGENET_STD), "NTCHW", None)
    opcheck(OP, args)

    @torch.compile(fullgraph=True, backend="eager")
    def pipeline(frames, boxes, flip):
        return actionkit.ops.preprocess(frames, (8, 8), boxes, flip, layout="NTCHW") * 2

    torch.testing.assert_close(pipeline(frames, boxes, flip), 2 * OP(*args))


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: {**a, "frames": a["frames"].float()}, "frames must be uint8"),
        (lambda a: {**a, "frames": a["frames"][0]}, r"frames must have shape \[B, T, H, W, C\]"),
        (lambda a: {**a, "boxes": a["boxes"][:, :3]}, r"boxes must have shape \[B, 4\]"),
        (lambda a: {**a, "boxes": a["boxes"].long()}, "boxes must be a floating-point"),
        (lambda a: {**a, "flip": a["flip"].int()}, "flip must be a bool tensor"),
        (lambda a: {**a, "size": [8]}, "size must be two positive"),
        (lambda a: {**a, "size": [8, 0]}, "size must be two positive"),
        (lambda a: {**a, "mean": [0.0, 0.0]}, "one value per channel"),
        (lambda a: {**a, "std": [1.0, 0.0, 1.0]}, "std must not contain zeros"),
        (lambda a: {**a, "layout": "NHWC"}, "layout must be"),
        (lambda a: {**a, "dtype": torch.int32}, "dtype must be a floating type"),
    ],
)
def test_bad_inputs_name_the_argument(change, message):
    gen = torch.Generator().manual_seed(6)
    frames, boxes, flip = random_case(gen, b=2)
    args = dict(
        frames=frames,
        boxes=boxes,
        flip=flip,
        size=[8, 8],
        mean=[0.0] * 3,
        std=[1.0] * 3,
        layout="NCTHW",
        dtype=None,
    )
    with pytest.raises(RuntimeError, match=message):
        OP(**change(args))


@pytest.mark.parametrize(
    "box", [[-1, 0, 5, 5], [0, 0, 54, 5], [3, 0, 3, 5], [0, 4, 5, 38], [0, 5, 5, 2]]
)
def test_boxes_outside_the_frame_are_refused(box):
    gen = torch.Generator().manual_seed(7)
    frames, boxes, flip = random_case(gen, b=2)
    boxes[1] = torch.tensor(box, dtype=torch.float32)
    with pytest.raises(RuntimeError, match=r"boxes\[1\] = .* must satisfy 0 <= x1 < x2 <= W = 53"):
        actionkit.ops.preprocess(frames, (8, 8), boxes, flip)
