"""gan_module/run/faults.py: the machine's fault behind what a library raised for it, told in one line naming the
path and never a password. (The real faults -- a full tmpfs, a read-only mount -- are in tests/test_faults.py.)"""

from __future__ import annotations

import errno

import pytest

from gan_module.run.faults import describe_fault, mask_credentials, naming, os_fault_behind


def raised_while_handling(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised in the ``except`` block of ``inner``, as torch's zip writer does."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904  (implicit chaining is the point)
    except BaseException as err:
        return err


def test_an_oserror_torch_handled_is_behind_its_runtime_error():
    nospace = OSError(errno.ENOSPC, "No space left on device")
    err = raised_while_handling(
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 7 vs 5"), nospace
    )
    assert os_fault_behind(err) is nospace


def test_an_oserror_another_error_was_raised_from_is_behind_it():
    denied = PermissionError(errno.EACCES, "Permission denied", "/runs")
    try:
        raise ValueError("could not build the logger") from denied
    except ValueError as err:
        assert os_fault_behind(err) is denied


def test_a_value_error_raised_while_handling_an_oserror_is_the_code_s_decision_not_a_fault():
    err = raised_while_handling(ValueError("no such dataset file: give data.root"), FileNotFoundError(2, "x"))
    assert os_fault_behind(err) is None
    assert os_fault_behind(RuntimeError("CUDA out of memory")) is None
    assert os_fault_behind(None) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[Errno 28] No space left on device", errno.ENOSPC),
        ("sqlite3.OperationalError: attempt to write: Read-only file system", errno.EROFS),
        ("Disk quota exceeded while writing", errno.EDQUOT),
        ("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598", errno.EIO),
        ("PytorchStreamWriter failed writing file data/0: file write failed", errno.EIO),
    ],
)
def test_a_runtime_error_whose_text_names_a_storage_fault_is_that_fault(text, code):
    fault = os_fault_behind(RuntimeError(text))
    assert fault is not None and fault.errno == code
    if code == errno.EIO:
        assert fault.strerror.startswith("a write failed (torch: ")


def test_naming_adds_the_path_a_failed_write_leaves_out_and_keeps_one_it_has(tmp_path):
    target, partial = tmp_path / "last.ckpt", tmp_path / ".last.ckpt.1.partial"
    with pytest.raises(OSError) as raised, naming(target):
        raise raised_while_handling(RuntimeError("unexpected pos 1 vs 0"), OSError(errno.ENOSPC, "No space left"))
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(target))
    with pytest.raises(OSError) as raised, naming(target, temporary=partial):
        raise OSError(errno.EROFS, "Read-only file system", str(partial))
    assert raised.value.filename == str(target)  # the checkpoint a user knows, not the temporary beside it
    with pytest.raises(OSError) as raised, naming(target):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", "/a_file/runs")
    assert raised.value.filename == "/a_file/runs"
    with pytest.raises(KeyError), naming(target):
        raise KeyError("not a fault")


def test_the_description_names_the_path_or_the_folder_and_masks_passwords(tmp_path):
    assert describe_fault(OSError(errno.ENOSPC, "No space left on device", "/runs/x")) == (
        "No space left on device (/runs/x)"
    )
    assert describe_fault(OSError(errno.ENOSPC, "No space left on device"), folder="/runs/v0") == (
        "No space left on device (/runs/v0)"
    )
    assert describe_fault(OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")) == (
        "Invalid cross-device link (/a -> /b)"
    )
    blocker = tmp_path / "runs"
    blocker.write_text("")
    assert describe_fault(FileExistsError(errno.EEXIST, "File exists", str(blocker))) == (
        f"A file is where a folder is needed ({blocker})"
    )
    url = OSError(errno.ECONNREFUSED, "Connection refused", "postgresql://optuna:hunter2@db:5432/studies")
    assert describe_fault(url) == "Connection refused (postgresql://optuna:***@db:5432/studies)"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://alice:s3cret@db.example.org:5432/optuna", "postgresql://alice:***@db.example.org:5432/optuna"),
        (
            "could not reach mysql+pymysql://bob:p@ss:w@h/db (timeout)",
            "could not reach mysql+pymysql://bob:***@h/db (timeout)",
        ),
        ("redis://:token@cache:6379/0", "redis://:***@cache:6379/0"),
        ("a://u:p@h and b://v:q@k", "a://u:***@h and b://v:***@k"),
        ("postgresql://alice@db/optuna", "postgresql://alice@db/optuna"),  # no password: nothing to hide
        ("https://example.org:8080/path", "https://example.org:8080/path"),  # a port is not a password
        ("sqlite:///runs/studies/optuna.db", "sqlite:///runs/studies/optuna.db"),
    ],
)
def test_credentials_in_urls_are_masked(text, masked):
    assert mask_credentials(text) == masked
    assert "s3cret" not in mask_credentials(text) and "hunter2" not in mask_credentials(text)
