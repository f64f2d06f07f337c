"""A TOTP seed the account form refuses is refused in words that say what is wrong with it
(and never repeat it)."""
import pytest

from connectors import credentials

KEY = credentials.new_key()
GOOD = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("seed, words", [
    ("JBSWY3DPEHPK3PXP", "is 16 characters (80 bits); a seed needs at least 23 (112 bits)"),
    ("JBSWY3DPEHPK3PX1JBSWY3DPEHPK3PXP", "characters base32 does not use"),
    ("", "is empty"),
])
def test_a_seed_that_makes_no_codes_is_refused_saying_why(seed, words):
    with pytest.raises(credentials.AccountError) as refused:
        credentials.seal(KEY, "api-key", "1234", seed)
    assert words in str(refused.value)
    assert not seed or seed not in str(refused.value)


def test_a_whole_seed_written_in_groups_and_lower_case_is_taken():
    spaced = " ".join(GOOD[i:i + 4] for i in range(0, len(GOOD), 4)).lower()
    sealed = credentials.seal(KEY, "api-key", "1234", spaced)
    assert credentials._open(credentials._fernet(KEY), sealed)["totp_secret"] == GOOD
