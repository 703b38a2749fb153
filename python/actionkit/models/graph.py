"""Skeleton graphs: joint layouts and their adjacency partitions, as MMAction2 1.2.0's
``models.utils.graph.Graph`` builds them (equal on every layout and mode, fixture), plus
the ST-GCN paper's ``uniform`` and ``distance`` strategies that MMAction2 0.x offered.

Layouts: ``coco`` (17 keypoints), ``openpose`` (18), ``nturgb+d`` (25) or a custom
``{"num_node", "inward", "center"}`` (``inward``: (child, parent) edges towards the
centre). ``Graph(layout, mode, max_hop).A`` is ``[K, V, V]`` float64, one matrix per
subset, used as ``out[..., w] = sum_k sum_v x_k[..., v] * A[k, v, w]``
(:func:`actionkit.ops.graph_aggregate`).

Modes:
- ``stgcn_spatial`` (ST-GCN's spatial configuration): per hop ``d <= max_hop`` the
  neighbours at distance ``d`` split into those at least as close to the centre as the
  root (``close``) and the farther ones (for ``d > 0``); column-normalised adjacency.
- ``spatial`` (1.x's default for the other GCNs): identity, inward and outward edges,
  each column-normalised.
- ``binary_adj``: the symmetric 0/1 adjacency, one subset.
- ``uniform``: all neighbours within ``max_hop`` (and the root) in one normalised subset.
- ``distance``: one normalised subset per hop distance ``0 .. max_hop``.
"""

from __future__ import annotations

import numpy as np

LAYOUTS = {
    "openpose": (
        18,
        [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5),
         (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)],
        1,
    ),
    "nturgb+d": (
        25,
        [(i - 1, j - 1) for i, j in [
            (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
            (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
            (18, 17), (19, 18), (20, 19), (22, 8), (23, 8), (24, 12), (25, 12)]],
        20,
    ),
    "coco": (
        17,
        [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8),
         (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)],
        0,
    ),
}  # fmt: skip
MODES = ("stgcn_spatial", "spatial", "binary_adj", "uniform", "distance")


def edge_matrix(edges, num_node: int) -> np.ndarray:
    """``A[j, i] = 1`` for each edge ``(i, j)`` (MMAction2's ``edge2mat``)."""
    a = np.zeros((num_node, num_node))
    for i, j in edges:
        a[j, i] = 1
    return a


def normalize_columns(a: np.ndarray) -> np.ndarray:
    """Each column divided by its sum (zero columns stay zero): ``A @ D^-1``
    (MMAction2's ``normalize_digraph``)."""
    degree = a.sum(0)
    inverse = np.where(degree > 0, 1.0 / np.where(degree > 0, degree, 1), 0.0)
    return a * inverse[None, :]


def hop_distance(num_node: int, edges, max_hop: int = 1) -> np.ndarray:
    """Hop distances up to ``max_hop`` (``inf`` beyond)."""
    a = np.eye(num_node)
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    dist = np.full((num_node, num_node), np.inf)
    reach = np.stack([np.linalg.matrix_power(a, d) for d in range(max_hop + 1)]) > 0
    for d in range(max_hop, -1, -1):
        dist[reach[d]] = d
    return dist


class Graph:
    """A skeleton graph; ``.A`` holds its adjacency partitions ``[K, V, V]``."""

    def __init__(self, layout: str | dict = "coco", mode: str = "spatial", max_hop: int = 1):
        if isinstance(layout, dict):
            missing = {"num_node", "inward", "center"} - set(layout)
            if missing:
                raise ValueError(f"a custom layout needs {sorted(missing)}, got {sorted(layout)}")
            self.num_node = int(layout["num_node"])
            self.inward = [tuple(e) for e in layout["inward"]]
            self.center = int(layout["center"])
        elif layout in LAYOUTS:
            self.num_node, self.inward, self.center = LAYOUTS[layout]
        else:
            raise ValueError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)}, or a dict)")
        if mode not in MODES:
            raise ValueError(f"unknown graph mode {mode!r} (known: {', '.join(MODES)})")
        self.layout, self.mode, self.max_hop = layout, mode, max_hop
        self.outward = [(j, i) for i, j in self.inward]
        self.neighbor = self.inward + self.outward
        self.hop_dis = hop_distance(self.num_node, self.inward, max_hop)
        self.A = getattr(self, "_" + mode)()

    def _stgcn_spatial(self) -> np.ndarray:
        dist = self.hop_dis
        norm = normalize_columns((dist <= self.max_hop).astype(float))
        to_center = dist[:, self.center]
        # entry [j, i]: joint j's distance to the centre against joint i's
        closer = to_center[:, None] >= to_center[None, :]
        subsets = []
        for hop in range(self.max_hop + 1):
            at = dist.T == hop  # [j, i]: hop_dis[j, i] == hop, as MMAction2 indexes it
            subsets.append(np.where(at & closer, norm, 0.0))
            if hop > 0:
                subsets.append(np.where(at & ~closer, norm, 0.0))
        return np.stack(subsets)

    def _spatial(self) -> np.ndarray:
        identity = edge_matrix([(i, i) for i in range(self.num_node)], self.num_node)
        inward = normalize_columns(edge_matrix(self.inward, self.num_node))
        outward = normalize_columns(edge_matrix(self.outward, self.num_node))
        return np.stack((identity, inward, outward))

    def _binary_adj(self) -> np.ndarray:
        return edge_matrix(self.neighbor, self.num_node)[None]

    def _uniform(self) -> np.ndarray:
        return normalize_columns((self.hop_dis <= self.max_hop).astype(float))[None]

    def _distance(self) -> np.ndarray:
        norm = normalize_columns((self.hop_dis <= self.max_hop).astype(float))
        return np.stack(
            [np.where(self.hop_dis == hop, norm, 0.0) for hop in range(self.max_hop + 1)]
        )
