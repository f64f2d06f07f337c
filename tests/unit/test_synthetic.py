"""The synthetic feed: on the tick grid, positive, reproducible from its seed."""
from connectors.ticks.synthetic import RandomWalk
from schemas.instruments import lookup


def test_random_walk_stays_on_the_tick_grid_and_is_seeded():
    inst = lookup("RELIANCE")
    a, b, c = (RandomWalk(inst, seed, 4.0) for seed in (1, 1, 2))
    path_a = [a.step() for _ in range(2000)]
    assert path_a == [b.step() for _ in range(2000)]
    assert path_a != [c.step() for _ in range(2000)]
    assert all(p > 0 and p % inst.tick_size_paise == 0 for p in path_a)
    # realistic: 2000 ticks at 4 bps stay within a few percent of the reference level
    assert all(abs(p - inst.reference_paise) < inst.reference_paise * 0.15 for p in path_a)
    assert len(set(path_a)) > 20
