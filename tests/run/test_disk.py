import errno

from jaxdqn.run.disk import format_bytes, is_disk_full, short_reason


def test_a_full_disk_is_found_anywhere_in_the_chain_of_causes():
    try:
        try:
            raise OSError(errno.ENOSPC, "write failed")
        except OSError as inner:
            raise ValueError("could not save") from inner
    except ValueError as outer:
        assert is_disk_full(outer)
    assert is_disk_full(RuntimeError("INTERNAL: No space left on device"))
    assert not is_disk_full(OSError(errno.EACCES, "denied"))
    assert not is_disk_full(None)


def test_reasons_fit_on_a_line_without_tensorstore_details():
    text = short_reason(ValueError("NOT_FOUND: gone\n  at x See full TensorStore details at y"))
    assert text == "ValueError: NOT_FOUND: gone at x"
    assert len(short_reason(ValueError("x" * 500))) == len("ValueError: ") + 160
    assert short_reason(KeyError()) == "KeyError"


def test_sizes_read_like_a_person_would_write_them():
    assert [format_bytes(n) for n in (512, 1500, 2.5e6, 3e9, 7e15)] == ["512 B", "1.5 KB", "2.5 MB", "3.0 GB",
                                                                       "7000.0 TB"]
