"""A router's or mesh's part of its manifest (:mod:`spikeforge.hdl.manifest`): parameters, packet format,
port numbering and, in table mode, the configuration port, see docs/aer.md. The cocotb bench reads the packet
and configuration layouts from it.
"""

from ..export import describe_shape
from ..manifest import describe_block

from .mesh import Mesh
from .packet import CfgOp
from .params import PORT_NAMES
from .router import Router


__all__ = ["aer_manifest"]


def aer_manifest(dut):
    """Describe a :class:`~spikeforge.hdl.aer.router.Router` or :class:`~spikeforge.hdl.aer.mesh.Mesh`.

    Returns
    -------
    dict
        For :func:`spikeforge.hdl.export.export`: ``block`` (``"router"`` or ``"mesh"``), ``parameters`` (the
        ``[router]`` or ``[mesh]`` table without the run-time ``routes``), ``derived`` (``packet``: the payload
        layout of every stream; ``port_names``: what each port index is; ``latency``: cycles per router at zero
        load; a mesh's ``nodes``) and, in table mode, ``memory_map`` (``cfg``: the routing table's command and
        response layouts and op codes).
    """
    if not isinstance(dut, (Router, Mesh)):
        raise TypeError(f"dut must be a Router or a Mesh, not {dut!r}")
    p = dut.params
    mesh = isinstance(dut, Mesh)
    block = "mesh" if mesh else "router"
    if mesh or not p.uses_table:
        port_names = list(PORT_NAMES)
    else:
        port_names = [f"port {i}" for i in range(p.ports)]
    derived = {"packet": describe_shape(dut.packet_layout), "port_names": port_names, "latency": p.latency}
    if mesh:
        derived["nodes"] = {"count": p.nodes, "index": "y * width + x"}
    memory_map = None
    if p.uses_table:
        memory_map = {"cfg": {
            "command": describe_shape(dut.cfg_layout),
            "response": describe_shape(dut.cfg_rsp_layout),
            "ops": {op.name: op.value for op in CfgOp},
        }}
    parameters = {block: {k: v for k, v in p.to_dict().items() if k != "routes"}}
    return describe_block(block, parameters, derived=derived, memory_map=memory_map)
