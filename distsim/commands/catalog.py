"""``distsim catalog [devices|radios|cnns|limits]``."""

from __future__ import annotations

import argparse
import math
import sys

from distsim import catalog
from distsim.commands.format import table
from distsim.errors import InputError
from distsim.model.cnn import CNN
from distsim.model.devices import Radio
from distsim.model.privacy import (
    SsimTable,
    UnmeasuredPolicy,
    check_rows,
    derive_limits,
    limit_rows,
    load_ssim_table,
    merge_tables,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cat = sub.add_parser("catalog", help="print the built-in devices, radios, CNNs or privacy limits")
    cat.add_argument("what", nargs="?", default="devices", choices=["devices", "radios", "cnns", "limits"])
    cat.add_argument("--cnn", help="CNN for 'limits' (or to list its layers with 'cnns')")
    cat.add_argument("--tau", type=float, help="tolerated SSIM for 'limits', in (0, 1]")
    cat.add_argument("--policy", choices=["finest", "strict"], help="unmeasured-split policy (default finest)")
    cat.add_argument("--ssim-table", help="CSV whose rows extend or override the paper's Table I")
    cat.add_argument(
        "--scenario",
        metavar="FILE",
        help="use a scenario's own CNNs and SSIM table (and, for limits, its tau and policy unless given)",
    )
    cat.add_argument(
        "--window-s",
        type=float,
        default=catalog.DEFAULT_BUDGET_WINDOW_S,
        help="budget window for the derived budgets of 'devices' (s)",
    )
    cat.set_defaults(func=_catalog)


def _context(args: argparse.Namespace) -> tuple[dict[str, CNN], SsimTable, float | None, str]:
    """CNNs, SSIM table, tau and policy: the built-in ones, or a scenario's (``--scenario``)."""
    tau, policy = args.tau, args.policy
    if args.scenario:
        from distsim.scenario import load_scenario
        from distsim.world import scenario_cnns, scenario_ssim_table

        scenario = load_scenario(args.scenario)
        cnns = scenario_cnns(scenario, args.scenario)
        ssim = scenario_ssim_table(scenario, cnns)
        tau = scenario.privacy.max_ssim if tau is None else tau
        policy = scenario.privacy.policy if args.policy is None else policy
    else:
        cnns = dict(catalog.builtin_cnns())
        ssim = catalog.builtin_ssim_table()
    if args.ssim_table:
        own = load_ssim_table(args.ssim_table)
        for warning in check_rows(own, cnns):
            print(f"warning: {warning}", file=sys.stderr)
        ssim = merge_tables(ssim, own)
    return cnns, ssim, tau, policy or "finest"


def _models(args: argparse.Namespace) -> dict[str, catalog.DeviceModel]:
    if not args.scenario:
        return catalog.device_models()
    from distsim.scenario import load_scenario
    from distsim.world import scenario_device_models

    return scenario_device_models(load_scenario(args.scenario), args.scenario)


def _radios(args: argparse.Namespace) -> dict[str, Radio]:
    if not args.scenario:
        return catalog.radios()
    from distsim.scenario import load_scenario
    from distsim.world import scenario_radios

    return scenario_radios(load_scenario(args.scenario), args.scenario)


def _catalog(args: argparse.Namespace) -> int:
    if args.what == "devices":
        rows = []
        for name, model in _models(args).items():
            kind = model.with_budgets(args.window_s)
            rows.append(
                {
                    "type": name,
                    "mults_per_s": f"{kind.mults_per_s:.0f}",
                    "memory_bytes": kind.memory_bytes,
                    "radio": kind.radio.name,
                    "rate_bps": f"{kind.radio.rate_bps:.0f}",
                    "compute_budget_mults": kind.compute_budget_mults,
                    "bandwidth_budget_bytes": kind.bandwidth_budget_bytes,
                    "description": model.description,
                }
            )
        print(table(rows))
        print(f"(budgets derived from a {args.window_s} s window; scenarios override them per type)")
    elif args.what == "radios":
        print(
            table(
                [
                    {"radio": r.name, "rate_bps": f"{r.rate_bps:.0f}", "description": r.description}
                    for r in _radios(args).values()
                ]
            )
        )
    elif args.what == "cnns":
        cnns, _, _, _ = _context(args)
        if args.cnn:
            cnn = _cnn(args.cnn, cnns)
            print(
                table(
                    [
                        {
                            "layer": layer.index,
                            "name": layer.name,
                            "kind": str(layer.kind),
                            "in": f"{layer.in_maps}x{layer.in_side}x{layer.in_side}",
                            "out": f"{layer.out_maps}x{layer.out_side}x{layer.out_side}"
                            if layer.kind != "fc"
                            else str(layer.neurons),
                            "segments": layer.segments,
                            "segment_mults": layer.segment_mults,
                            "segment_weight_bytes": layer.segment_weight_bytes,
                            "feed": str(layer.feed),
                        }
                        for layer in cnn.layers
                    ]
                )
            )
            return 0
        print(
            table(
                [
                    {
                        "cnn": c.name,
                        "dataset": c.dataset,
                        "input": f"{c.input_channels}x{c.input_side}x{c.input_side}",
                        "layers": c.depth,
                        "segments": c.total_segments,
                        "mults": f"{c.total_mults / 1e6:.2f} M",
                        "weights": f"{c.total_weight_bytes / 1e6:.2f} MB",
                    }
                    for c in cnns.values()
                ]
            )
        )
    else:
        cnns, table_, tau, policy = _context(args)
        if args.cnn is None or tau is None:
            raise InputError("'catalog limits' needs --cnn NAME and --tau VALUE (or --scenario)", field="arguments")
        if not (math.isfinite(tau) and 0 < tau <= 1):
            raise InputError(f"expected a tolerated SSIM in (0, 1], got {tau}", field="--tau")
        cnn = _cnn(args.cnn, cnns)
        limits = derive_limits(cnn, table_, tau, UnmeasuredPolicy(policy))
        print(table(limit_rows(limits, cnn)))
        sp = limits.split_point
        where = f"layer {sp} ({cnn.layer(sp).name})" if sp <= cnn.depth else "none (every layer is limited)"
        print(
            f"\nCNN {cnn.name}, tau = {tau}: split point SP = {where}; "
            f"at least {limits.min_participants(cnn)} participants needed"
        )
    return 0


def _cnn(name: str, cnns: dict[str, CNN]) -> CNN:
    if name not in cnns:
        raise InputError(f"unknown CNN {name!r}; expected one of {', '.join(cnns)}", field="--cnn")
    return cnns[name]
