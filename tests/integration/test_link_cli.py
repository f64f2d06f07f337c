"""The link settings from the terminal: add with every flag, show, set (same token, new version),
list without 'None%', one validation with clear messages; account limits; pnl; replay header;
a link added before the pipeline ever ran. On one Kafka broker: the CLI's rules are what is
tested (the pipeline under them runs on both elsewhere)."""
import asyncio
import subprocess

import pytest

from connectors import kafka
from schemas import topics as registry
from schemas.settings import webhook_token_key
from tests.integration.harness import Pipeline
from webapp import links

pytestmark = pytest.mark.one_kafka_broker


def run(pipeline, *args, ok=True):
    out = subprocess.run(pipeline.cli(*args), env=pipeline.env, capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode == 0) is ok, out.stdout + out.stderr
    return out


def test_link_add_with_every_setting_then_show_set_and_list(pipeline):
    run(pipeline, "link", "add", "--name", "rules", "--strategy", "st", "--qty", "5",
        "--sl", "1.5", "--target", "3", "--trail", "0.5", "--trail-activation", "0",
        "--side", "long", "--reverse", "--reverse-on-sl", "--max-entries", "3",
        "--risk-pct", "1", "--capital", "200000", "--max-open", "4", "--daily-loss", "2500",
        "--product", "intraday", "--paper-fill", "partial:0.5", "--tick-band", "2",
        "--eod", "close-all", "--fee-paise", "2000", "--costs", "zerodha")
    row = links.link_by_name(pipeline.engine, "rules")
    assert (row["trail_activation_pct"], row["side"], row["reverse"], row["reverse_on_sl"],
            row["max_entries"], row["risk_pct"], row["capital_paise"], row["max_open"],
            row["daily_loss_paise"], row["product"], row["paper_fill"], row["tick_band_pct"],
            row["eod"], row["fee_paise"], row["costs"]) == \
        ("0", "long", True, True, 3, "1", 20_000_000, 4, 250_000, "intraday", "partial:0.5",
         "2", "close-all", 2000, "zerodha")
    shown = run(pipeline, "link", "show", "rules").stdout
    for text in ("risk 1 % of capital 200000.00", "trailing starts       0 %", "side", "long",
                 "max entries           3", "daily loss limit      2500.00", "close-all",
                 "partial:0.5", "fee per order         20.00", "charges table         zerodha",
                 "breaker ok",
                 f"/hook/{links.webhook_token(webhook_token_key(pipeline.settings), row)}"):
        assert text in shown, (text, shown)

    run(pipeline, "link", "set", "rules", "--side", "both", "--no-reverse", "--risk-pct", "off",
        "--tick-band", "off", "--disable")
    after = links.link_by_name(pipeline.engine, "rules")
    assert (after["token_hash"], after["version"], after["side"], after["reverse"],
            after["risk_pct"],
            after["tick_band_pct"], after["enabled"], after["quantity"]) == \
        (row["token_hash"], row["version"] + 1, "both", False, None, None, False, 5)
    listed = run(pipeline, "link", "list").stdout
    assert "rules" in listed and "None" not in listed and "disabled" in listed


def test_a_new_link_opens_long_only_and_short_options_only_when_told(pipeline):
    run(pipeline, "link", "add", "--name", "plain", "--strategy", "st", "--qty", "1")
    plain = links.link_by_name(pipeline.engine, "plain")
    assert (plain["side"], plain["option_shorts"]) == ("long", False)
    run(pipeline, "link", "set", "plain", "--side", "both", "--option-shorts")
    shown = run(pipeline, "link", "show", "plain").stdout
    assert "option shorts         on" in shown and "side                  both" in shown, shown


