"""The float NIR reference (sim/nir/reference.py) on small networks worked out by hand, and its .npz reader."""

import re

import numpy as np
import pytest

from spikeforge.sim.nir.network import INPUT, Network, Population, Projection
from spikeforge.sim.files import read_spikes
from spikeforge.sim.nir.reference import run


def population(name, model="lif", beta=1.0, alpha=0.0, threshold=1.0, v_reset=0.0, leak=0.0, bias=0.0, size=1):
    full = lambda value: np.full(size, value, dtype=float)     # noqa: E731
    return Population(name, model, full(beta), full(alpha), full(threshold), full(v_reset), full(leak), full(bias))


def network(populations, projections, outputs, inputs=1):
    return Network(inputs=inputs, populations=tuple(populations),
                   projections=tuple(Projection(s, t, np.array(w, dtype=float), r) for s, t, w, r in projections),
                   outputs=tuple(outputs), dt=1e-4, integrator="euler")


def test_lif_decays_spikes_strictly_above_threshold_and_resets_in_the_step():
    net = network([population("a", beta=0.5)], [(INPUT, "a", [[0.6]], False)], ["a"])
    out = run(net, [[1], [1], [1], [0], [1]], record=True)
    # v: 0.6, 0.5 * 0.6 + 0.6 = 0.9, 0.45 + 0.6 = 1.05 > 1 -> spike, 0; 0; 0.6
    np.testing.assert_allclose(out.v["a"][:, 0], [0.6, 0.9, 0.0, 0.0, 0.6])
    np.testing.assert_array_equal(out.spikes[:, 0], [0, 0, 1, 0, 0])
    assert out.spikes.dtype == np.uint8 and out.spikes.shape == (5, 1)


def test_equal_to_the_threshold_is_no_spike():
    net = network([population("a", model="if")], [(INPUT, "a", [[0.5]], False)], ["a"])
    out = run(net, [[1], [1], [1]], record=True)
    np.testing.assert_allclose(out.v["a"][:, 0], [0.5, 1.0, 0.0])       # 1.0 stays; 1.5 spikes
    np.testing.assert_array_equal(out.spikes[:, 0], [0, 0, 1])


