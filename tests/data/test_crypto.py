"""Pseudonyms and sealing (governance/data/crypto.py): known answers and every way a ciphertext must fail."""

from __future__ import annotations

import pytest

from governance.data import crypto

SUBJECT_A = "a" * 64
SUBJECT_B = "b" * 64


def test_a_pseudonym_is_hmac_sha256_as_published_in_rfc_4231() -> None:
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    assert crypto.pseudonym("what do ya want for nothing?", key=b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_spellings_of_one_id_give_one_pseudonym_and_other_ids_or_keys_give_others() -> None:
    composed, decomposed = "Zo\u00eb-42", "Zoe\u0308-42"  # the same name in NFC and NFD
    key = b"k" * 32
    assert crypto.pseudonym(composed, key=key) == crypto.pseudonym(decomposed, key=key)
    assert crypto.pseudonym("  DE-0001\n", key=key) == crypto.pseudonym("DE-0001", key=key)
    assert crypto.pseudonym("DE-0001", key=key) != crypto.pseudonym("DE-0002", key=key)
    assert crypto.pseudonym("DE-0001", key=key) != crypto.pseudonym("DE-0001", key=b"j" * 32)
    assert crypto.is_pseudonym(crypto.pseudonym("DE-0001", key=key))


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_an_empty_external_id_is_refused(blank: str) -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        crypto.pseudonym(blank, key=b"k")


@pytest.mark.parametrize("value", ["A" * 64, "a" * 63, "g" * 64, "a" * 65, ""])
def test_only_64_lowercase_hex_digits_look_like_a_pseudonym(value: str) -> None:
    assert not crypto.is_pseudonym(value)


def test_sealed_data_opens_with_its_key_and_subject_and_uses_a_fresh_nonce_each_time() -> None:
    key = crypto.new_data_key()
    first = crypto.seal(b'{"email": "a@example.org"}', key=key, associated_data=SUBJECT_A)
    second = crypto.seal(b'{"email": "a@example.org"}', key=key, associated_data=SUBJECT_A)
    assert first != second
    assert b"example.org" not in first
    assert crypto.open_sealed(first, key=key, associated_data=SUBJECT_A) == b'{"email": "a@example.org"}'


def test_every_changed_byte_makes_the_ciphertext_fail_to_open() -> None:
    key = crypto.new_data_key()
    blob = crypto.seal(b"contact details", key=key, associated_data=SUBJECT_A)
    for position in range(len(blob)):
        changed = bytearray(blob)
        changed[position] ^= 0x01
        with pytest.raises(crypto.SealError, match="does not open"):
            crypto.open_sealed(bytes(changed), key=key, associated_data=SUBJECT_A)


def test_a_ciphertext_moved_to_another_subject_or_opened_with_another_key_fails() -> None:
    key = crypto.new_data_key()
    blob = crypto.seal(b"contact details", key=key, associated_data=SUBJECT_A)
    with pytest.raises(crypto.SealError):
        crypto.open_sealed(blob, key=key, associated_data=SUBJECT_B)
    with pytest.raises(crypto.SealError):
        crypto.open_sealed(blob, key=crypto.new_data_key(), associated_data=SUBJECT_A)
    with pytest.raises(crypto.SealError, match="too short"):
        crypto.open_sealed(blob[:20], key=key, associated_data=SUBJECT_A)


def test_a_wrapped_key_opens_only_under_its_master_key_and_subject() -> None:
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(data_key, master=b"m" * 32, subject=SUBJECT_A)
    assert data_key not in wrapped
    assert crypto.unwrap_key(wrapped, master=b"m" * 32, subject=SUBJECT_A) == data_key
    with pytest.raises(crypto.SealError):
        crypto.unwrap_key(wrapped, master=b"n" * 32, subject=SUBJECT_A)
    with pytest.raises(crypto.SealError):
        crypto.unwrap_key(wrapped, master=b"m" * 32, subject=SUBJECT_B)
