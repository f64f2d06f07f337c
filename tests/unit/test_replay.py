"""The replay feed's file format and pacing."""
import pytest

from connectors.ticks.replay import ReplayError, delays, read


def test_reads_epoch_and_iso_times_and_optional_volume(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ts,token,ltp,volume\n1000,2885,1404.4,7\n"
                    "1970-01-01T00:00:02Z,2885,1404.45,\n# comment\n")
    ticks = list(read(path))
    assert [(t.ts_ms, t.token, t.ltp_paise, t.volume) for t in ticks] == \
        [(1000, "2885", 140440, 7), (2000, "2885", 140445, None)]


@pytest.mark.parametrize("line,message", [
    ("1000,2885", "expected ts,token,ltp"),
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
    assert [w for w, _ in delays(ticks, 1)] == [0, 1.0, 2.0]
    assert [w for w, _ in delays(ticks, 10)] == [0, 0.1, 0.2]
    assert [w for w, _ in delays(ticks, 0)] == [0, 0, 0]
