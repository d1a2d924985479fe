"""README.md and docs/ stay true: every config file, class and page they name exists, and the front page is short."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIG = re.compile(r"configs/[\w/.+-]+?\.yaml")
#: dotted names of this project's classes and functions as the docs write them (`callbacks.LastCheckpoint`)
DOTTED = re.compile(r"`((?:gan_module|callbacks|datamodules)(?:\.\w+)+)`")
LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


def test_the_front_page_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150  # issue 40: the front page, not the manual


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_config_file_a_page_names_exists(page):
    named = set(CONFIG.findall(page.read_text()))
    missing = sorted(n for n in named if not (ROOT / n).is_file() and "<" not in n)
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_class_a_page_names_imports(page):
    unresolved = []
    for dotted in sorted(set(DOTTED.findall(page.read_text()))):
        module, _, attribute = dotted.rpartition(".")
        try:
            found = importlib.import_module(dotted)
        except ImportError:
            try:
                found = getattr(importlib.import_module(module), attribute, None)
            except ImportError:
                found = None
        if found is None:
            unresolved.append(dotted)
    assert unresolved == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_of_a_page_exists(page):
    links = [link for link in LINK.findall(page.read_text()) if not link.startswith("http")]
    assert sorted(link for link in links if not (page.parent / link).exists()) == []