@pytest.mark.parametrize("args,message", [
    (("--qty", "0"), "--qty must be a whole number of at least 1"),
    (("--qty", "1", "--side", "sideways"), "--side must be one of both, long, short"),
    (("--qty", "1", "--risk-pct", "1"), "--risk-pct needs --capital"),
    (("--qty", "1", "--risk-pct", "1", "--capital", "1000"), "--risk-pct needs --sl"),
    (("--qty", "1", "--paper-fill", "partial:2"), "--paper-fill must be 'full' or 'partial:F'"),
    (("--qty", "1", "--sl", "150"), "--sl must be between 0 and 100 percent"),
    (("--qty", "1", "--daily-loss", "-5"), "--daily-loss must be a positive amount of rupees"),
    (("--qty", "1", "--live"), "a live link needs a broker account"),
    (("--qty", "1", "--costs", "cheap"),
     "--costs must be one of none, angelone, zerodha, upstox, not 'cheap'"),
])
def test_invalid_settings_are_one_clear_line(pipeline, args, message):
    out = run(pipeline, "link", "add", "--name", "bad", "--strategy", "st", *args, ok=False)
    assert out.stderr.strip() == f"pinewire: error: {message}" or message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert links.link_by_name(pipeline.engine, "bad") is None


def test_account_limits_and_breaker_reset_from_the_cli(pipeline):
    from webapp import accounts
    accounts.add_account(pipeline.engine, __import__("cryptography.fernet").fernet.Fernet
                         .generate_key().decode(), name="limits", client_code="L1",
                         api_key="k", pin="1", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DP",
                         user_id=pipeline.user["id"])
    run(pipeline, "account", "set", "limits", "--max-open", "3", "--daily-loss", "5000")
    [row] = [a for a in accounts.account_rows(pipeline.engine) if a["name"] == "limits"]
    assert (row["max_open"], row["daily_loss_paise"], row["version"]) == (3, 500_000, 2)
    assert "max open 3, daily loss limit 5000.00" in run(pipeline, "account", "list").stdout
    run(pipeline, "breaker", "reset", "--account", "limits")
    [row] = [a for a in accounts.account_rows(pipeline.engine) if a["name"] == "limits"]
    assert row["breaker_reset_at_ms"] and row["version"] == 3


def test_pnl_per_position_link_and_day(pipeline):
    link = pipeline.add_link(sl_pct="1", target_pct="1", fee_paise="1500")
    pid = pipeline.alert_row(pipeline.alert(link, "BUY", "SUNPHARMA", price="1680"))[
        "position_id"]
    pipeline.position(pid, "OPEN")
    pipeline.ticks("SUNPHARMA", ["1696.80"])
    pos = pipeline.position(pid, "CLOSED")
    assert (pos["realized_pnl_paise"], pos["fees_paise"]) == (16800, 3000)
    out = run(pipeline, "pnl", "--link", link["name"]).stdout
    assert f"link {link['name']}: realized 168.00, unrealized 0.00, fees 30.00, net 138.00, " \
        "open 0; 1 trade(s) closed, 100 % won, max drawdown 0.00" in out, out


def test_replay_says_what_it_reads_and_streams_every_instrument(pipeline):
    path = pipeline.data_dir / "paise.csv"
    path.write_text("ts_ms,token,ltp_paise\n1000,2475,24100\n2000,2475,24110\n")
    out = run(pipeline, "feed", "--replay", str(path), "--speed", "0").stdout
    assert "price from 'ltp_paise' in paise" in out and "replayed 2 ticks" in out


def test_a_link_added_before_the_pipeline_ever_ran_makes_its_topics_whole(kafka_url, tmp_path):
    """`pinewire link add` on a broker where pinewire never ran: the settings topic it writes
    is made with the pipeline's partition count (with every other topic), not the broker's
    default by its first record, so the workers start on it."""
    fresh = Pipeline(tmp_path, kafka_url)
    try:
        run(fresh, "link", "add", "--name", "first", "--strategy", "st", "--qty", "1")
        s = fresh.settings
        names = [name for name, _ in kafka.all_topics(s.namespace)]
        made = asyncio.run(kafka.topic_offsets(s.bootstrap, names))
        assert {name: len(parts) for name, parts in made.items()} == \
            {name: s.partitions for name in names}
        links_topic = registry.topic_name(s.namespace, registry.LINKS)
        assert sum(made[links_topic].values()) >= 1, "the link was published"
    finally:
        fresh.stop()
