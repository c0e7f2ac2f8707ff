"""One entry point for the ``simulate`` command of a router or a mesh: packets in, deliveries out, on the golden
model or the RTL; and the packet and delivery files.

PACKETS.csv has the header ``t,src,dest,payload`` (``,tag`` may follow when the format has a tag): ``t`` the
earliest cycle the packet may be injected, ``src`` the injecting node (mesh, row-major) or input port (router),
``dest`` the destination node (``xy``) or the routing key (``table``). DELIVERED.csv has the header
``t,node,src,payload`` (plus ``,tag``): ``t`` the delivery cycle, ``node`` the mesh node or router output port.
The model reports the zero-load delivery cycle; the RTL back ends the measured one.
"""

from __future__ import annotations

import csv
import io

from spikeforge.hdl.aer.params import MeshParams, RouterParams

from ..files import MAX_STEPS, decimal
from .model import AerModel, Packet


__all__ = ["BACKENDS", "PacketFileError", "read_packets", "run_network", "simulate", "write_delivered",
           "delivered_header"]


BACKENDS = ("model", "icarus", "verilator")


class PacketFileError(ValueError):
    """A problem with a packet file, in one line naming the file, the line and the rule."""


def _limits(params):
    """{column: (largest value, the rule in words)} for the packet file of ``params``."""
    mesh = isinstance(params, MeshParams)
    src = (params.nodes - 1, "the mesh's nodes") if mesh else (params.ports - 1, "the router's input ports")
    if params.uses_table:
        dest = ((1 << params.key_bits) - 1, f"key_bits = {params.key_bits}")
    else:
        dest = (params.width * params.height - 1,
                "the mesh's nodes" if mesh else f"the nodes of the router's {params.width} x {params.height} mesh")
    limits = {"src": src, "dest": dest,
              "payload": ((1 << params.payload_bits) - 1, f"payload_bits = {params.payload_bits}")}
    if params.tag_bits:
        limits["tag"] = ((1 << params.tag_bits) - 1, f"tag_bits = {params.tag_bits}")
    return limits


def read_packets(path, params):
    """Read the packets of a ``t,src,dest,payload`` CSV file for the router or mesh of ``params``.

    Returns
    -------
    list of Packet
        In file order.

    Raises
    ------
    PacketFileError
        If the file cannot be read, the header is wrong, or a row is not integers in range.
    """
    if not isinstance(params, (RouterParams, MeshParams)):
        raise TypeError(f"params must be a RouterParams or a MeshParams, not {params!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            text = file.read()
    except OSError as exc:
        raise PacketFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise PacketFileError(f"{path}: not a UTF-8 text file") from None
    limits = _limits(params)
    columns = ("t", "src", "dest", "payload")
    headers = [columns] + ([columns + ("tag",)] if params.tag_bits else [])
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    header = tuple(cell.strip() for cell in header) if header else None
    if header not in headers:
        found = ",".join(header) if header else "an empty file"
        expected = " or ".join(repr(",".join(h)) for h in headers)
        raise PacketFileError(f"{path} line 1: expected the header {expected}, found {found!r}")
    packets = []
    for row in rows:
        line = rows.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            values = [decimal(cell) for cell in row]
            if len(values) != len(header):
                raise ValueError
        except ValueError:
            raise PacketFileError(f"{path} line {line}: expected {len(header)} integers "
                                  f"'{','.join(header)}', found {','.join(row)!r}") from None
        fields = dict(zip(header, values))
        if fields["t"] < 0:
            raise PacketFileError(f"{path} line {line}: time {fields['t']} is negative")
        if fields["t"] >= MAX_STEPS:
            raise PacketFileError(f"{path} line {line}: time {fields['t']} is beyond the limit of {MAX_STEPS} "
                                  f"cycles")
        for column, (top, what) in limits.items():
            if column in fields and not 0 <= fields[column] <= top:
                raise PacketFileError(f"{path} line {line}: {column} {fields[column]} is out of range 0..{top} "
                                      f"({what})")
        dest = fields["dest"]
        if not params.uses_table:
            dest = (dest % params.width, dest // params.width)
        packets.append(Packet(t=fields["t"], src=fields["src"], dest=dest, payload=fields["payload"],
                              tag=fields.get("tag", 0)))
    return packets


def delivered_header(params):
    return ("t", "node", "src", "payload") + (("tag",) if params.tag_bits else ())


def simulate(params, packets, backend, build_dir=None):
    """The delivery rows of :func:`run_network`."""
    return run_network(params, packets, backend, build_dir)[0]


def run_network(params, packets, backend, build_dir=None):
    """Deliver ``packets`` through the router or mesh of ``params``; count the dropped ones.

    Parameters
    ----------
    params : RouterParams or MeshParams
        The network, with its routing table (``routes``) in table mode.
    packets : list of Packet
        From :func:`read_packets`.
    backend : str
        ``"model"`` (the golden model; ``t`` is the zero-load delivery cycle), ``"icarus"`` or ``"verilator"``
        (the generated Verilog in cocotb; ``t`` is the measured delivery cycle, 0 being the first cycle after
        the tables are loaded).
    build_dir : path-like
        Build directory of the simulator; required for the RTL back ends.

    Returns
    -------
    rows : list of tuple
        ``(t, node, src, payload)`` rows (``tag`` appended when the format has one), sorted by ``t`` then
        ``node``, in arrival order within a cycle and node.
    dropped : int
        The sum of the routers' dropped counters (the model's, or those the RTL run read back): packets that
        matched no table entry or had no way to their destination.
    cycles : int or None
        The RTL run's cycles, from cycle 0 to the end of the drain; None on the model.

    Raises
    ------
    ValueError
        If the back end is unknown, or the tables send a packet around a loop.
    RuntimeError
        If the RTL simulation fails (a deadlock).
    """
    if backend not in BACKENDS:
        raise ValueError(f"Backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "model":
        traffic = AerModel(params).run(packets)
        delivered, dropped, cycles = traffic.delivered, traffic.dropped, None
    else:
        if build_dir is None:
            raise ValueError(f"Backend {backend!r} needs a build directory")
        from .rtl import run_rtl

        result = run_rtl(params, packets, sim=backend, build_dir=build_dir, check=False)
        if not result.ok:
            raise RuntimeError(f"The {backend} simulation failed: {result.message}")
        delivered, dropped, cycles = result.delivered, result.dropped, result.cycles
    tagged = bool(params.tag_bits)
    rows = [(d.t, d.node, d.src, d.payload) + ((d.tag,) if tagged else ())
            for node in sorted(delivered) for d in delivered[node]]
    return sorted(rows, key=lambda row: (row[0], row[1])), int(dropped.sum()), cycles


def write_delivered(path, rows, params):
    """Write delivery rows from :func:`simulate` as a CSV file with the header ``t,node,src,payload``."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(delivered_header(params))
        writer.writerows(rows)
