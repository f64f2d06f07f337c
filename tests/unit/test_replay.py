"""The replay feed's file format and pacing."""
import re

import pytest

from connectors.ticks.replay import ReplayError, schedule, describe, read


def test_reads_epoch_and_iso_times_and_optional_volume(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ts,token,ltp,volume\n1000,2885,1404.4,7\n"
                    "1970-01-01T00:00:02Z,2885,1404.45,\n# comment\n")
    ticks = list(read(path))
    assert [(t.ts_ms, t.token, t.ltp_paise, t.volume) for t in ticks] == \
        [(1000, "2885", 140440, 7), (2000, "2885", 140445, None)]


@pytest.mark.parametrize("line,message", [
    ("1000,2885", "index out of range"),
    ("yesterday,2885,1", "neither epoch"),
    ("1000,2885,abc", "not a number"),
])
def test_bad_lines_name_the_line(tmp_path, line, message):
    path = tmp_path / "t.csv"
    path.write_text(f"ts,token,ltp\n{line}\n")
    with pytest.raises(ReplayError, match=f"t.csv:2: .*{message}"):
        list(read(path))


def test_speed_scales_the_gaps_and_zero_sends_at_once(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("0,1,1\n1000,1,1\n3000,1,1\n")
    ticks = list(read(path))
    assert [at for at, _ in schedule(ticks, 1)] == [0, 1.0, 3.0]
    assert [at for at, _ in schedule(ticks, 10)] == [0, 0.1, 0.3]
    assert [at for at, _ in schedule(ticks, 0)] == [0, 0, 0]


@pytest.mark.parametrize("text,expected,says", [
    ("ts_ms,token,ltp_paise\n1000,2885,140440\n", (1000, "2885", 140440), "in paise"),
    ("token,ltp,ts\n2885,1404.4,1000\n", (1000, "2885", 140440), "in rupees"),
    ("1000,2885,1404.4\n", (1000, "2885", 140440), "no header"),
])
def test_header_names_the_columns_and_units(tmp_path, text, expected, says):
    path = tmp_path / "t.csv"
    path.write_text(text)
    [tick] = read(path)
    assert (tick.ts_ms, tick.token, tick.ltp_paise) == expected
    assert says in describe(path)


@pytest.mark.parametrize("header,message", [
    ("time,token,ltp", "needs a time column (ts or ts_ms)"),
    ("ts,token,price", "no ltp or ltp_paise column"),
    ("ts_ms,ltp", "no token"),
])
def test_a_header_without_what_is_needed_says_what_is_missing(tmp_path, header, message):
    path = tmp_path / "t.csv"
    path.write_text(f"{header}\n1,2,3\n")
    with pytest.raises(ReplayError, match=re.escape(message)):
        list(read(path))
