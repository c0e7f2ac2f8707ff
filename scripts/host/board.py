"""What a board holds and does, over a :class:`~spikeforge.scripts.host.link.Link`: INFO checked against the
configuration's manifest, configuration commands, timesteps, STATUS (docs/host_protocol.md). Pure Python."""

from __future__ import annotations

import dataclasses

from spikeforge.hdl.manifest import manifest_digest
from spikeforge.sim.harness.layout import Layout, flat_fields

from .link import FIRST_CODE, INFO, STATUS, LinkError


__all__ = ["Board", "BINDINGS", "INFO_FIELDS", "MAGICS", "PROTOCOL_VERSION", "STATUS_FIELDS", "describe_info",
           "info_parameters", "read_fields"]


PROTOCOL_VERSION = 2
_HEADER = 6             # magic, version, digest (4 bytes)

#: INFO's first byte -> the block it names.
MAGICS = {0x4C: "lif_core", 0x43: "chip", 0x52: "router", 0x4D: "mesh", 0x41: "attention"}


@dataclasses.dataclass(frozen=True)
class Binding:
    """How a block's ports are numbered on the link (its board top-level's bridge): the command and reply ports
    of its manifest in code order (a port the block lacks is skipped) and the timestep's ports."""

    commands: tuple
    replies: tuple
    event: str          # input events of a timestep, and their field
    event_field: str
    step: str
    output: str         # the spikes a timestep sends back, and their field
    output_field: str


BINDINGS = {
    "lif_core": Binding(commands=("events", "tick", "cfg", "reward"), replies=("spikes", "cfg_rsp", "done"),
                        event="events", event_field="axon", step="tick", output="spikes", output_field="neuron"),
    "chip": Binding(commands=("inputs", "step", "cfg"), replies=("outputs", "cfg_rsp", "done"),
                    event="inputs", event_field="neuron", step="step", output="outputs", output_field="neuron"),
}


#: The fields of each block's INFO after its header, (name, bytes, offset): the link carries value - offset.
INFO_FIELDS = {
    "lif_core": (("axon_bits", 1, 0), ("neuron_bits", 1, 0), ("data_bits", 1, 0), ("lanes", 1, 0),
                 ("weight_bits", 1, 0), ("neurons", 2, 1), ("axons", 2, 1)),
    "chip": (("width", 1, 0), ("height", 1, 0), ("cores", 1, 0), ("inputs", 2, 0), ("outputs", 2, 0)),
    "router": (("sources", 1, 0), ("routers", 1, 0), ("ports", 1, 0), ("packet_bits", 1, 0)),
    "mesh": (("sources", 1, 0), ("routers", 1, 0), ("ports", 1, 0), ("packet_bits", 1, 0)),
    "attention": (("variant", 1, 0), ("tokens", 2, 1), ("channels", 2, 1), ("heads", 2, 1), ("timesteps", 1, 0),
                  ("lanes", 2, 1)),
}

_LINK_COUNTERS = (("bad_frames", 2, 0), ("link_errors", 2, 0))
#: The fields of each block's STATUS, as INFO_FIELDS; a table-mode router's or mesh's ``bad_config`` (sized by
#: its counters) is left out.
STATUS_FIELDS = {
    "lif_core": (("timestep", 4, 0), ("bad_events", 2, 0), ("bad_config", 2, 0), *_LINK_COUNTERS),
    "chip": (("timestep", 4, 0), ("unmapped", 2, 0), ("bad_config", 2, 0), *_LINK_COUNTERS),
    **dict.fromkeys(("router", "mesh", "attention"), _LINK_COUNTERS),
}


def read_fields(fields, payload):
    """``{name: value}`` of little-endian ``fields`` (name, bytes, offset) read in order from ``payload``; a
    field the payload is too short for is left out."""
    values, at = {}, 0
    for name, size, offset in fields:
        if at + size > len(payload):
            break
        values[name] = int.from_bytes(payload[at:at + size], "little") + offset
        at += size
    return values


def describe_info(payload):
    """(block, protocol version, digest) of an INFO payload; block is None for an unknown magic."""
    if len(payload) < _HEADER:
        return None, None, b""
    return MAGICS.get(payload[0]), payload[1], payload[2:_HEADER]


