"""The Schulze count (services/schulze.py) against an independent computation.

Strongest paths are found here by trying every simple path (no Floyd–Warshall), on
Wikipedia's Schulze example, whose 45 voters form a Condorcet cycle, and on profiles with ties.
"""

from __future__ import annotations

import itertools

from contest.services import schulze

# Wikipedia, "Schulze method", the example: 45 voters, 5 candidates, winner E.
A, B, C, D, E = 1, 2, 3, 4, 5
WIKIPEDIA = [
    (5, [A, C, B, E, D]),
    (5, [A, D, E, C, B]),
    (8, [B, E, D, A, C]),
    (3, [C, A, B, E, D]),
    (7, [C, A, E, B, D]),
    (2, [C, B, A, D, E]),
    (7, [D, C, E, B, A]),
    (8, [E, B, A, D, C]),
]


def _ballots(groups) -> list[list[int]]:
    return [list(order) for n, order in groups for _ in range(n)]


def _pairwise(candidates, ballots) -> dict:
    """d[a][b] counted by hand: ballots placing a strictly above b (left-out ones tie below)."""

    def place(ballot, c):
        return ballot.index(c) if c in ballot else len(ballot)

    return {
        a: {b: sum(place(x, a) < place(x, b) for x in ballots) for b in candidates}
        for a in candidates
    }


def _strongest_by_every_path(candidates, d) -> dict:
    """p[a][b] by enumerating every simple path a → … → b over winning-votes links."""
    link = {(a, b): d[a][b] for a in candidates for b in candidates if d[a][b] > d[b][a]}
    p = {a: dict.fromkeys(candidates, 0) for a in candidates}
    for a, b in itertools.permutations(candidates, 2):
        middle = [c for c in candidates if c not in (a, b)]
        for size in range(len(middle) + 1):
            for via in itertools.permutations(middle, size):
                path = [a, *via, b]
                steps = list(itertools.pairwise(path))
                if all(step in link for step in steps):
                    p[a][b] = max(p[a][b], min(link[step] for step in steps))
    return p


def _order_by_paths(candidates, p) -> list[int]:
    """Best first by how many each beats (p[a][b] > p[b][a]), then id."""
    wins = {a: sum(p[a][b] > p[b][a] for b in candidates if b != a) for a in candidates}
    return sorted(candidates, key=lambda a: (-wins[a], a))


def test_wikipedia_example_with_a_condorcet_cycle_matches_the_independent_count():
    candidates = [A, B, C, D, E]
    ballots = _ballots(WIKIPEDIA)
    d = _pairwise(candidates, ballots)
    # A Condorcet cycle: nobody beats everyone head to head (A beats C, C beats B, B beats A).
    assert not any(all(d[a][b] > d[b][a] for b in candidates if b != a) for a in candidates)
    assert d[A][C] > d[C][A] and d[C][B] > d[B][C] and d[B][A] > d[A][B]

    counted = schulze.count(candidates, ballots)

    assert counted.d == d
    expected_p = _strongest_by_every_path(candidates, d)
    assert counted.p == expected_p
    assert counted.order == _order_by_paths(candidates, expected_p) == [E, A, C, B, D]
    # Wikipedia's published figures.
    assert (d[A][B], d[B][A], d[E][D], d[D][E]) == (20, 25, 31, 14)
    assert (expected_p[E][A], expected_p[A][E], expected_p[A][C]) == (25, 24, 28)
    assert counted.ballots == 45


def test_a_profile_with_ties_and_left_out_entries_counts_them_tied_below():
    # Three judges rank only their top two of four; 4 is nobody's pick.
    ballots = [[1, 2], [2, 1], [1, 3]]
    counted = schulze.count([1, 2, 3, 4], ballots)
    assert counted.d == _pairwise([1, 2, 3, 4], ballots)
    assert counted.d[1][2] == 2 and counted.d[2][1] == 1
    assert counted.d[3][4] == 1 and counted.d[4][3] == 0  # 4 tied below on two ballots
    assert counted.d[2][3] == 2 and counted.d[3][2] == 1  # left out on one, listed on one
    assert counted.p == _strongest_by_every_path([1, 2, 3, 4], counted.d)
    assert counted.order == [1, 2, 3, 4]


def test_ties_in_the_schulze_order_break_by_the_previous_mean_then_the_entry_id():
    # Two judges who disagree exactly: every entry ties with every other.
    ballots = [[10, 20, 30, 40], [40, 30, 20, 10]]
    means = {30: 8.0, 20: 8.0, 40: 9.5}  # 10 has no previous mean: after those with one

    def previous_mean_key(means):  # as ranking.previous_mean_key: highest first, none last
        return lambda i: (1, 0.0) if i not in means else (0, -means[i])

    counted = schulze.count([10, 20, 30, 40], ballots, previous_mean_key(means))
    assert set(counted.wins.values()) == {0}
    assert counted.order == [40, 20, 30, 10]
    assert counted.tied_with_next(40)


def test_ids_outside_the_candidates_and_empty_ballots_are_not_counted():
    counted = schulze.count([1, 2], [[99, 2, 1], [98], []])
    assert counted.ballots == 1
    assert counted.order == [2, 1]
