"""The backtest report a trader reads: one HTML file, nothing fetched from elsewhere (the
dashboard's charts, SVG drawn by webapp/charts.py): the figures, the equity curve and its
drawdown, P&L per month, each instrument's price with its entries and exits marked, every
trade, and the sweep's ranking or walk-forward table when there was one."""
from __future__ import annotations

import json
from datetime import datetime
from html import escape

from pinewire import backtest_figures as bf
from schemas.market_time import IST
from schemas.money import paise_to_rupees, signed_rupees
from webapp import charts

MAX_CHARTS = 12            # instruments' price charts
MAX_TRADE_CHARTS = 500     # trades' own charts
STYLE = """
body{font:14px system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2733}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;text-align:right;
border-bottom:1px solid #e3e7ec}th{background:#f3f5f8}td.l,th.l{text-align:left}
svg.chart{background:#fbfcfd;border:1px solid #e3e7ec}.note{color:#5b6b7c;font-size:12px}
"""


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, IST).strftime("%Y-%m-%d %H:%M")


def drawdown_chart(curve: list[tuple[int, int]]) -> str:
    return charts.line("drawdown", "Drawdown: how far below its highest the P&L stood, after "
                       "each close", [(_when(at), below, signed_rupees(below))
                                      for at, below in bf.drawdowns(curve)])


def months_chart(trades: list[dict]) -> str:
    return charts.bars("months", "Realized P&L per month",
                       [(month, pnl, signed_rupees(pnl)) for month, _, pnl in bf.by_month(trades)])


def price_chart(token: str, symbol: str, prices: list[tuple[int, int]],
                trades: list[dict]) -> str:
    """The instrument's price, each trade's entry and exit marked on it."""
    mine = [t for t in trades if t["token"] == token]
    marks = [("entry", t["opened_at_ms"], t["entry_paise"], _when(t["opened_at_ms"]),
              paise_to_rupees(t["entry_paise"])) for t in mine] + \
            [("exit", t["closed_at_ms"], t["exit_paise"], _when(t["closed_at_ms"]),
              paise_to_rupees(t["exit_paise"])) for t in mine if t["exit_paise"]]
    series = {"price": [(at, price, _when(at), paise_to_rupees(price)) for at, price in prices]}
    return charts.over_time(f"price-{token}", f"{symbol}: price, entries and exits", series,
                            marks, dots=False)


def _figures_table(found: dict) -> str:
    def money(key):
        return signed_rupees(found[key])
    rows = [("Trades", found["trade_count"]), ("Closed", found["closed"]),
            ("Win rate", "—" if found["win_rate_pct"] is None else f"{found['win_rate_pct']} %"),
            ("Net P&L", money("pnl_paise")), ("Gross profit", money("gross_profit_paise")),
            ("Gross loss", signed_rupees(-found["gross_loss_paise"])),
            ("Profit factor", found["profit_factor"] if found["profit_factor"] is not None
             else "— (no losing trade)"),
            ("Max drawdown", paise_to_rupees(found["max_drawdown_paise"])),
            ("Sharpe (daily, ×√252)", "—" if found["sharpe"] is None else found["sharpe"]),
            ("Exposure", f"{found['exposure_pct']} %")]
    return '<table id="figures">' + "".join(
        f'<tr><th class="l">{k}</th><td>{escape(str(v))}</td></tr>' for k, v in rows) + \
        "</table>"


def _each_trade(trades: list[dict]) -> str:
    """Each trade's chart, as a position's page draws it (its stop, target and best price as
    they moved, its fills marked), folded under a line that names it."""
    drawn = [(k, t) for k, t in enumerate(trades, 1) if t.get("path")][:MAX_TRADE_CHARTS]
    if not drawn:
        return ("<p class='note'>Each trade's chart is drawn by the in-process backtest "
                "(not --through-pipeline).</p>")
    more = len(trades) - len(drawn)
    return "".join(
        f"<details id='trade-{k}'><summary>#{k} {escape(t['symbol'])} {t['side']} "
        f"{t['quantity']} at {paise_to_rupees(t['entry_paise'])}, {_when(t['opened_at_ms'])}"
        f" → {escape(t['exit_reason'] or 'open')}"
        f"{' ' + signed_rupees(t['pnl_paise']) if t['pnl_paise'] is not None else ''}"
        f"</summary>{charts.position(t, t['path'], _when, f'trade-chart-{k}')}</details>"
        for k, t in drawn) + (f"<p class='note'>{more} later trades not drawn.</p>"
                              if more > 0 else "")