def test_cuba_current_decays_drives_v_with_the_new_value_and_is_not_reset():
    net = network([population("a", model="cuba", alpha=0.5, beta=0.5, threshold=0.9)],
                  [(INPUT, "a", [[1.0]], False)], ["a"])
    out = run(net, [[1], [0], [0]], record=True)
    np.testing.assert_allclose(out.i["a"][:, 0], [1.0, 0.5, 0.25])
    # v: 1 > 0.9 spikes -> 0; 0 + 0.5; 0.25 + 0.25
    np.testing.assert_allclose(out.v["a"][:, 0], [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(out.spikes[:, 0], [1, 0, 0])


def test_bias_leak_and_reset_voltage():
    net = network([population("a", model="if", bias=0.3, v_reset=-0.5),
                   population("b", beta=0.5, leak=0.25, threshold=10.0)],
                  [(INPUT, "a", [[0.0]], False), (INPUT, "b", [[0.0]], False)], ["a", "b"])
    out = run(net, np.zeros((5, 1)), record=True)
    np.testing.assert_allclose(out.v["a"][:, 0], [0.3, 0.6, 0.9, -0.5, -0.2])    # 1.2 spikes, back to -0.5
    np.testing.assert_allclose(out.v["b"][:, 0], [0.25, 0.375, 0.4375, 0.46875, 0.484375])
    np.testing.assert_array_equal(out.spikes, [[0, 0], [0, 0], [0, 0], [1, 0], [0, 0]])


def test_no_delay_between_layers_and_one_step_on_a_recurrent_projection():
    """in -> a -> b feed-forward, b -> a recurrent: a spike crosses a and b in the step it enters; b's spike
    reaches a one step later."""
    net = network([population("a", beta=0.5), population("b", beta=0.5)],
                  [(INPUT, "a", [[2.0]], False), ("b", "a", [[0.8]], True), ("a", "b", [[2.0]], False)],
                  ["b", "a"])
    out = run(net, [[1], [0], [0]], record=True)
    np.testing.assert_array_equal(out.populations["a"][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(out.populations["b"][:, 0], [1, 0, 0])
    np.testing.assert_allclose(out.v["a"][:, 0], [0.0, 0.8, 0.4])
    np.testing.assert_array_equal(out.spikes, [[1, 1], [0, 0], [0, 0]])        # outputs in order: b, a


def test_weights_sum_the_spiking_sources():
    net = network([population("a", model="if", threshold=100.0, size=2)],
                  [(INPUT, "a", [[1.0, 2.0, 4.0], [-1.0, 0.5, 0.0]], False)], ["a"], inputs=3)
    out = run(net, [[1, 0, 1], [0, 1, 0]], record=True)
    np.testing.assert_allclose(out.v["a"], [[5.0, -1.0], [7.0, -0.5]])


def test_the_samples_of_a_batch_are_independent():
    net = network([population("a", beta=0.9, threshold=1.5, size=2)],
                  [(INPUT, "a", [[1.0, 0.5], [0.25, 1.0]], False), ("a", "a", [[0.0, -1.0], [0.5, 0.0]], True)],
                  ["a"], inputs=2)
    spikes = np.random.default_rng(3).integers(0, 2, size=(4, 20, 2))
    batch = run(net, spikes, record=True)
    assert batch.spikes.shape == (4, 20, 2) and batch.v["a"].shape == (4, 20, 2)
    for sample in range(4):
        alone = run(net, spikes[sample], record=True)
        np.testing.assert_array_equal(batch.spikes[sample], alone.spikes)
        np.testing.assert_array_equal(batch.v["a"][sample], alone.v["a"])
    assert batch.spikes.any()
    assert run(net, spikes).v == {}


def test_bad_input_spikes():
    net = network([population("a")], [(INPUT, "a", [[1.0]], False)], ["a"])
    with pytest.raises(ValueError, match=r"^the input spikes must be \(batch, steps, 1\) or \(steps, 1\), "
                                         r"not \(3, 2\)$"):
        run(net, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^the input spikes must be 0 or 1$"):
        run(net, [[2]])


def test_read_spikes(tmp_path):
    path = tmp_path / "in.npz"
    spikes = np.random.default_rng(0).integers(0, 2, size=(2, 5, 3))
    np.savez(path, spikes=spikes)
    np.testing.assert_array_equal(read_spikes(path, 3), spikes)
    assert read_spikes(path, 3).dtype == np.uint8
    np.savez(path, spikes=spikes[0].astype(bool))
    assert read_spikes(path, 3).shape == (5, 3)


@pytest.mark.parametrize("arrays, message", [
    ({"other": np.zeros((5, 3))}, "no array 'spikes' (it has other)"),
    ({"spikes": np.zeros((5, 4))}, "'spikes' must be (batch, steps, 3) or (steps, 3) with at least one step, "
                                   "not (5, 4)"),
    ({"spikes": np.zeros(3)}, "'spikes' must be (batch, steps, 3) or (steps, 3) with at least one step, not (3,)"),
    ({"spikes": np.zeros((0, 3))}, "'spikes' must be (batch, steps, 3) or (steps, 3) with at least one step, "
                                   "not (0, 3)"),
    ({"spikes": np.full((2, 3), 0.5)}, "'spikes' must hold only 0 and 1"),
    ({"spikes": np.full((2, 3), "1")}, "'spikes' must hold only 0 and 1"),
])
def test_read_spikes_refuses(tmp_path, arrays, message):
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: {message}") + "$"):
        read_spikes(path, 3)


def test_read_spikes_of_a_file_that_is_not_an_archive(tmp_path):
    path = tmp_path / "in.npz"
    path.write_text("spikes\n")
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: not an .npz archive of input spikes") + "$"):
        read_spikes(path, 3)
