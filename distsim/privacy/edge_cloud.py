"""``edge_cloud``: a hybrid edge-cloud split after Osia et al. (2017/2018).

The camera runs the CNN as a *feature extractor* up to a cut layer,
optionally reduces the cut layer's output to ``dims`` values by PCA (their
"advanced embedding"), and sends it over an uplink to a server (a device of
kind ``server``, declared under ``servers`` in the scenario) that computes
the rest (their "Analyzer") and returns the answer. No participant takes part:
the placement is fixed by the mechanism (the engine's ``offload`` scheduler),
and its cost is the closed form of :mod:`distsim.model.offload`.

**Cut layer.** By default, per CNN, the shallowest layer whose *full-map* SSIM
in the SSIM table (the paper's Table I, black-box inversion) is within
``tau``: the layer before DistPrivacy's split point ``SP``
(:func:`distsim.model.privacy.derive_limits`), so whoever holds its whole
output reaches at most ``tau``. Where the table certifies no such layer (LeNet
at any tabulated ``tau``, the CIFAR CNN at 0.4), the ``finest`` policy keeps
the whole CNN on the camera (nothing is offloaded) and ``strict`` refuses the
scenario. ``cut_layer`` overrides it (one layer name for every CNN, or a
mapping CNN -> layer name). Osia et al. cut VGG-16 at "the fifth
convolutional layer" (ambiguous: conv3_1 or the conv5 block), on a face task
distsim does not have; that choice is not transferred.

**Exposure.** The server is the untrusted party: it holds the cut layer's
output and every map it computes from it. distsim reads their SSIM from the
SSIM table as for ``feature_split`` (a device holding every map of every
layer after the cut; :func:`distsim.privacy.exposure.exposure_of`). With PCA the
server sees only ``dims`` values, a function of the cut output, so the
full-map value is an upper bound (whatever an attacker rebuilds from the
projection it could rebuild from the map itself); Osia et al. measure no
number for it (their Fig. 5 is a visual comparison), so the request is marked
``exposure_extrapolated``. ``colluders`` does not matter: there is one server.

**Accuracy.** Without PCA the split is exact (accuracy unchanged, unknown to
distsim: blank). Osia et al. report "almost the same 93%" gender accuracy
for all three embeddings of their VGG-16 on IMDB-WIKI faces (their Sec. 5);
that is their model's accuracy on their task, not a figure for distsim's
CNNs, so ``accuracy_pct`` stays blank with PCA too.

Parameters (``privacy.params``): ``server`` (a ``servers`` name; default the
only one declared), ``cut_layer`` (default above), ``dims`` (PCA output
values, >= 1 and at most the cut layer's output; default none: the whole
output is sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from distsim.errors import InputError
from distsim.model.cnn import CNN
from distsim.model.offload import OffloadPlan, ServerModel
from distsim.model.privacy import LayerLimit, PrivacyLimits, UnmeasuredPolicy, derive_limits
from distsim.privacy.base import MechanismSettings
from distsim.privacy.exposure import Exposure, LayerCounts, exposure_of, received_maps

FIELD = "privacy.params"
PARAMS = ("server", "cut_layer", "dims")


def choose_server(params: Mapping[str, Any], servers: Mapping[str, ServerModel]) -> ServerModel:
    """The server ``params['server']`` names, or the only one declared (one-line :class:`InputError` otherwise)."""
    if not servers:
        raise InputError(
            "edge_cloud needs a server: declare one under 'servers' (mults_per_s, uplink_bps, rtt_s)", field="servers"
        )
    name = params.get("server")
    if name is None:
        if len(servers) > 1:
            raise InputError(
                f"several servers are declared ({', '.join(sorted(servers))}); name one", field=f"{FIELD}.server"
            )
        return next(iter(servers.values()))
    if not isinstance(name, str) or name not in servers:
        raise InputError(f"expected one of {', '.join(sorted(servers))}, got {name!r}", field=f"{FIELD}.server")
    return servers[name]


def default_cut(cnn: CNN, measured: PrivacyLimits, policy: UnmeasuredPolicy) -> int:
    """The shallowest layer whose full-map SSIM is within tau (the layer before ``SP``), else ``L``."""
    if measured.split_point <= cnn.depth:
        return measured.split_point - 1
    if policy is UnmeasuredPolicy.STRICT:
        raise InputError(
            f"the SSIM table certifies no cut layer of CNN {cnn.name!r} at max_ssim {measured.tau} "
            "(no layer's full-map SSIM is within it); set privacy.params.cut_layer or use policy 'finest'",
            field="privacy.policy",
        )
    return cnn.depth  # nothing certified: the camera keeps the whole CNN


class EdgeCloud:
    """Camera up to a cut layer, optional PCA, uplink, a server for the rest (Osia et al.)."""

    name: ClassVar[str] = "edge_cloud"
    certifies: ClassVar[bool] = False
    exposure_attack: ClassVar[str] = "blackbox_map_subsets"

    def __init__(self, settings: MechanismSettings, cnns: dict[str, CNN]) -> None:
        params = settings.known_params(self.name, PARAMS)
        self.settings = settings
        #: The server every offloaded layer runs on.
        self.server = choose_server(params, settings.servers)
        dims = params.get("dims")
        if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
            raise InputError(f"expected a whole number >= 1 (PCA output values), got {dims!r}", field=f"{FIELD}.dims")
        cut = params.get("cut_layer")
        if isinstance(cut, dict):
            for key in sorted(cut):
                if key not in cnns:
                    raise InputError(
                        f"no CNN {key!r} in this run; expected one of {', '.join(sorted(cnns))}",
                        field=f"{FIELD}.cut_layer.{key}",
                    )
        elif cut is not None and not isinstance(cut, str):
            raise InputError(
                f"expected a layer name or a mapping CNN -> layer name, got {cut!r}", field=f"{FIELD}.cut_layer"
            )
        finest = UnmeasuredPolicy("finest")
        self._plans: dict[str, OffloadPlan] = {}
        self._limits: dict[str, PrivacyLimits] = {}
        self._exposures: dict[str, Exposure] = {}
        for name, cnn in cnns.items():
            measured = derive_limits(cnn, settings.table, settings.tau, finest)
            chosen = cut.get(name) if isinstance(cut, dict) else cut
            index = default_cut(cnn, measured, settings.policy) if chosen is None else cut_index(cnn, chosen)
            offloads = index < cnn.depth
            if offloads and dims is not None and dims > cnn.layer(index).neurons:
                raise InputError(
                    f"PCA to {dims} values is no reduction of layer {cnn.layer(index).name!r} of CNN {name!r} "
                    f"({cnn.layer(index).neurons} values)",
                    field=f"{FIELD}.dims",
                )
            plan = OffloadPlan(index, dims if offloads else None, self.server.uplink_bps, self.server.rtt_s)
            self._plans[name] = plan
            # No caps (schedulers never place these requests: the placement is fixed); the camera keeps 1..cut.
            self._limits[name] = PrivacyLimits(
                cnn=name,
                tau=settings.tau,
                split_point=index + 1,
                layers=tuple(
                    LayerLimit(limit.index, limit.name, limit.governing_layer, None, False, limit.index <= index)
                    for limit in measured.layers
                ),
            )
            self._exposures[name] = server_exposure(cnn, plan, measured, settings)

    def limits(self, cnn: CNN) -> PrivacyLimits:
        return self._limits[cnn.name]

    def costed(self, cnn: CNN) -> CNN:
        """``cnn`` unchanged: the PCA's compute is part of the offload plan's closed form."""
        return cnn

    def offload(self, cnn: CNN) -> OffloadPlan | None:
        """Where ``cnn``'s layers run: the camera up to the cut, :attr:`server` after it."""
        return self._plans[cnn.name]

    def min_participants(self, cnn: CNN) -> int:
        return 0

    def exposure(self, cnn: CNN, counts: LayerCounts, colluders: int) -> Exposure:
        """What the server holds (the same for every request of ``cnn``; participants receive nothing)."""
        return self._exposures[cnn.name]

    def accuracy_pct(self, cnn: CNN) -> float | None:
        return None


def cut_index(cnn: CNN, name: object) -> int:
    """1-based index of the cut layer called ``name`` in ``cnn`` (one-line :class:`InputError` if none)."""
    index = cnn.index_of(str(name)) if isinstance(name, str) else None
    if index is None:
        raise InputError(f"CNN {cnn.name!r} has no layer {name!r}", field=f"{FIELD}.cut_layer")
    return index


def server_exposure(cnn: CNN, plan: OffloadPlan, measured: PrivacyLimits, settings: MechanismSettings) -> Exposure:
    """The SSIM table's value for a device holding every map of every layer after the cut (the server).

    With PCA the value is an upper bound, not a measurement: marked extrapolated.
    """
    if plan.cut >= cnn.depth:
        return Exposure.nothing()
    # Device 0 stands for the server, device 1 for the camera.
    virtual = [np.full(layer.segments, 0 if layer.index > plan.cut else 1, dtype=np.int64) for layer in cnn.layers]
    held = received_maps(cnn, virtual, 1)
    value = exposure_of(cnn, measured, settings.table, held, 1)
    if plan.dims is None:
        return value
    return Exposure(value.ssim, value.layer, value.maps, True)
