"""The Pareto front of a sweep's objectives, and its plot."""

from __future__ import annotations


__all__ = ["feasible", "pareto_front", "plot_front", "label"]


def feasible(row, objectives, constraints):
    """Whether a row finished, has every objective and meets every constraint."""
    if row.get("status") != "ok" or any(row.get(m) is None for m in objectives):
        return False
    return all(c.violation(row) <= 0 for c in constraints)


def _better_or_equal(a, b, objectives):
    return all((a[m] <= b[m]) if d == "minimize" else (a[m] >= b[m]) for m, d in objectives.items())


def pareto_front(rows, objectives, constraints=()):
    """The feasible rows no other feasible row dominates, sorted by the first objective; one per point."""
    unique = {row["key"]: row for row in rows}
    candidates = [r for r in unique.values() if feasible(r, objectives, constraints)]
    front = []
    for row in candidates:
        dominated = any(_better_or_equal(other, row, objectives)
                        and any(other[m] != row[m] for m in objectives)
                        for other in candidates if other is not row)
        if not dominated:
            front.append(row)
    first = next(iter(objectives))
    return sorted(front, key=lambda r: r[first])


def label(row, parameters):
    """``neurons=64 lanes=4``: the swept values of a row."""
    return " ".join(f"{key.split('.', 1)[1]}={row.get(key)}" for key in parameters)


def plot_front(path, rows, front, space):
    """Scatter every feasible point on the first two objectives, the front highlighted and labelled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_metric, y_metric = list(space.objectives)[:2]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    points = [r for r in {r["key"]: r for r in rows}.values()
              if feasible(r, space.objectives, space.constraints)]
    ax.scatter([r[x_metric] for r in points], [r[y_metric] for r in points], color="0.7", label="feasible points")
    if front:
        ax.plot([r[x_metric] for r in front], [r[y_metric] for r in front], "o-", color="tab:red",
                label="Pareto front")
        for r in front:
            ax.annotate(label(r, space.parameters), (r[x_metric], r[y_metric]), textcoords="offset points",
                        xytext=(5, 5), fontsize=7)
    else:
        ax.text(0.5, 0.5, "no feasible points", transform=ax.transAxes, ha="center")
    ax.set_xlabel(f"{x_metric} ({space.objectives[x_metric]})")
    ax.set_ylabel(f"{y_metric} ({space.objectives[y_metric]})")
    ax.set_title(f"{space.path.name}: {len(points)} feasible of {len({r['key'] for r in rows})} points")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
