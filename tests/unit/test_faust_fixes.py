"""The worker's reading order on partitions whose offsets have no holes (agents.faust_fixes)."""
from agents.faust_fixes import SEEKS_BACK, Read, read_verdict


def test_the_next_record_is_taken():
    assert read_verdict(41, 41, 0) is Read.TAKE


def test_nothing_known_yet_takes_what_comes():
    assert read_verdict(None, 900, 0) is Read.TAKE


def test_a_record_read_before_goes_to_faust_which_drops_it():
    assert read_verdict(41, 37, 0) is Read.TAKE


def test_a_jump_past_the_next_record_reads_from_it_again():
    assert read_verdict(41, 57, 0) is Read.AGAIN
    assert read_verdict(41, 42, SEEKS_BACK - 1) is Read.AGAIN


def test_a_jump_after_every_seek_back_means_the_records_are_gone():
    assert read_verdict(41, 57, SEEKS_BACK) is Read.LOST
