"""Which positions a worker restores from the ledger: those of its active partitions that its
table lacks, or holds at an older version than the ledger (a handover lost the last writes)."""
from agents import ledger_check
from agents import positions as P
from tests.unit.test_positions import fill, new


def test_a_lost_or_older_position_is_restored_and_nothing_else():
    opened = fill(new(), "E", 10, 100000)                       # version 2
    table = {"same": opened, "older": P.replace(opened, version=2),
             "newer": P.replace(opened, version=9), "elsewhere": None}
    rows = [("same", "T1", 2), ("older", "T1", 4), ("newer", "T1", 5), ("lost", "T1", 2),
            ("elsewhere", "T2", 3)]
    partitions = {"T1": 1, "T2": 2}
    assert ledger_check.behind(rows, table.get, partitions.get, actives={1}) == \
        ["older", "lost"]
    assert ledger_check.behind(rows, table.get, partitions.get, actives={1, 2}) == \
        ["older", "lost", "elsewhere"]
