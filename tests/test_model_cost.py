"""``actionkit-info model``: parameters, FLOPs (counted by PyTorch's flop counter, with
actionkit's own ops registered) and saved activations, against published figures and
hand-worked counts."""

import json

import pytest
import torch

from actionkit.cli import info as info_cli
from actionkit.info.model import count_flops, model_cost, saved_activation_bytes
from actionkit.ops import graph_aggregate


def test_resnet50_frames_cost_what_torchvision_publishes():
    # TSN-R50 on 8 frames of 224 x 224: 8 ResNet-50 forwards (torchvision's model card:
    # 4.09 GFLOPs, which are multiply-adds) plus the 2048 x 400 classifier.
    cost = model_cost("tsn_r50")
    assert cost.input_shape == (1, 8, 3, 224, 224)
    assert cost.features_flops / 2 / 8 == pytest.approx(4.09e9, rel=0.002)
    assert cost.flops - cost.features_flops == 2 * 2048 * 400  # one row of logits
    assert cost.params == 23_508_032 + 2048 * 400 + 400  # torchvision's, fc replaced


def test_x3d_s_costs_what_its_paper_publishes():
    # X3D-S, 13 x 160 x 160: 1.96 G multiply-adds, 3.76M parameters (Feichtenhofer,
    # CVPR 2020, Table 3; 400 classes)
    cost = model_cost("x3d_s")
    assert cost.flops / 2 == pytest.approx(1.96e9, rel=0.01)
    assert cost.params / 1e6 == pytest.approx(3.76, rel=0.01)


def test_compiled_ops_are_counted():
    # ST-GCN's graph aggregation runs as actionkit's op: its multiply-adds counted by our
    # formula (N*K*C*T*V*W), equal to what the same einsum counts in plain PyTorch
    x, a = torch.randn(2, 3, 8, 10, 17), torch.rand(3, 17, 17)

    class Agg(torch.nn.Module):
        def forward(self, x):
            return graph_aggregate(x, a)

    class Einsum(torch.nn.Module):
        def forward(self, x):
            return torch.einsum("nkctv,kvw->nctw", x, a)

    ours, _ = count_flops(Agg(), x)
    assert ours == 2 * 2 * 3 * 8 * 10 * 17 * 17
    assert ours == count_flops(Einsum(), x)[0]


def test_saved_activations_by_hand():
    # Linear(4, 8) -> ReLU on a [2, 4] float32 input: autograd keeps the input (for the
    # weight's gradient) and ReLU's output: 2*4*4 + 2*8*4 bytes; the weight is not counted
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    x = torch.randn(2, 4)
    assert saved_activation_bytes(model, x) == 2 * 4 * 4 + 2 * 8 * 4
    model.eval()
    saved_activation_bytes(model, x)
    assert not model.training  # the mode is given back


def test_cli(capsys):
    assert info_cli.main(["model", "stgcn", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["name"] == "stgcn" and row["input_shape"] == [1, 1, 2, 100, 17, 3]
    assert info_cli.main(["model", "tsn_r18", "--input", "1,2,3,64,64", "--markdown"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| model | input |") and out[2].startswith("| tsn_r18 | 1x2x3x64x64 |")
    assert info_cli.main([]) == 0 and "torch" in capsys.readouterr().out  # the env report
    assert info_cli.main(["model", "tsn_r18", "--input", "1,a"]) == 1
    assert "--input '1,a': expected sizes" in capsys.readouterr().err
    assert info_cli.main(["model", "bmn"]) == 1
    assert "no standard input for model 'bmn': give --input" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, weights, shape",
    [
        ("r3d_18", "R3D_18_Weights", (1, 1, 3, 16, 112, 112)),
        ("mc3_18", "MC3_18_Weights", (1, 1, 3, 16, 112, 112)),
        ("r2plus1d_18", "R2Plus1D_18_Weights", (1, 1, 3, 16, 112, 112)),
        ("s3d", "S3D_Weights", (1, 1, 3, 16, 224, 224)),
        ("mvit_v1_b", "MViT_V1_B_Weights", (1, 1, 3, 16, 224, 224)),
        ("swin3d_t", "Swin3D_T_Weights", (1, 1, 3, 16, 224, 224)),
    ],
)
def test_video_models_cost_what_torchvision_publishes(name, weights, shape):
    # torchvision's weight metadata (no download): GFLOPs as multiply-adds of one
    # 16-frame clip, and the parameter count, for the same networks (Swin-T's attention
    # counted through the CPU's fused kernel: 0 in PyTorch's own counter)
    video = pytest.importorskip("torchvision.models.video")
    meta = getattr(video, weights).KINETICS400_V1.meta
    cost = model_cost(name, shape)
    assert cost.flops / 2 / 1e9 == pytest.approx(meta["_ops"], rel=1e-3)
    assert cost.params == meta["num_params"]
