"""A link's percentages are stored and shown as a person writes them (a 10 % target was
"1E+1 %" on the link page and in the API), and the migration rewrites the old ones."""
import importlib.util
from pathlib import Path

import pytest

from webapp import links


@pytest.mark.parametrize("given,stored", [("10", "10"), ("1.50", "1.5"), ("0.25", "0.25"),
                                          ("20.0", "20"), ("0.00001", "0.00001")])
def test_percentages_are_plain(given, stored):
    assert links.convert("target_pct", given) == stored


def test_a_paper_fill_fraction_is_plain():
    assert links.convert("paper_fill", "partial:0.50") == "partial:0.5"


def test_the_migration_reads_old_values_back_plain():
    path = Path(__file__).resolve().parents[2] / \
        "schemas/migrations/versions/0019_plain_percentages.py"
    spec = importlib.util.spec_from_file_location("m0019", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [module._plain(v) for v in ("1E+1", "2E+1", "1.5", "partial:5E-1", None, "x")] == \
        ["10", "20", "1.5", "partial:0.5", None, "x"]
