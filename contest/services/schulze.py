"""Counting judges' rankings by the Schulze method (pref_voting's Beat Path), explained.

Plain values in and out, no database: `count` takes the candidates (entry ids) and the
judges' ballots, and returns the pairwise preferences d[a][b], the strongest paths p[a][b]
and the Schulze order, so the admin's results page can show why the order is what it is.

The variant is Schulze's own "winning votes": a link a → b exists when more judges prefer a
to b than b to a (d[a][b] > d[b][a]), and its strength is d[a][b]; a path is as strong as its
weakest link, and a beats b when p[a][b] > p[b][a]. That relation is transitive (Schulze
2011, §4.1), so sorting by how many entries each one beats gives its order; entries that beat
equally many are tied by Schulze and `schulze_order` breaks the tie.

Ballots allow ties: a ballot is a list of entry ids, best first; entries a judge left out
(the rest below `Round.rank_top`) tie with each other below every listed one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SchulzeCount:
    """The count of one set of candidates: d and p by candidate id, and each one's wins.

    `wins[a]` is how many candidates a beats by strongest paths (p[a][b] > p[b][a]);
    `order` is the candidates best first, ties broken by `schulze_order`'s rule.
    """

    candidates: list[int]
    ballots: int
    d: dict[int, dict[int, int]]
    p: dict[int, dict[int, int]]
    wins: dict[int, int]
    order: list[int]

    def tied_with_next(self, entry_id: int) -> bool:
        """Whether Schulze alone does not separate this entry from the one after it."""
        i = self.order.index(entry_id)
        return i + 1 < len(self.order) and self.wins[entry_id] == self.wins[self.order[i + 1]]


def count(
    candidates: Sequence[int],
    ballots: Sequence[Sequence[int]],
    tie_break: Callable[[int], tuple] = lambda entry_id: (),
) -> SchulzeCount:
    """Count the ballots over the candidates with pref_voting's Beat Path (Schulze).

    Ids in a ballot that are not candidates are ignored (an entry rejected since); a ballot
    left with nothing ranked says nothing and is not counted. `tie_break` is the secondary
    key `schulze_order` uses for entries Schulze ties.
    """
    candidates = sorted(set(candidates))
    known = set(candidates)
    rankings = []
    for ballot in ballots:
        listed = [entry_id for entry_id in dict.fromkeys(ballot) if entry_id in known]
        if not listed:
            continue
        below = len(listed) + 1  # everyone left out ties at the rank after the last listed
        rankings.append({c: below for c in candidates} | {c: i for i, c in enumerate(listed, 1)})
    d, p, wins = _matrices(tuple(candidates), tuple(tuple(sorted(r.items())) for r in rankings))
    order = schulze_order(candidates, wins, tie_break)
    return SchulzeCount(candidates, len(rankings), d, p, wins, order)


@functools.lru_cache(maxsize=16)
def _matrices(candidates: tuple[int, ...], rankings: tuple[tuple[tuple[int, int], ...], ...]):
    """d, p and the wins of one count: a pure function of the rankings, so kept for the next
    request (the leaderboard, the close preview and the Schulze page ask for the same count,
    which takes seconds at 100 entries) until a judge's ranking or the round's entries change.
    Callers must not change the dicts it returns."""
    d = {a: dict.fromkeys(candidates, 0) for a in candidates}
    wins = dict.fromkeys(candidates, 0)
    if rankings and len(candidates) > 1:
        d, wins = _pref_voting_count(list(candidates), [dict(r) for r in rankings])
    return d, strongest_paths(candidates, d), wins


def schulze_order(
    candidates: Sequence[int], wins: dict[int, int], tie_break: Callable[[int], tuple]
) -> list[int]:
    """The Schulze order, best first: the one rule that orders a ranking round.

    1. By Schulze: more entries beaten by strongest paths first (an entry that beats another
       always beats more entries than it, the relation being transitive);
    2. entries Schulze ties are broken by `tie_break(entry_id)`, smallest first: the ranking
       round passes the previous round's weighted mean, highest first, an entry without one
       after those with one (`ranking.previous_mean_key`);
    3. then by entry id, lowest first (the earlier submission), so every place is distinct and
       the order is the same on every run.
    """
    return sorted(candidates, key=lambda c: (-wins[c], tie_break(c), c))


def strongest_paths(
    candidates: Sequence[int], d: dict[int, dict[int, int]]
) -> dict[int, dict[int, int]]:
    """p[a][b]: the strength of the strongest path from a to b (0 when there is none).

    The Floyd–Warshall variant of Schulze's paper over the winning-votes links of `d`, one
    vectorised step per intermediate candidate; shown to admins beside d. (The order itself
    comes from pref_voting; the tests check the two agree with an every-path count.)
    """
    import numpy as np  # there with pref_voting; only a ranking round's count needs it

    ids = list(candidates)
    pairwise = np.array([[d[a][b] for b in ids] for a in ids], dtype=np.int64).reshape(
        len(ids), len(ids)
    )
    p = np.where(pairwise > pairwise.T, pairwise, 0)
    np.fill_diagonal(p, 0)
    for i in range(len(ids)):
        p = np.maximum(p, np.minimum(p[:, i : i + 1], p[i : i + 1, :]))
    np.fill_diagonal(p, 0)
    return {a: {b: int(p[x, y]) for y, b in enumerate(ids)} for x, a in enumerate(ids)}


def _pref_voting_count(
    candidates: list[int], rankings: list[dict[int, int]]
) -> tuple[dict[int, dict[int, int]], dict[int, int]]:
    """d[a][b] from pref_voting's profile, and the wins of its Beat Path defeat relation."""
    # Imported here: pref_voting pulls in numpy, scipy and networkx, which only a ranking
    # round's count needs; every other request of the app starts without them.
    from pref_voting.margin_based_methods import beat_path_defeat
    from pref_voting.profiles_with_ties import ProfileWithTies

    profile = ProfileWithTies(rankings, candidates=candidates)
    d = {
        a: {b: 0 if a == b else int(profile.support(a, b)) for b in candidates} for a in candidates
    }
    defeats = beat_path_defeat(profile, strength_function=lambda a, b: d[a][b])
    wins = {c: defeats.out_degree(c) for c in candidates}
    return d, wins
