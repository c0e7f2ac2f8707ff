"""Board top-level of a chip: the chip behind the UART host link (docs/host_protocol.md, docs/chip.md).

Commands: INPUT (0x02: an input index), STEP (0x03, no payload: run the step), CFG (0x04: a chip configuration
command). Replies: OUTPUT (0x02: an output index), CFG_DATA (0x03: a READ's answer), DONE (0x04, no payload: the
step is over, after its outputs). STATUS: ``timestep`` (4), ``unmapped`` (2), ``bad_config`` (2),
``bad_frames`` (2), ``link_errors`` (2). INFO: 0x43 ("C"), the protocol version, width, height, cores, then
inputs and outputs (two bytes each).
"""

from amaranth.hdl import Elaboratable, Module, unsigned
from amaranth.lib import data, wiring

from spikeforge.hdl.chip.chip import Chip
from spikeforge.hdl.chip.params import ChipParams
from spikeforge.hdl.host_bridge import PROTOCOL_VERSION, HostBridge, hold_pulse

from .host_link import add_uart_link, check_baud


__all__ = ["ChipTop", "CHIP_INFO_MAGIC"]


CHIP_INFO_MAGIC = 0x43    # "C"
_STATUS = data.StructLayout({"timestep": unsigned(32), "unmapped": unsigned(16), "bad_config": unsigned(16),
                             "bad_frames": unsigned(16), "link_errors": unsigned(16)})


class ChipTop(Elaboratable):
    """A :class:`~spikeforge.hdl.chip.chip.Chip` and its host link on the board's UART.

    Parameters
    ----------
    params : ChipParams
    baud : int
        UART bit rate; checked against the board clock at elaboration.
    """

    def __init__(self, params, *, baud=115200):
        if not isinstance(params, ChipParams):
            raise TypeError(f"params must be a ChipParams, not {params!r}")
        self._params = params
        self._baud = check_baud(baud)
        self._chip = Chip(params)

    @property
    def params(self):
        return self._params

    @property
    def block(self):
        """The :class:`~spikeforge.hdl.chip.chip.Chip` inside."""
        return self._chip

    def _info(self):
        p = self._params
        return bytes([CHIP_INFO_MAGIC, PROTOCOL_VERSION, p.width, p.height, len(p.cores)]) + \
            p.inputs.to_bytes(2, "little") + p.output_count.to_bytes(2, "little")

    def elaborate(self, platform):
        m = Module()
        m.submodules.chip = chip = self._chip
        m.submodules.host = host = HostBridge(
            commands={"input": chip.inputs.payload.shape(), "step": unsigned(0), "cfg": chip.cfg_layout},
            replies={"output": chip.outputs.payload.shape(), "cfg_data": chip.cfg_rsp_layout, "done": unsigned(0)},
            status=_STATUS, info=self._info(), timeout=int(platform.default_clk_frequency // 10))
        uart_rx = add_uart_link(m, platform, host, baud=self._baud)
        wiring.connect(m, host.input, chip.inputs)
        wiring.connect(m, host.cfg, chip.cfg)
        wiring.connect(m, chip.outputs, host.output)
        wiring.connect(m, chip.cfg_rsp, host.cfg_data)
        m.d.comb += [
            chip.step.valid.eq(host.step.valid), host.step.ready.eq(chip.step.ready),
            host.status.timestep.eq(chip.timestep), host.status.unmapped.eq(chip.unmapped),
            host.status.bad_config.eq(chip.bad_config), host.status.bad_frames.eq(host.bad_frames),
            host.status.link_errors.eq(uart_rx.errors),
        ]
        # `done` is a pulse; hold it until its frame is sent. The chip takes no step until then.
        hold_pulse(m, chip.done, host.done)
        return m
