"""The layering, checked on the import graph read from the source (scripts/import_graph.py): imports
inside functions and under TYPE_CHECKING count, importlib is refused, and no module is in a circle."""

from __future__ import annotations

from scripts.import_graph import Edge, broken_contracts, circles, import_edges


def test_the_package_keeps_its_import_contracts() -> None:
    assert list(broken_contracts(import_edges())) == []


def test_the_checker_sees_imports_inside_functions_and_through_importlib() -> None:
    """A circle closed by a function-level import, and importlib, are caught (the store once was one)."""
    pa = "posture_agent"
    edges = [
        Edge(f"{pa}.store.db", f"{pa}.store.recovery", 1, "top"),
        Edge(f"{pa}.store.recovery", f"{pa}.store.db", 9, "fn"),
        Edge(f"{pa}.domain.plan", f"{pa}.config", 3, "type"),
        Edge(f"{pa}.cli", f"{pa}.commands.records", 5, "importlib"),
        Edge(f"{pa}.ui.tray", f"{pa}.agent.runtime", 2, "fn"),
        Edge(f"{pa}.report.weekly", f"{pa}.app", 4, "top"),
    ]
    assert circles(edges) == [[f"{pa}.store.db", f"{pa}.store.recovery"]]
    broken = list(broken_contracts(edges))
    assert len(broken) == 5, broken
    for who in ("domain.plan", "cli", "ui.tray", "report.weekly", "circle"):
        assert any(who in line for line in broken), who


def test_the_graph_resolves_names_to_modules() -> None:
    edges = {(e.source, e.target) for e in import_edges()}
    assert ("posture_agent.cli", "posture_agent.context") in edges
    assert ("posture_agent.commands", "posture_agent.commands.records") in edges  # inside `load`
    assert ("posture_agent.store.db", "posture_agent.store.recovery") in edges  # `from …store import recovery`


def test_only_the_camera_checks_child_imports_opencv() -> None:
    """camera.vision (OpenCV) belongs to the child process: the agent importing it is refused."""
    pa = "posture_agent"
    edges = [
        Edge(f"{pa}.camera.probe", f"{pa}.camera.vision", 1, "top"),
        Edge(f"{pa}.cli", f"{pa}.camera.probe", 2, "fn"),
        Edge(f"{pa}.agent.camera_checks", f"{pa}.camera.vision", 3, "top"),
        Edge(f"{pa}.commands.camera", f"{pa}.camera.probe", 4, "fn"),
    ]
    broken = list(broken_contracts(edges))
    assert len(broken) == 2, broken
    assert "agent.camera_checks" in broken[0] and "commands.camera" in broken[1]
    assert ("posture_agent.camera.probe", "posture_agent.camera.vision") in {
        (e.source, e.target) for e in import_edges()}
