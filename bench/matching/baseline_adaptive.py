"""The research note's faster plain-DuckDB variant (§2.5 "adaptive blocking, all in DuckDB").

Rows whose ±1 cent amounts fall on a hot amount (one of the few values that make most candidate
pairs) are only paired with right rows that share a rare reference token (document frequency at most
2 %), inside the same amount/date window; all other rows use exhaustive key expansion. Scoring and
assignment are those of ``baselines.duckdb_fuzzy``. It trades blocking recall for speed, so its
blocking recall is measured from its real candidate pairs (``adaptive_candidates``).
"""

from __future__ import annotations

import time

import duckdb
import polars as pl
from baselines import (
    AMOUNT_TOLERANCE_CENTS,
    DATE_WINDOW_DAYS,
    JARO_WINKLER_FLOOR,
    MUTUAL_BEST_ROUNDS,
    _connect,
    _expanded_probe_sql,
    _mutual_best,
    _prepared_sides,
)
from system_run import SystemRun

HOT_AMOUNT_SHARE = 0.001  # an amount carried by more than 0.1 % of right rows is hot
RARE_TOKEN_SHARE = 0.02


def _candidate_tables(con: duckdb.DuckDBPyConnection) -> None:
    tol = AMOUNT_TOLERANCE_CENTS
    con.execute(f"""
        CREATE TEMP TABLE hot AS
        SELECT cents FROM right_p GROUP BY cents
        HAVING count(*) > {HOT_AMOUNT_SHARE} * (SELECT count(*) FROM right_p);
        -- amounts whose window reaches a hot amount, seen from the left (±tol) and the right (±2·tol)
        CREATE TEMP TABLE near_hot_left AS
        SELECT DISTINCT cents + k AS cents FROM hot, range(-{tol}, {tol + 1}) s(k);
        CREATE TEMP TABLE near_hot_right AS
        SELECT DISTINCT cents + k AS cents FROM hot, range(-{2 * tol}, {2 * tol + 1}) s(k);
        CREATE TEMP TABLE hot_left AS SELECT * FROM left_p WHERE cents IN (SELECT cents FROM near_hot_left);
        CREATE TEMP TABLE cold_left AS SELECT * FROM left_p WHERE cents NOT IN (SELECT cents FROM near_hot_left);
        CREATE TEMP TABLE left_tokens AS
        SELECT lrow, unnest(string_split_regex(ref, '[^a-z0-9]+')) AS tok FROM hot_left;
        CREATE TEMP TABLE right_tokens AS
        SELECT rrow, unnest(string_split_regex(ref, '[^a-z0-9]+')) AS tok
        FROM right_p WHERE cents IN (SELECT cents FROM near_hot_right);
        CREATE TEMP TABLE rare AS
        SELECT tok FROM (SELECT tok FROM left_tokens UNION ALL SELECT tok FROM right_tokens)
        WHERE tok <> '' GROUP BY tok
        HAVING count(*) <= {RARE_TOKEN_SHARE} * ((SELECT count(*) FROM left_p) + (SELECT count(*) FROM right_p));
        CREATE TEMP TABLE candidates AS
        SELECT l.lrow, r.rrow, l.ref AS lref, r.ref AS rref,
               abs(l.cents - r.cents) AS dc, abs(l.d - r.d) AS dd
        FROM (SELECT DISTINCT lt.lrow, rt.rrow
              FROM left_tokens lt JOIN right_tokens rt ON lt.tok = rt.tok
              WHERE lt.tok IN (SELECT tok FROM rare)) p
        JOIN hot_left l ON l.lrow = p.lrow JOIN right_p r ON r.rrow = p.rrow
        WHERE l.currency = r.currency AND abs(l.cents - r.cents) <= {tol}
          AND abs(l.d - r.d) <= {DATE_WINDOW_DAYS}
        UNION ALL
        SELECT lrow, rrow, lref, rref, dc, dd
        FROM ({_expanded_probe_sql(DATE_WINDOW_DAYS, party_key=False, left_table="cold_left")});
    """)


def duckdb_fuzzy_adaptive(left: pl.DataFrame, right: pl.DataFrame) -> SystemRun:
    started = time.perf_counter()
    con = _connect(left, right)
    _prepared_sides(con, lower_reference=True)
    _candidate_tables(con)
    blocked = time.perf_counter()
    candidates = int(con.execute("SELECT count(*) FROM candidates").fetchall()[0][0])
    con.execute(f"""
        CREATE TEMP TABLE scored AS
        SELECT lrow, rrow, jaro_winkler_similarity(lref, rref) - 0.02 * dd - 0.05 * dc AS score
        FROM candidates WHERE jaro_winkler_similarity(lref, rref) >= {JARO_WINKLER_FLOOR}
    """)
    scored = time.perf_counter()
    pairs = _mutual_best(con, "scored", MUTUAL_BEST_ROUNDS)
    finished = time.perf_counter()
    return SystemRun(pairs, candidates, {"block": blocked - started, "score": scored - blocked,
                                         "assign": finished - scored})


def adaptive_candidates(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """The pairs ``duckdb_fuzzy_adaptive`` scores, by record id (for its blocking recall)."""
    con = _connect(left, right)
    _prepared_sides(con, lower_reference=True)
    _candidate_tables(con)
    pairs: pl.DataFrame = con.sql("""
        SELECT l.record_id AS left_id, r.record_id AS right_id
        FROM candidates c JOIN left_p l ON l.lrow = c.lrow JOIN right_p r ON r.rrow = c.rrow
    """).pl()
    return pairs
