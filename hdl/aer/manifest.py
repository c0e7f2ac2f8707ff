"""The block description of a generated router or mesh: parameters, packet format, configuration port, ports
numbering and tool versions.

It is stored as the ``extra`` of the manifest that :func:`spikeforge.sim.harness.export.export` writes beside the
Verilog, see docs/aer.md. The cocotb bench reads the packet and configuration layouts from it.
"""

from spikeforge.hdl.manifest import tool_versions
from spikeforge.sim.harness.export import describe_shape

from .mesh import Mesh
from .packet import CfgOp
from .params import LATENCY, PORT_NAMES
from .router import Router


__all__ = ["aer_manifest"]


def aer_manifest(dut):
    """Describe a :class:`~spikeforge.hdl.aer.router.Router` or :class:`~spikeforge.hdl.aer.mesh.Mesh`.

    Returns
    -------
    dict
        JSON-serializable: ``block`` (``"router"`` or ``"mesh"``), ``parameters`` (the ``[router]`` or
        ``[mesh]`` table without the run-time ``routes``), ``packet`` (the payload layout of every stream),
        ``ports`` (what each port index is), ``latency`` (cycles per router at zero load), ``cfg`` (table
        mode: command and response layouts and op codes) and ``tools``.
    """
    if not isinstance(dut, (Router, Mesh)):
        raise TypeError(f"dut must be a Router or a Mesh, not {dut!r}")
    p = dut.params
    mesh = isinstance(dut, Mesh)
    parameters = {k: v for k, v in p.to_dict().items() if k != "routes"}
    if mesh or not p.uses_table:
        ports = list(PORT_NAMES)
    else:
        ports = [f"port {i}" for i in range(p.ports)]
    described = {
        "block": "mesh" if mesh else "router",
        "parameters": parameters,
        "packet": describe_shape(dut.packet_layout),
        "ports": ports,
        "latency": LATENCY,
    }
    if mesh:
        described["nodes"] = {"count": p.nodes, "index": "y * width + x"}
    if p.uses_table:
        described["cfg"] = {
            "command": describe_shape(dut.cfg_layout),
            "response": describe_shape(dut.cfg_rsp_layout),
            "ops": {op.name: op.value for op in CfgOp},
        }
    described["tools"] = tool_versions()
    return described
