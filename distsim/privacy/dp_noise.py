"""``dp_noise``: differentially private collaborative inference after Ryu et al. (2022).

The camera runs the CNN up to a split layer, clips its output to an
infinity-norm bound ``B`` and adds Laplace noise of scale ``2B / epsilon`` to
every element (their Algorithm 1, from Wang et al.); the rest of the CNN runs
on the participants, unsplit or split as the scheduler likes (no map caps: by
the post-processing property of differential privacy, nothing computed from
the noisy maps leaks more than the maps themselves). Layer ``L`` stays on the
camera (the result).

What it buys comes from the paper's Tables 3-6, shipped as package data
(``distsim/data/mechanisms/ryu_dp_sweep.csv``, see its README): the SSIM a
**white-box** optimisation attack reaches on the whole noisy output, and the
accuracy of the fine-tuned remote part, per dataset (``svhn``, ``gtsrb``,
``stl10``, ``cifar10``), split case (1, 2 or 3 convolutional layers on the
device) and ``epsilon`` (the 15 tabulated values). That SSIM is **not** on the
scale of Table I (a black-box inversion of a noise-free subset of maps):
distsim reports it as the request's exposure under this mechanism only, and
summaries name the attack (``exposure_attack``) so the two are never pooled.

Ryu et al.'s network is not one of distsim's CNNs (their Fig. 3 is missing from
the text). The mapping is an explicit, overridable choice: case ``k`` puts the
split after the ``k``-th convolutional layer of the scenario's CNN, at its
activation when a relu follows it (parameter ``split_layer`` overrides it by
layer name).

Cost: the cut layer's output is sent at its usual size (the noisy output has
the clean one's shape). The clipping and noise run on the camera and are
costed as ``noise_mults_per_element`` multiplication-equivalents per element
of the split layer's output, added to that layer's compute (:meth:`DpNoise.costed`);
Ryu et al. give no timing, so the default (:data:`NOISE_MULTS_PER_ELEMENT`) is
distsim's count of Algorithm 1's elementwise steps, not a measurement.

Parameters (``privacy.params``): ``epsilon`` (required, one of the tabulated
values), ``dataset`` (default ``cifar10``), ``case`` (default 1),
``split_layer`` (default from ``case`` as above), ``noise_mults_per_element``
(default 4).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from importlib import resources
from typing import ClassVar

from distsim.errors import InputError
from distsim.model.cnn import CNN, LayerKind
from distsim.model.offload import OffloadPlan
from distsim.model.privacy import LayerLimit, PrivacyLimits
from distsim.privacy.base import MechanismSettings
from distsim.privacy.exposure import Exposure, LayerCounts

#: The package data file (Ryu et al. 2022, Tables 3-6).
TABLE = "ryu_dp_sweep.csv"
FIELD = "privacy.params"
#: Default cost of clipping and noising one element, in multiplication-equivalents (distsim's count, not
#: Ryu et al.'s: they give no timing). Algorithm 1 per element: one ``|x|`` compared with the running
#: maximum (the infinity-norm pass), one multiplication by ``1 / max(1, ||x||_inf / B)``, one
#: multiplication of a unit Laplace variate by ``2B / epsilon`` and one addition. Drawing the variate itself
#: (a uniform draw and a logarithm) is not counted, so this is a lower bound; override it per scenario.
NOISE_MULTS_PER_ELEMENT = 4
PARAMS = ("epsilon", "dataset", "case", "split_layer", "noise_mults_per_element")


def ryu_table() -> dict[tuple[str, int, float, str], float]:
    """``(dataset, case, epsilon, metric) -> value`` from the packaged Tables 3-6 (metric ssim or accuracy)."""
    text = (resources.files("distsim") / "data" / "mechanisms" / TABLE).read_text(encoding="utf-8")
    out: dict[tuple[str, int, float, str], float] = {}
    for row in csv.DictReader(io.StringIO(text)):
        out[(row["dataset"], int(row["local_conv_layers"]), float(row["epsilon"]), row["metric"])] = float(row["value"])
    return out


def default_split(cnn: CNN, case: int) -> str:
    """The layer after which the camera adds noise: the ``case``-th conv layer, or the relu right after it."""
    convs = [layer for layer in cnn.layers if layer.kind is LayerKind.CONV]
    if len(convs) < case:
        raise InputError(
            f"CNN {cnn.name!r} has {len(convs)} conv layers, case {case} needs {case}", field=f"{FIELD}.case"
        )
    conv = convs[case - 1]
    after = cnn.layer(conv.index + 1) if conv.index < cnn.depth else None
    return after.name if after is not None and after.kind is LayerKind.RELU else conv.name


class DpNoise:
    """Clip-and-Laplace noise on the camera's output at a split layer (Ryu et al.)."""

    name: ClassVar[str] = "dp_noise"
    certifies: ClassVar[bool] = False
    exposure_attack: ClassVar[str] = "whitebox_noisy_output"

    def __init__(self, settings: MechanismSettings, cnns: dict[str, CNN]) -> None:
        params = settings.known_params(self.name, PARAMS)
        ops = params.get("noise_mults_per_element", NOISE_MULTS_PER_ELEMENT)
        if isinstance(ops, bool) or not isinstance(ops, int) or ops < 0:
            raise InputError(
                f"expected a whole number >= 0 (multiplications per element), got {ops!r}",
                field=f"{FIELD}.noise_mults_per_element",
            )
        #: Multiplication-equivalents charged per element of the split layer's output for clip and noise.
        self.noise_mults_per_element = int(ops)
        table = ryu_table()
        epsilon = params.get("epsilon")
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
            raise InputError(f"expected a number > 0, got {epsilon!r}", field=f"{FIELD}.epsilon")
        dataset = params.get("dataset", "cifar10")
        datasets = sorted({key[0] for key in table})
        if dataset not in datasets:
            raise InputError(f"expected one of {', '.join(datasets)}, got {dataset!r}", field=f"{FIELD}.dataset")
        case = params.get("case", 1)
        if isinstance(case, bool) or case not in (1, 2, 3):
            raise InputError(f"expected 1, 2 or 3 (conv layers on the camera), got {case!r}", field=f"{FIELD}.case")
        epsilons = sorted({key[2] for key in table if key[0] == dataset and key[1] == case})
        if float(epsilon) not in epsilons:
            raise InputError(
                f"Ryu et al. tabulate epsilon {', '.join(f'{e:g}' for e in epsilons)} only, got {epsilon}",
                field=f"{FIELD}.epsilon",
            )
        for metric in ("ssim", "accuracy"):
            if (dataset, case, float(epsilon), metric) not in table:
                raise InputError(
                    f"the table has no {metric} row for {dataset} case {case} epsilon {epsilon}", field=FIELD
                )
        self.epsilon, self.dataset, self.case = float(epsilon), str(dataset), int(case)
        self.ssim = table[(self.dataset, self.case, self.epsilon, "ssim")]
        self.accuracy = table[(self.dataset, self.case, self.epsilon, "accuracy")]
        self._split: dict[str, int] = {}
        self._limits: dict[str, PrivacyLimits] = {}
        for name, cnn in cnns.items():
            split = params.get("split_layer") or default_split(cnn, self.case)
            index = cnn.index_of(str(split))
            if index is None:
                raise InputError(f"CNN {name!r} has no layer {split!r}", field=f"{FIELD}.split_layer")
            if index >= cnn.depth - 1:
                raise InputError(
                    f"layer {split!r} of CNN {name!r} leaves nothing for the participants", field=f"{FIELD}.split_layer"
                )
            self._split[name] = index
            layers = tuple(
                LayerLimit(
                    layer.index, layer.name, str(split), None, False, layer.index <= index or layer.index == cnn.depth
                )
                for layer in cnn.layers
            )
            self._limits[name] = PrivacyLimits(cnn=name, tau=settings.tau, split_point=index + 1, layers=layers)

    def limits(self, cnn: CNN) -> PrivacyLimits:
        return self._limits[cnn.name]

    def costed(self, cnn: CNN) -> CNN:
        """``cnn`` with the clip-and-noise compute added to its split layer (which runs on the camera).

        The split layer's output has ``neurons`` elements; each costs
        ``noise_mults_per_element`` multiplications, spread over the layer's
        segments and rounded up per segment (so at most ``segments - 1`` extra
        multiplications in all).
        """
        index = self._split[cnn.name]
        layer = cnn.layer(index)
        extra = -(-self.noise_mults_per_element * layer.neurons // layer.segments)
        noisy = dataclasses.replace(layer, segment_mults=layer.segment_mults + extra)
        return dataclasses.replace(cnn, layers=(*cnn.layers[: index - 1], noisy, *cnn.layers[index:]))

    def offload(self, cnn: CNN) -> OffloadPlan | None:
        """None: participants run what the camera does not."""
        return None

    def min_participants(self, cnn: CNN) -> int:
        return 0

    def exposure(self, cnn: CNN, counts: LayerCounts, colluders: int) -> Exposure:
        """The white-box SSIM of the noisy output once any participant received maps (whatever ``colluders``:
        the attack already uses the whole output)."""
        for held in counts:
            if len(held) and int(held.max(initial=0)) > 0:
                return Exposure(self.ssim, cnn.layer(self._split[cnn.name]).name, int(held.sum()), False)
        return Exposure.nothing()

    def accuracy_pct(self, cnn: CNN) -> float | None:
        return self.accuracy
