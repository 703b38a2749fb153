"""Both ops inside one function compiled by inductor (not only traced): the fake kernels'
shapes and strides must let inductor plan its buffers around the opaque kernels."""

import torch

import actionkit


def test_inductor_compiles_through_both_ops():
    torch._dynamo.reset()

    def head(x, rois):  # x: [N, T, C, H, W]
        y = actionkit.ops.temporal_shift(x.flatten(0, 1).relu(), x.shape[1]).view_as(x)
        return actionkit.ops.roi_align3d(y.transpose(1, 2), rois, (2, 3, 3), 0.5).mean((2, 3, 4))

    x = torch.randn(2, 4, 8, 10, 10, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.0, 15.0, 17.0], [1, 4.0, 0.0, 20.0, 9.0]])
    compiled = torch.compile(head, fullgraph=True)
    out = compiled(x, rois)
    torch.testing.assert_close(out, head(x, rois), atol=1e-6, rtol=1e-6)
    (grad,) = torch.autograd.grad(out.sum(), x)
    (expected,) = torch.autograd.grad(head(x, rois).sum(), x)
    torch.testing.assert_close(grad, expected, atol=1e-6, rtol=1e-6)
