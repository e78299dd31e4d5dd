"""``distsim catalog [devices|radios|cnns|limits]``."""

from __future__ import annotations

import argparse

from distsim import catalog
from distsim.commands.format import table
from distsim.errors import InputError
from distsim.model.privacy import UnmeasuredPolicy, derive_limits, limit_rows, load_ssim_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cat = sub.add_parser("catalog", help="print the built-in devices, radios, CNNs or privacy limits")
    cat.add_argument("what", nargs="?", default="devices", choices=["devices", "radios", "cnns", "limits"])
    cat.add_argument("--cnn", help="CNN for 'limits' (or to list its layers with 'cnns')")
    cat.add_argument("--tau", type=float, help="tolerated SSIM for 'limits', in (0, 1]")
    cat.add_argument("--policy", default="finest", choices=["finest", "strict"], help="unmeasured-split policy")
    cat.add_argument("--ssim-table", help="CSV to use instead of the paper's Table I")
    cat.add_argument(
        "--window-s",
        type=float,
        default=catalog.DEFAULT_BUDGET_WINDOW_S,
        help="budget window for the derived budgets of 'devices' (s)",
    )
    cat.set_defaults(func=_catalog)


def _catalog(args: argparse.Namespace) -> int:
    if args.what == "devices":
        rows = []
        for name, model in catalog.device_models().items():
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
                    for r in catalog.radios().values()
                ]
            )
        )
    elif args.what == "cnns":
        cnns = catalog.builtin_cnns()
        if args.cnn:
            cnn = _cnn(args.cnn)
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
        if args.cnn is None or args.tau is None:
            raise InputError("'catalog limits' needs --cnn NAME and --tau VALUE", field="arguments")
        cnn = _cnn(args.cnn)
        table_ = load_ssim_table(args.ssim_table) if args.ssim_table else catalog.builtin_ssim_table()
        limits = derive_limits(cnn, table_, args.tau, UnmeasuredPolicy(args.policy))
        print(table(limit_rows(limits, cnn)))
        sp = limits.split_point
        where = f"layer {sp} ({cnn.layer(sp).name})" if sp <= cnn.depth else "none (every layer is limited)"
        print(
            f"\nCNN {cnn.name}, tau = {args.tau}: split point SP = {where}; "
            f"at least {limits.min_participants(cnn)} participants needed"
        )
    return 0


def _cnn(name: str):  # type: ignore[no-untyped-def]
    cnns = catalog.builtin_cnns()
    if name not in cnns:
        raise InputError(f"unknown CNN {name!r}; expected one of {', '.join(cnns)}", field="--cnn")
    return cnns[name]
