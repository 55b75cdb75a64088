"""The workshop notebooks as files: small, clean, and shaped as the course promises.

Running them is nbval's job (``pytest --nbval-lax notebooks/``) and, for the quickstart, the
end-to-end test's; this checks what a run cannot: that nothing was saved with them, that each has
an introduction and exercises with hidden solutions, and that what they read exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
COURSE = [
    "01_quickstart.ipynb",
    "02_events_as_dataframes.ipynb",
    "03_webrtc_under_the_hood.ipynb",
    "04_turn_taking.ipynb",
    "05_tools.ipynb",
]


def test_the_course_is_these_five_notebooks_in_order():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == COURSE
    readme = (NOTEBOOKS / "README.md").read_text()
    positions = [readme.find(f"`{name}`") for name in COURSE]
    assert -1 not in positions and positions == sorted(positions), "README lists them in order"


@pytest.fixture(params=COURSE)
def notebook(request: pytest.FixtureRequest) -> tuple[str, nbformat.NotebookNode]:
    path = NOTEBOOKS / request.param
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return request.param, nb


def test_nothing_saved_with_it(notebook):
    name, nb = notebook
    assert (NOTEBOOKS / name).stat().st_size < 60_000
    assert "widgets" not in nb.metadata, "widget state is saved in the notebook"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        assert not cell.get("attachments"), cell.source[:80]


def test_introduction_first(notebook):
    name, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# {name[:2]} · "), first.source[:40]
    assert len(first.source.split()) > 60, "a short introduction, not just a title"


def test_exercises_with_hidden_solutions(notebook):
    _, nb = notebook
    cells = nb.cells
    solutions = [i for i, c in enumerate(cells) if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 3
    for i in solutions:
        cell = cells[i]
        assert cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden")
        # the student's cell comes right before it, after the exercise's statement
        assert cells[i - 1].cell_type == "code" and "your code here" in cells[i - 1].source
        assert cells[i - 2].cell_type == "markdown" and re.match(r"\*\*\d\.\*\*", cells[i - 2].source)
    assert sum("## Exercises" in c.source for c in cells if c.cell_type == "markdown") == 1


def test_what_it_reads_is_there(notebook):
    _, nb = notebook
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for relative in re.findall(r'Path\("(data/[^"]+)"\)', code):
        assert (NOTEBOOKS / relative).is_file(), relative
    assert "sk-" not in code and not re.search(r"ek_[A-Za-z0-9]{8,}", code)


def test_live_cells_say_when_they_are_skipped(notebook):
    """Each notebook has cells that need a live call, and each of those says so in its output
    when there is none, rather than failing or staying silent."""
    _, nb = notebook
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    guarded = [s for s in code if 'w.state == "connected"' in s or "LIVE" in s]
    assert guarded, "no cell checks for a live call"
    assert any("No live call in this run" in s for s in code)
