"""gan_module/run/yaml_files.py: a key written twice, a tab or bytes that are not UTF-8 are one line naming the file
and the lines; every shipped config passes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gan_module.errors import ConfigError
from gan_module.run.yaml_files import duplicate_key, load_yaml_strict, strict_jsonargparse_loader
from tests.conftest import CONFIGS


def refusal(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "study.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as refused:
        load_yaml_strict(path)
    return str(refused.value).replace(str(path), "FILE")


def test_a_key_written_twice_names_the_key_and_both_lines(tmp_path):
    text = "name: grid\nseeds: [0, 1]\nbudget:\n  iterations: 5\n\nseeds: [2]\n"
    assert refusal(tmp_path, text) == "FILE: key `seeds` appears twice (lines 2 and 6): keep one."


def test_a_key_written_twice_deep_inside_is_found(tmp_path):
    text = "axes:\n  loss:\n    - class_path: a.B\n      init_args: {k: 1, k: 2}\n"
    assert refusal(tmp_path, text) == "FILE: key `k` appears twice (lines 4 and 4): keep one."


def test_the_same_key_in_different_mappings_a_merge_and_keys_of_other_types_are_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "a: {x: 1}\nb: {x: 2}\nbase: &base {lr: 0.1, beta: 0.5}\nother:\n  <<: *base\n  lr: 0.2\n"
        "names: {1: one, '1': str}\n"
    )
    loaded = load_yaml_strict(path)
    assert loaded["other"] == {"lr": 0.2, "beta": 0.5}  # a merge's key may be overridden: that is its purpose
    assert loaded["names"] == {1: "one", "1": "str"}  # an int and a string are two keys


def test_a_tab_as_indentation_names_the_file_and_line(tmp_path):
    assert refusal(tmp_path, "trainer:\n  max_epochs: 2\nmodel:\n\tk: 1\n") == (
        "FILE is not valid YAML (line 4): found character '\\t' that cannot start any token (a tab: indent with spaces)"
    )


def test_bytes_that_are_not_utf_8_are_named(tmp_path):
    assert refusal(tmp_path, "k: 1  # café\n".encode("latin-1")) == (
        "FILE is not UTF-8 text (byte 0xe9 at position 11): save it as UTF-8."
    )


def test_the_label_replaces_the_path(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(ConfigError, match=r"^--config x.yaml: key `a` appears twice \(lines 1 and 2\): keep one.$"):
        load_yaml_strict(path, label="--config x.yaml")


def test_jsonargparse_s_number_rules_are_kept():
    """The loader registered with jsonargparse reads 1e-4 as a number, as jsonargparse's own does (PyYAML's safe
    loader would read a string), and refuses a key written twice."""
    assert strict_jsonargparse_loader("lr: 1e-4\nbetas: [0.5, 0.999]\n") == {"lr": 1e-4, "betas": [0.5, 0.999]}
    assert strict_jsonargparse_loader("adam") == "adam"
    with pytest.raises(Exception, match="key `lr` appears twice"):
        strict_jsonargparse_loader("lr: 1\nlr: 2\n")


def test_every_shipped_yaml_file_has_no_key_twice():
    files = sorted(CONFIGS.rglob("*.yaml"))
    assert len(files) > 50
    assert [str(f) for f in files if duplicate_key(f.read_text()) is not None] == []


def test_reading_yaml_strictly_imports_no_torch():
    """main.py checks the configs with it before Lightning is imported; the study may read its files with it."""
    probe = "import sys, gan_module.run.yaml_files, gan_module.run.faults; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=CONFIGS.parent)
    assert done.stdout.strip() == "False", done.stderr
