"""The README's model table is generated from the registry; this fails when they drift."""
from __future__ import annotations

import re

from ganthology.cli import model_table

from .conftest import ROOT


def test_readme_model_table_matches_the_registry():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- models:start[^>]*-->\n(.*?)\n<!-- models:end -->", readme, flags=re.S)
    assert m, "README.md lost its models:start / models:end markers"
    assert m.group(1).strip() == model_table(markdown=True).strip(), "run `ganthology list --markdown`"


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert "pip install -e ." in block[0] and "ganthology train" in block[0]
    assert "pytest" in block[1]
