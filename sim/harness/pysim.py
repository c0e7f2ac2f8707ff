"""What the Amaranth-simulator runs of every block share: a stream handshake and a timestep (inputs, the end of
the step, outputs until ``done``), with random idle cycles and backpressure."""

from __future__ import annotations


__all__ = ["handshake", "response", "timestep"]


async def handshake(ctx, port, payload=None, *, timeout, what):
    """Offer one beat on stream ``port`` until the design takes it; return the cycles it took.

    Raises
    ------
    TimeoutError
        Naming ``what`` when the beat is not taken within ``timeout`` cycles.
    """
    if payload is not None:
        ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    cycles = 0
    while True:
        _, _, ready = await ctx.tick().sample(port.ready)
        cycles += 1
        if ready:
            break
        if cycles > timeout:
            raise TimeoutError(f"the design did not accept a beat on '{what}' in {timeout} cycles")
    ctx.set(port.valid, 0)
    return cycles


async def response(ctx, port):
    """Take the next beat of stream ``port`` (a configuration response); return its payload."""
    ctx.set(port.ready, 1)
    payload, = await ctx.tick().sample(port.payload).until(port.valid)
    ctx.set(port.ready, 0)
    return payload


async def timestep(ctx, *, source, payloads, end, sink, done, rng, idle=0.0, stall=0.0, timeout):
    """Send ``payloads`` on stream ``source`` (an idle cycle before each with probability ``idle``), then one
    beat on ``end``; take the beats of ``sink`` (not ready with probability ``stall`` in a cycle) until ``done``
    is high. Returns (the sink's payloads in arrival order, the cycles from the first offer to ``done``).

    Raises
    ------
    TimeoutError
        When a beat or ``done`` does not come within ``timeout`` cycles.
    """
    cycles = 0
    for payload in payloads:
        while idle and rng.random() < idle:
            await ctx.tick()
            cycles += 1
        cycles += await handshake(ctx, source, payload, timeout=timeout, what="inputs")
    ctx.set(end.valid, 1)
    beats = []
    while True:
        ctx.set(sink.ready, int(rng.random() >= stall))
        _, _, end_ready, valid, ready, payload, finished = await ctx.tick().sample(
            end.ready, sink.valid, sink.ready, sink.payload, done)
        cycles += 1
        if end_ready:
            ctx.set(end.valid, 0)
        if valid and ready:
            beats.append(payload)
        if finished:
            break
        if cycles > timeout:
            raise TimeoutError(f"the step was not done after {timeout} cycles")
    ctx.set(sink.ready, 0)
    return beats, cycles
