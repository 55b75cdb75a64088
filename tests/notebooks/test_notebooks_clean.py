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
        # the student's cell comes right before it, and the exercise's statement before that
        assert cells[i - 1].cell_type == "code" and "your code here" in cells[i - 1].source
        statement = next(c for c in reversed(cells[:i]) if c.cell_type == "markdown")
        assert re.search(r"\*\*\d\.\*\*", statement.source), statement.source[:80]
    assert sum("## Exercises" in c.source for c in cells if c.cell_type == "markdown") == 1


def test_what_it_reads_is_there(notebook):
    _, nb = notebook
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for relative in re.findall(r'Path\("(data/[^"]+)"\)', code):
        assert (NOTEBOOKS / relative).is_file(), relative
    assert "sk-" not in code and not re.search(r"ek_[A-Za-z0-9]{8,}", code)


# Calls that need a connected call (or a front end) to work.
_LIVE_ONLY = re.compile(
    r"w\.(connect|disconnect|send|send_text|update_session|wait_for)\(|inject_fault"
)
# What a cell checks before making them.
_GUARD = re.compile(r"\bif\b.*(w\.state|\bLIVE\b|CONNECT_FROM_PYTHON)")


def test_live_cells_are_guarded_and_say_so(notebook):
    """A cell that needs a live call checks for one first, and the notebook says in its output
    when there is none (and which recorded data it uses instead), rather than failing."""
    _, nb = notebook
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for source in code:
        if _LIVE_ONLY.search(source):
            assert _GUARD.search(source), f"an unguarded live call:\n{source}"
    assert any("No live call in this run" in s for s in code)
