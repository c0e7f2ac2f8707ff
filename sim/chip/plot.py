"""The pictures of a chip run a user looks at first: every core's spike raster and the packets on every link."""

from __future__ import annotations

from spikeforge.hdl.aer.params import PORT_NAMES


__all__ = ["plot_run"]


def plot_run(path, params, rasters, traffic):
    """Write a PNG to ``path``: one raster per core (``rasters``: core name -> list of (step, neuron)), then a bar
    chart of ``traffic`` (``(node, port)`` -> packets)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cores = params.cores
    fig, axes = plt.subplots(len(cores) + 1, 1, figsize=(8, 2.2 * (len(cores) + 1)), squeeze=False)
    last = max([t for points in rasters.values() for t, _ in points] + [0])
    for ax, core in zip(axes[:, 0], cores):
        points = rasters.get(core.name, [])
        ax.scatter([t for t, _ in points], [n for _, n in points], s=30, marker="|", color="black", linewidths=1)
        ax.set_xlim(-0.5, last + 0.5)
        ax.set_ylim(-0.5, core.params.neurons - 0.5)
        ax.set_ylabel("neuron")
        ax.set_title(f"core {core.name} (node {core.node}, phase {core.phase}): {len(points)} spikes", fontsize=9)
    axes[-2, 0].set_xlabel("timestep")
    ax = axes[-1, 0]
    links = sorted(traffic)
    ax.bar(range(len(links)), [traffic[link] for link in links], color="tab:blue")
    ax.set_xticks(range(len(links)), [f"{node}:{PORT_NAMES[port]}" for node, port in links], rotation=60,
                  fontsize=7)
    ax.set_ylabel("packets")
    ax.set_title("packets per router output (node:port; local = delivered at the node)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
