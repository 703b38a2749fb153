"""Skeleton graphs and GCN recognizers against MMAction2 1.2.0 (fixtures from its own
code): adjacency of every layout and mode, and the logits of ST-GCN, STGCN++, 2s-AGCN,
AAGCN and CTR-GCN (``projects/ctrgcn``) from its checkpoints (its configs, seeded
weights)."""

from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit.models as models
from actionkit.models.graph import Graph

from .parity_weights import make_input, make_state

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"
FIXTURE = FIXTURES / "skeleton.pt"
# fixture name -> (registered model, builder arguments); ctrgcn_* in ctrgcn.pt
PARITY = {
    "stgcn_coco": ("stgcn", {}),
    "stgcn_ntu": ("stgcn", {"layout": "nturgb+d"}),
    "stgcnpp_coco": ("stgcnpp", {}),
    "agcn_coco": ("agcn", {}),
    "aagcn_coco": ("aagcn", {}),
    "agcn_ntu": ("agcn", {"layout": "nturgb+d"}),
    "ctrgcn_coco": ("ctrgcn", {}),
    "ctrgcn_ntu": ("ctrgcn", {"layout": "nturgb+d"}),
}


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def model_cases(fixture):
    ctrgcn = torch.load(FIXTURES / "ctrgcn.pt", weights_only=True)
    return {**fixture["models"], **ctrgcn["models"]}


def test_graphs_equal_mmaction2(fixture):
    assert len(fixture["graphs"]) == 16
    for case in fixture["graphs"]:
        got = Graph(case["layout"], case["mode"], case["max_hop"]).A
        np.testing.assert_array_equal(got, case["A"].numpy(), err_msg=str(case["layout"]))


def test_uniform_and_distance_strategies_by_hand():
    # a chain 0 - 1 - 2, centre 1: within one hop, joint 0 sees {0, 1}, 1 sees {0, 1, 2}
    chain = {"num_node": 3, "inward": [(0, 1), (2, 1)], "center": 1}
    uniform = Graph(chain, "uniform").A
    expected = np.array([[1 / 2, 1 / 3, 0], [1 / 2, 1 / 3, 1 / 2], [0, 1 / 3, 1 / 2]])
    np.testing.assert_allclose(uniform[0], expected, rtol=1e-15)
    distance = Graph(chain, "distance").A
    np.testing.assert_allclose(distance[0], np.diag(np.diag(expected)), rtol=1e-15)
    np.testing.assert_allclose(distance.sum(0), expected, rtol=1e-15)
    with pytest.raises(ValueError, match="unknown layout 'ntu'"):
        Graph("ntu")
    with pytest.raises(ValueError, match=r"a custom layout needs \['center'\]"):
        Graph({"num_node": 3, "inward": []})


@pytest.mark.parametrize("name", list(PARITY))
def test_gcn_logits_equal_mmaction2(name, model_cases, tmp_path):
    case = model_cases[name]
    state = make_state(case["shapes"])
    arch, kwargs = PARITY[name]
    model = models.create(arch, num_classes=7, **kwargs)
    for key in case["graph_keys"]:  # the graph buffers: ours, as built from the layout
        state[key] = model.state_dict()[key]
    for key in state:  # the fixture's damping of AAGCN's weights
        for suffix, factor in case["scales"].items():
            if key.endswith(suffix):
                state[key] = state[key] * factor
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "mm.pth")
    model = models.create(arch, num_classes=7, checkpoint=tmp_path / "mm.pth", **kwargs).eval()
    x = make_input(case["input_shape"])
    with torch.no_grad():
        logits = model(x)
    expected = case["logits"]
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max() <= 1e-4 * expected.abs().max()
    assert float(expected.std()) > 0.05
    probs = model.predict(x)
    assert probs.shape == (case["input_shape"][0], 7)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(probs)))


@pytest.mark.slow  # about 10 s each
@pytest.mark.parametrize("name", ["stgcn", "stgcnpp", "agcn", "aagcn", "ctrgcn"])
def test_onnx_export_runs_in_onnxruntime(name, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from actionkit.models.export import export_onnx, export_program

    model = models.create(name, num_classes=5, base_channels=16).eval()
    shape = (1, 1, 2, 16, 17, 3)
    # dynamic batch and time for ST-GCN and CTR-GCN (the other graph layouts share their
    # shape logic: exported statically, 3-4x faster)
    dynamic = name in ("stgcn", "ctrgcn")
    # (static ones without the exporter's graph optimisation, as tests/test_models.py's)
    path = tmp_path / "m.onnx"
    axes = export_onnx(model, torch.randn(shape), path, dynamic=dynamic, optimize=dynamic)
    assert axes == ({0: "batch", 3: "time"} if dynamic else {})
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    sizes = (shape, (3, 1, 2, 16, 17, 3), (2, 1, 2, 24, 17, 3)) if dynamic else (shape,)
    for size in sizes:
        x = torch.randn(size)
        out = session.run(None, {"inputs": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x)
        assert abs(out - ref.numpy()).max() < 1e-4 * max(1.0, float(ref.abs().max())), size
    ops = {n.target for n in export_program(model, torch.randn(shape)).graph.nodes}
    assert not any("actionkit" in str(op) for op in ops)  # standard ops only


@pytest.mark.parametrize("name", ["stgcn", "stgcnpp", "agcn", "aagcn", "ctrgcn"])
def test_trains_under_bf16_autocast(name):
    # train.amp: bf16 on the CPU: the adjacency follows the activations' dtype (it used to
    # be cast to the block input's, and the graph op refused the mix)
    torch.manual_seed(0)
    model = models.create(name, num_classes=5, base_channels=16).train()
    x = torch.randn(2, 1, 2, 16, 17, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    assert logits.dtype == torch.bfloat16
    torch.nn.functional.cross_entropy(logits.float(), torch.tensor([0, 3])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    with torch.no_grad():
        ref = model.eval()(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x).float()
    assert (low - ref).abs().max() <= 0.05 * ref.abs().max() + 0.02  # bf16: 8 mantissa bits
