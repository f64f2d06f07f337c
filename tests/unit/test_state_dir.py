import os
import subprocess
import sys

import pytest

from agents import state_dir


def test_unnamed_workers_take_the_first_free_directory(tmp_path):
    assert state_dir.claim(tmp_path, None) == tmp_path / "unnamed-1"
    assert state_dir.claim(tmp_path, None) == tmp_path / "unnamed-2"


def test_a_second_worker_of_the_same_name_is_refused(tmp_path):
    assert state_dir.claim(tmp_path, "w1") == tmp_path / "w1"
    with pytest.raises(state_dir.StateDirTaken, match="'w1' is running"):
        state_dir.claim(tmp_path, "w1")


def test_a_directory_is_free_again_when_its_worker_has_died(tmp_path):
    claimant = subprocess.run(
        [sys.executable, "-c", "import sys; from agents import state_dir; "
         "print(state_dir.claim(__import__('pathlib').Path(sys.argv[1]), 'w1'))", str(tmp_path)],
        capture_output=True, text=True, check=True)
    assert claimant.stdout.strip() == str(tmp_path / "w1")
    assert state_dir.claim(tmp_path, "w1") == tmp_path / "w1"


def test_tables_are_kept_only_after_a_clean_stop(tmp_path):
    """A killed worker's tables may be ahead of their changelogs: the next one forgets them."""
    directory = state_dir.claim(tmp_path, "w1")
    (directory / "tables").mkdir()
    (directory / "tables" / "positions.sst").write_text("kept")
    state_dir.stopped_cleanly(directory)
    os.close(state_dir._held.pop())     # as if the process had ended: the lock is free
    assert state_dir.claim(tmp_path, "w1") == directory
    assert (directory / "tables" / "positions.sst").read_text() == "kept"

    os.close(state_dir._held.pop())     # this one is killed: no clean stop
    state_dir.claim(tmp_path, "w1")
    assert sorted(p.name for p in directory.iterdir()) == [state_dir.LOCK]