def _trades_table(trades: list[dict]) -> str:
    head = ("<tr><th class='l'>Symbol</th><th class='l'>Side</th><th>Qty</th><th>Entry</th>"
            "<th class='l'>Opened</th><th>Exit</th><th class='l'>Reason</th>"
            "<th class='l'>Closed</th><th>P&amp;L</th></tr>")
    rows = "".join(
        f"<tr><td class='l'>{escape(t['symbol'])}</td><td class='l'>{t['side']}</td>"
        f"<td>{t['quantity']}</td><td>{paise_to_rupees(t['entry_paise'])}</td>"
        f"<td class='l'>{_when(t['opened_at_ms'])}</td>"
        f"<td>{paise_to_rupees(t['exit_paise']) if t['exit_paise'] else 'open'}</td>"
        f"<td class='l'>{escape(t['exit_reason'] or '')}</td>"
        f"<td class='l'>{_when(t['closed_at_ms']) if t['closed_at_ms'] else ''}</td>"
        f"<td>{signed_rupees(t['pnl_paise']) if t['pnl_paise'] is not None else '—'}</td></tr>"
        for t in trades)
    return f'<table id="trades">{head}{rows}</table>'


def _sweep_table(sweep: dict | None) -> str:
    if not sweep:
        return ""
    if sweep.get("walk_forward"):
        wf = sweep["walk_forward"]
        rows = "".join(
            f"<tr><td class='l'>{escape(json.dumps(r['params']))}</td>"
            f"<td>{signed_rupees(r['train']['pnl_paise'])}</td><td>{r['train']['sharpe']}</td>"
            f"<td>{signed_rupees(r['test']['pnl_paise'])}</td><td>{r['test']['sharpe']}</td>"
            f"<td>{paise_to_rupees(r['test']['max_drawdown_paise'])}</td></tr>"
            for r in wf["rows"])
        return (f"<h2>Walk-forward: chosen on {wf['train']}, tested on {wf['test']}</h2>"
                "<table id='walk-forward'><tr><th class='l'>Parameters</th><th>Train P&amp;L"
                "</th><th>Train Sharpe</th><th>Test P&amp;L</th><th>Test Sharpe</th>"
                f"<th>Test max drawdown</th></tr>{rows}</table>")
    rows = "".join(
        f"<tr><td>{k}</td><td class='l'>{escape(json.dumps(r['params']))}</td>"
        f"<td>{signed_rupees(r['figures']['pnl_paise'])}</td><td>{r['figures']['sharpe']}</td>"
        f"<td>{paise_to_rupees(r['figures']['max_drawdown_paise'])}</td>"
        f"<td>{r['figures']['profit_factor']}</td><td>{r['figures']['closed']}</td></tr>"
        for k, r in enumerate(sweep["rows"], 1))
    return (f"<h2>Sweep: {sweep['combinations']} combinations, ranked by {sweep['rank']}</h2>"
            "<table id='sweep'><tr><th>#</th><th class='l'>Parameters</th><th>P&amp;L</th>"
            "<th>Sharpe</th><th>Max drawdown</th><th>Profit factor</th><th>Closed</th></tr>"
            f"{rows}</table>")


def render(result: dict, prices: dict[str, list[tuple[int, int]]],
           sweep: dict | None = None) -> str:
    """result: pinewire.backtest.result's; prices: Data.prices'."""
    trades = result["trades"]
    closes = [(t["closed_at_ms"], t["symbol"], t["pnl_paise"])
              for t in bf.closed_in_order(trades)]
    title = f"{result['strategy']} {json.dumps(result['params'])} on {result['link']}"
    drawn = "".join(
        f"<h3>{escape(result['symbols'].get(token, token))}</h3>"
        f"{price_chart(token, result['symbols'].get(token, token), series, trades)}"
        for token, series in sorted(prices.items())[:MAX_CHARTS] if series)
    more = f"<p class='note'>{len(prices) - MAX_CHARTS} more instruments not drawn.</p>" \
        if len(prices) > MAX_CHARTS else ""
    intrabar = f"<p class='note'>{escape(result['intrabar'])}</p>" if result.get("intrabar") \
        else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Backtest: "
            f"{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>Backtest: {escape(title)}</h1><p>{result['ticks']:,} ticks, "
            f"{result['instruments']} instrument(s), paper fills.</p>{intrabar}"
            f"{_figures_table(result)}<p class='note'>{escape(bf.CONVENTIONS)}</p>"
            f"<h2>Equity</h2>{charts.equity(closes, _when)}"
            f"<h2>Drawdown</h2>{drawdown_chart(bf.equity(trades))}"
            f"<h2>P&amp;L per month</h2>{months_chart(trades)}"
            f"<h2>Trades on the price</h2>{drawn}{more}{_sweep_table(sweep)}"
            f"<h2>Each trade</h2>{_each_trade(trades)}"
            f"<h2>Trades</h2>{_trades_table(trades)}</body></html>")