def info_parameters(block, payload):
    """``{name: value}``: the parameters the INFO ``payload`` of a ``block`` board tells (:data:`INFO_FIELDS`)."""
    return read_fields(INFO_FIELDS[block], payload[_HEADER:])


class Board:
    """The block on the other end of ``link``, checked to be the one ``manifest`` describes.

    Parameters
    ----------
    link : Link
    manifest : spikeforge.sim.harness.manifest.Manifest
        The block's manifest (as ``generate`` writes it).
    name : str
        The port's name, for messages.

    Raises
    ------
    LinkError
        When the device does not answer INFO, or holds another block, protocol version or set of parameters.
    """

    def __init__(self, link, manifest, *, name):
        self._link = link
        self._manifest = manifest
        self._binding = BINDINGS[manifest.block]
        self.info = link.ask(INFO)
        block, version, digest = describe_info(self.info)
        if block is None:
            raise LinkError(f"{name}: the device's INFO is not a spikeforge board's ({self.info.hex()})")
        if version != PROTOCOL_VERSION:
            raise LinkError(f"{name}: the board speaks protocol version {version}, not {PROTOCOL_VERSION}; "
                            f"build and program it again")
        if block != manifest.block:
            raise LinkError(f"{name}: the board holds a [{block}] block, not the configuration's [{manifest.block}]")
        expected = manifest_digest({"block": manifest.block, "parameters": manifest.parameters})
        if digest != expected:
            raise LinkError(f"{name}: the board's [{block}] was built with other parameters than the configuration's "
                            f"(manifest digest {digest.hex()}, not {expected.hex()})")
        ports = [port for port in self._binding.commands if port in manifest.ports]
        self._codes = {port: FIRST_CODE + i for i, port in enumerate(ports)}
        replies = {port: FIRST_CODE + i for i, port in enumerate(self._binding.replies)}
        self._reply_ports = {code: port for port, code in replies.items()}
        self._layouts = {port: self._layout(port) for port in [*ports, *self._binding.replies]}

    def _layout(self, port):
        """The payload layout of a port on the link; the step and its end carry none."""
        if port in (self._binding.step, "done"):
            return Layout(name=port, width=0)
        return self._manifest.stream_layout(port)

    def _send(self, port, value):
        layout = self._layouts[port]
        bits = layout.pack(flat_fields(value) if isinstance(value, dict) else value)
        self._link.command(self._codes[port], bits.to_bytes((layout.width + 7) // 8, "little"))

    def _reply(self):
        code, payload = self._link.reply()
        port = self._reply_ports.get(code)
        if port is None:
            raise LinkError(f"the device sent an unknown reply code {code:#04x}")
        return port, self._layouts[port].unpack(int.from_bytes(payload, "little"))

    def configure(self, commands):
        """Send configuration commands (dicts of the ``cfg`` fields) in order; returns the READs' data."""
        data = []
        for command in commands:
            self._send("cfg", command)
            if command["op"] == "READ":
                port, value = self._reply()
                if port != "cfg_rsp":
                    raise LinkError(f"the device sent {port} where a configuration read's answer was due")
                data.append(value["data"])
        self._link.flush()
        return data

    def step(self, events):
        """One timestep: the input events (axons of a core, inputs of a chip), then the step; returns the
        spiking neurons (outputs) in the order they came."""
        b = self._binding
        for event in events:
            self._send(b.event, {b.event_field: int(event)})
        self._send(b.step, 0)
        spikes = []
        while True:
            port, value = self._reply()
            if port == "done":
                return spikes
            if port != b.output:
                raise LinkError(f"the device sent {port} during a timestep")
            spikes.append(value[b.output_field])

    def reward(self, value):
        """One reward command to a reward-modulated learning core (acknowledged, no reply)."""
        if "reward" not in self._codes:
            raise LinkError("this board's core takes no rewards (its learning engine was built with reward = false)")
        self._send("reward", int(value))

    def status(self):
        """The STATUS counters, ``{name: value}``."""
        return read_fields(STATUS_FIELDS[self._manifest.block], self._link.ask(STATUS))
