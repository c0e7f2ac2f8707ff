"""Board top-level of a chip: the chip behind the UART host link (docs/host_protocol.md, docs/chip.md).

Commands: INPUT (0x04: an input index), STEP (0x05, no payload: run the step), CFG (0x06: a chip configuration
command). Replies: OUTPUT (0x04: an output index), CFG_DATA (0x05: a READ's answer), DONE (0x06, no payload: the
step is over, after its outputs). STATUS: ``timestep`` (4), ``unmapped`` (2), ``bad_config`` (2),
``bad_frames`` (2), ``link_errors`` (2). INFO: 0x43 ("C"), the protocol version, the manifest digest, width,
height, cores, then inputs and outputs (two bytes each).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring

from spikeforge.hdl.chip.chip import Chip
from spikeforge.hdl.chip.params import ChipParams
from spikeforge.hdl.chip.manifest import chip_manifest
from spikeforge.hdl.host_bridge import HostBridge, hold_pulse, info_header

from .host_link import HostTop
from .platforms import DEFAULT_BAUD


__all__ = ["ChipTop", "CHIP_INFO_MAGIC"]


CHIP_INFO_MAGIC = 0x43    # "C"
_STATUS = data.StructLayout({"timestep": unsigned(32), "unmapped": unsigned(16), "bad_config": unsigned(16),
                             "bad_frames": unsigned(16), "link_errors": unsigned(16)})


class ChipTop(HostTop):
    """A :class:`~spikeforge.hdl.chip.chip.Chip` and its host link on the board's UART.

    Parameters
    ----------
    params : ChipParams
    baud, clock_mhz
        The UART bit rate and the clock, as :class:`~spikeforge.boards.host_link.HostTop` takes them.
    """

    def __init__(self, params, *, baud=DEFAULT_BAUD, clock_mhz=None):
        if not isinstance(params, ChipParams):
            raise TypeError(f"params must be a ChipParams, not {params!r}")
        super().__init__(params, baud=baud, clock_mhz=clock_mhz)
        self._chip = Chip(params)

    @property
    def block(self):
        """The :class:`~spikeforge.hdl.chip.chip.Chip` inside."""
        return self._chip

    def _info(self):
        p = self._params
        return info_header(CHIP_INFO_MAGIC, chip_manifest(self._chip)) + bytes([p.width, p.height, len(p.cores)]) + \
            p.inputs.to_bytes(2, "little") + p.output_count.to_bytes(2, "little")

    def attach(self, m, link):
        m.submodules.chip = chip = self._chip
        m.submodules.host = host = HostBridge(
            commands={"input": chip.inputs.payload.shape(), "step": unsigned(0), "cfg": chip.cfg_layout},
            replies={"output": chip.outputs.payload.shape(), "cfg_data": chip.cfg_rsp_layout, "done": unsigned(0)},
            status=_STATUS, info=self._info())
        wiring.connect(m, link.rx, host.rx)
        wiring.connect(m, host.tx, link.tx)
        wiring.connect(m, host.input, chip.inputs)
        wiring.connect(m, host.cfg, chip.cfg)
        wiring.connect(m, chip.outputs, host.output)
        wiring.connect(m, chip.cfg_rsp, host.cfg_data)
        m.d.comb += [
            chip.step.valid.eq(host.step.valid), host.step.ready.eq(chip.step.ready),
            host.status.timestep.eq(chip.timestep), host.status.unmapped.eq(chip.unmapped),
            host.status.bad_config.eq(chip.bad_config), host.status.bad_frames.eq(host.bad_frames),
            host.status.link_errors.eq(link.errors),
        ]
        # `done` is a pulse; hold it until its frame is acknowledged (two can wait: see hold_pulse).
        hold_pulse(m, chip.done, host.done)
