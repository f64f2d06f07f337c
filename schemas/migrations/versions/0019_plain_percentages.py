"""Link percentages stored as a person writes them: "10", not "1E+1" (a whole percentage was
stored in exponent form), and paper fills "partial:0.5" likewise.

Revision ID: 0019
Revises: 0018
"""
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None
PERCENTS = ("sl_pct", "target_pct", "trail_pct", "trail_activation_pct", "risk_pct",
            "tick_band_pct")


def _plain(text):
    if text is None:
        return None
    prefix = "partial:" if str(text).startswith("partial:") else ""
    try:
        number = Decimal(str(text).removeprefix(prefix))
    except InvalidOperation:
        return text
    return prefix + format(number.normalize(), "f") if number.is_finite() else text


def upgrade() -> None:
    conn = op.get_bind()
    links = sa.table("links", sa.column("id"), sa.column("paper_fill"),
                     *(sa.column(c) for c in PERCENTS))
    for row in conn.execute(sa.select(links)).mappings().all():
        fixed = {c: _plain(row[c]) for c in (*PERCENTS, "paper_fill")
                 if row[c] is not None and _plain(row[c]) != row[c]}
        if fixed:
            conn.execute(links.update().where(links.c.id == row["id"]).values(**fixed))


def downgrade() -> None:
    pass     # the plain form reads back the same
