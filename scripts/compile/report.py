"""What ``spikeforge compile`` reports: the cores and their sizes, the layers' scales and errors, the activity on
the calibration input, and the fit on each board (report.json, and report.md for a person)."""

from __future__ import annotations

import numpy as np

from spikeforge.boards.platforms import BOARDS

from .fit import ROUTING_MARGIN, fit


__all__ = ["report", "markdown"]


def _cores(compiled):
    chip, arrays = compiled.placement.chip, compiled.placement.arrays
    routes = chip.routes_per_node()
    rows = []
    for core, piece in zip(chip.cores, compiled.placement.slices):
        p = core.params
        record = sum(width for width, _ in p.neuron_fields(core.stdp).values())
        rows.append({"core": core.name, "layer": piece.population, "neurons": f"{piece.first}..{piece.first + piece.count - 1}",
                     "node": core.node, "phase": core.phase, "size": [p.neurons, p.axons], "lanes": p.lanes,
                     "synapses": int(np.count_nonzero(arrays[core.name])), "map_entries": len(chip.input_map(core.name)),
                     "table_entries": routes.get(core.node, 0), "weight_memory_bits": p.axons * p.neurons * p.weight_bits,
                     "state_memory_bits": p.neurons * record})
    return rows


def _layers(compiled):
    rows = []
    for pop in compiled.network.populations:
        q = compiled.layers[pop.name]
        rows.append({"layer": pop.name, "model": pop.model, "neurons": pop.size, "scale": q.scale,
                     "weight_error": q.weight_error, "beta": [float(np.median(pop.beta)), q.beta],
                     "alpha": [float(np.median(pop.alpha)), q.alpha] if pop.model == "cuba" else None,
                     "threshold": q.lif["threshold"], "state_bits": q.lif["state_bits"]})
    return rows


def report(compiled, *, source, calibration=None):
    """The report as a JSON-ready dict; ``calibration`` is a :class:`~.calibrate.Calibration` or None."""
    chip = compiled.placement.chip
    out = {"source": str(source), "dt": compiled.network.dt, "integrator": compiled.network.integrator,
           "weight_bits": compiled.weight_bits,
           "chip": {"width": chip.width, "height": chip.height, "cores": len(chip.cores), "phases": chip.phases,
                    "inputs": chip.inputs, "outputs": chip.output_count, "table_size": chip.table_size,
                    "map_size": chip.map_size},
           "cores": _cores(compiled), "layers": _layers(compiled),
           "boards": {board: _fit_row(fit(chip, board)) for board in BOARDS},
           "notes": list(compiled.notes), "warnings": []}
    if calibration is not None:
        out["activity"] = calibration.rows()
        out["output_agreement"] = calibration.output_agreement
        out["warnings"] = list(calibration.warnings)
    return out


def _fit_row(f):
    return {"logic_estimate": f.logic, "logic_available": f.logic_available, "bram": f.bram,
            "bram_available": f.bram_available, "spram": f.spram, "spram_available": f.spram_available,
            "fits": f.fits}


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(data):
    """report.md from :func:`report`'s dict."""
    chip = data["chip"]
    lines = [f"# Compiled network: {data['source']}", "",
             f"dt = {data['dt']:g} s ({data['integrator']}), {data['weight_bits']}-bit weights. A {chip['width']} x "
             f"{chip['height']} mesh of {chip['cores']} cores, {chip['phases']} phases per step, {chip['inputs']} "
             f"inputs, {chip['outputs']} outputs; routing tables of {chip['table_size']} entries, input maps of "
             f"{chip['map_size']}.", "", "## Cores", ""]
    lines += _table(["core", "layer (neurons)", "node", "phase", "neurons x axons", "lanes", "synapses",
                     "map entries", "table entries", "weight memory bits", "state memory bits"],
                    [[c["core"], f"{c['layer']} ({c['neurons']})", c["node"], c["phase"], "{} x {}".format(*c["size"]),
                      c["lanes"], c["synapses"], c["map_entries"], c["table_entries"], c["weight_memory_bits"],
                      c["state_memory_bits"]] for c in data["cores"]])
    lines += ["", "## Layers", "", "Scale: integer membrane units per float unit. Weight error: the largest rounding "
              "error of a weight relative to the largest weight.", ""]
    lines += _table(["layer", "model", "neurons", "scale", "weight error", "beta (float, core)",
                     "alpha (float, core)", "threshold", "state bits"],
                    [[r["layer"], r["model"], r["neurons"], f"{r['scale']:.4g}", f"{r['weight_error']:.2%}",
                      "{:.5f}, {:.5f}".format(*r["beta"]),
                      "{:.5f}, {:.5f}".format(*r["alpha"]) if r["alpha"] else "-", r["threshold"], r["state_bits"]]
                     for r in data["layers"]])
    if "activity" in data:
        lines += ["", "## Activity on the calibration input", "",
                  "Spikes per neuron per step, the float network against the compiled one (golden model).", ""]
        lines += _table(["layer", "float", "compiled"],
                        [[r["layer"], f"{r['float']:.4f}", f"{r['compiled']:.4f}"] for r in data["activity"]])
        lines += ["", f"Output spikes equal to the float network's: {data['output_agreement']:.2%}."]
    lines += ["", "## Boards (estimated before place and route)", "",
              f"A chip fits when its memories do and its estimated logic leaves {ROUTING_MARGIN:.0%} of the device "
              f"for place and route (scripts/compile/fit.py).", ""]
    lines += _table(["board", "logic (estimate)", "block RAM", "SPRAM", "fits"],
                    [[board, f"{f['logic_estimate']}/{f['logic_available']}", f"{f['bram']}/{f['bram_available']}",
                      f"{f['spram']}/{f['spram_available']}", "yes" if f["fits"] else "no"]
                     for board, f in data["boards"].items()])
    for title, items in (("Warnings", data["warnings"]), ("Approximations", data["notes"])):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {item}" for item in items]
    return "\n".join(lines) + "\n"
