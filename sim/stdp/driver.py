"""cocotb-side driver of a LIF core with its STDP learning engine (``LifCore(params, stdp=...)``).

It extends :class:`~spikeforge.sim.lif_core.driver.LifDriver` with what the learning engine adds: reward
commands (the ``reward`` stream, when the engine is reward-modulated), the global and per-neuron learning
switches, and reads of everything learning changes (weights, traces, eligibilities) through the configuration
port. Like its base it knows the core only through the build manifest.
"""

from __future__ import annotations


import numpy as np

from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.lif_core.cycles import patience
from spikeforge.sim.lif_core.driver import LifDriver
from spikeforge.sim.stdp.rest import rest_writes


__all__ = ["StdpDriver"]


class StdpDriver(LifDriver):
    """Drives a learning LIF core. Parameters as for :class:`LifDriver`, plus:

    Parameters
    ----------
    reward_idle : float
        Probability of an idle cycle before each reward command.

    Attributes
    ----------
    stdp : dict
        The engine's parameters as built (the manifest's ``stdp`` table).
    learning : StdpParams
        The same, as parameters.
    groups : int
        Neuron groups, ``neurons // lanes``.
    reward : StreamSource or None
        The reward command stream; None when the engine takes no rewards.
    """

    def __init__(self, dut, manifest, *, seed, reward_idle=0.3, **options):
        super().__init__(dut, manifest, seed=seed, **options)
        self.stdp = manifest.parameters.get("stdp")
        if self.stdp is None:
            raise ValueError(f"Block '{manifest.toplevel}' was built without an STDP engine")
        self.groups = self.neurons // self.lanes
        # A tick also runs the learning passes; a reward visits every weight word.
        self.learning = StdpParams.create(self.params, **self.stdp)
        self.patience = patience(self.params, self.learning)
        for source in (self.events, self.tick, self.cfg):
            source.patience = self.patience
        self.reward = None
        if "reward" in manifest.ports:
            self.ports.patience = self.patience
            self.reward = self.ports.source("reward", reward_idle)

    async def start(self):
        """Start as :meth:`LifDriver.start`, then give the learning state a fresh model's values
        (:func:`~spikeforge.sim.stdp.rest.rest_writes`): reset clears the engine's registers but not its
        memories."""
        await super().start()
        await self.configure({"op": "WRITE", **write} for write in rest_writes(self.params, self.learning))

    # --- learning commands ---------------------------------------------------------------------------

    async def send_rewards(self, values):
        """Send reward commands, in order; return once the last one was accepted."""
        if self.reward is None:
            raise ValueError("This core's learning engine takes no rewards (built with reward = false)")
        await self.reward.send(int(value) for value in values)

    async def set_learning(self, on):
        """Switch learning on or off for the whole core."""
        await self.configure([self.command("WRITE", "LEARNING", data=int(bool(on)))])

    async def set_plastic(self, neurons, on):
        """Switch learning on or off for each neuron of ``neurons``."""
        await self.configure(self.command("WRITE", "PLASTIC", neuron=int(n), data=int(bool(on))) for n in neurons)

    # --- what learning changes -----------------------------------------------------------------------

    async def read_learning(self):
        """The global learning switch."""
        return bool((await self.configure([self.command("READ", "LEARNING")]))[0])

    async def read_x(self):
        """The presynaptic traces, one per axon."""
        values = await self.configure(self.command("READ", "X_TRACE", axon=a) for a in range(self.axons))
        return np.array(values, dtype=np.int64)

    async def read_y(self):
        """The postsynaptic traces, one per neuron."""
        values = await self.configure(self.command("READ", "Y_TRACE", neuron=n) for n in range(self.neurons))
        return np.array(values, dtype=np.int64)

    async def read_plastic(self):
        """The per-neuron learning switches, as bools."""
        values = await self.configure(self.command("READ", "PLASTIC", neuron=n) for n in range(self.neurons))
        return np.array(values, dtype=bool)

    async def read_eligibility(self):
        """The eligibility traces, shape (axons, neurons) (reward-modulated engines only)."""
        values = await self.configure(self.command("READ", "ELIGIBILITY", axon=a, neuron=n)
                                      for a in range(self.axons) for n in range(self.neurons))
        return np.array(values, dtype=np.int64).reshape(self.axons, self.neurons)

    async def read_learned(self):
        """``{"weights", "x", "y"[, "eligibility"]}``: everything learning changes, as the model names it."""
        learned = {"weights": await self.read_weights(), "x": await self.read_x(), "y": await self.read_y()}
        if self.stdp["reward"]:
            learned["eligibility"] = await self.read_eligibility()
        return learned
