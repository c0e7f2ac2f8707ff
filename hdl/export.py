"""Export of an Amaranth component: its Verilog and its manifest (see :mod:`spikeforge.hdl.manifest`).

The manifest's ports tell the cocotb side and the host (which never import Amaranth) the name and direction of
every port and the bit layout of every stream payload, with the offsets Amaranth chose::

    "ports": {"events": {"kind": "stream", "flow": "in",
                         "payload": {"width": 5, "fields": {"axon": [0, 5, false]}, "enums": {}}},
              "done": {"kind": "port", "flow": "out", "width": 1, "signed": false}, ...}

A member of a nested interface is flattened by Amaranth to ``outer__inner``, an array member to ``name__0``,
``name__1``...; a stream becomes ``name__valid``, ``name__ready`` and ``name__payload``.
"""

from __future__ import annotations

import enum
import itertools
import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring


from .manifest import DESCRIPTION_KEYS


__all__ = ["describe_ports", "describe_shape", "export", "manifest_of"]


def describe_shape(shape):
    """The JSON description of a payload shape: ``{"width", "signed"}`` for a plain shape, plus ``"fields"``
    (``{name: [offset, width, signed]}``, nested names joined with ``.``) and ``"enums"`` for a layout."""
    if isinstance(shape, data.Layout):
        fields, enums = {}, {}
        _describe_layout(shape, "", 0, fields, enums)
        return {"width": shape.size, "signed": False, "fields": fields, "enums": enums}
    cast = Shape.cast(shape)
    description = {"width": cast.width, "signed": cast.signed, "fields": None, "enums": {}}
    if _is_enum(shape):
        description["enums"] = {"": _enum_members(shape)}
    return description


def _is_enum(shape):
    return isinstance(shape, type) and issubclass(shape, enum.Enum)


def _enum_members(shape):
    return {member.name: int(member.value) for member in shape}


def _describe_layout(layout, prefix, base, fields, enums):
    if not isinstance(layout, (data.StructLayout, data.ArrayLayout)):
        raise TypeError(f"Only struct and array payload layouts can be described, not {layout!r}")
    for name, field in layout:
        full = f"{prefix}{name}"
        if isinstance(field.shape, data.Layout):
            _describe_layout(field.shape, f"{full}.", base + field.offset, fields, enums)
            continue
        fields[full] = [base + field.offset, field.width, Shape.cast(field.shape).signed]
        if _is_enum(field.shape):
            enums[full] = _enum_members(field.shape)


def describe_ports(signature):
    """``{port name: description}`` for every member of a component's ``signature``, streams kept whole."""
    ports = {}
    _describe_members(signature.members, "", wiring.Flow.Out, ports)
    return ports


def _describe_members(members, prefix, outer_flow, ports):
    for name, member in members.items():
        flow = member.flow if outer_flow == wiring.Flow.Out else member.flow.flip()
        # An array member becomes name__0, name__1... (name__0__0... for more dimensions), as Amaranth names it.
        for index in itertools.product(*(range(size) for size in member.dimensions)):
            full = prefix + name + "".join(f"__{i}" for i in index)
            if member.is_port:
                shape = Shape.cast(member.shape)
                ports[full] = {"kind": "port", "flow": _flow_name(flow), "width": shape.width,
                               "signed": shape.signed}
            elif isinstance(member.signature, stream.Signature):
                sig = member.signature
                ports[full] = {"kind": "stream", "flow": _flow_name(flow),
                               "payload": describe_shape(sig.members["payload"].shape),
                               "always_valid": sig.always_valid, "always_ready": sig.always_ready}
            else:
                _describe_members(member.signature.members, f"{full}__", flow, ports)


def _flow_name(flow):
    return "in" if flow == wiring.Flow.In else "out"


def manifest_of(component, *, name, description):
    """The manifest of ``component`` exported as module ``name``: its ports and the block's ``description``
    (from :func:`spikeforge.hdl.manifest.describe_block`)."""
    if not isinstance(component, wiring.Component):
        raise TypeError(f"Only a wiring.Component can be exported, not {component!r}")
    unknown = sorted(set(description) - set(DESCRIPTION_KEYS))
    if unknown or "block" not in description:
        raise ValueError(f"A block description has the keys {', '.join(DESCRIPTION_KEYS)} (block required), "
                         f"not {', '.join(sorted(description))}")
    return {"toplevel": name, "clock": "clk", "reset": "rst", **description,
            "ports": describe_ports(component.signature)}


def export(component, *, name, build_dir, description):
    """Write ``<build_dir>/<name>.v`` and ``<build_dir>/<name>.json`` (the manifest) for ``component``.

    A file whose content did not change is not rewritten, so the simulators' incremental builds stay valid.

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
        The block; its ports become the top-level ports, plus ``clk`` and ``rst``.
    name : str
        Name of the top-level Verilog module.
    build_dir : path-like
        Directory for the two files (created when missing).
    description : dict
        The block's part of the manifest, from :func:`spikeforge.hdl.manifest.describe_block`.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The Verilog file and the manifest.
    """
    manifest = manifest_of(component, name=name, description=description)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path = build_dir / f"{name}.v"
    manifest_path = build_dir / f"{name}.json"
    _write_if_changed(verilog_path, verilog.convert(component, name=name))
    _write_if_changed(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return verilog_path, manifest_path


def _write_if_changed(path, text):
    if path.exists() and path.read_text() == text:
        return
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
