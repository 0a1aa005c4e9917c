"""``kibana/saved_objects.ndjson``: the data view, the visualizations and the dashboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from common.config import load_settings
from tests.deploy.files import (
    AGGREGATABLE,
    DASHBOARD_COLUMNS,
    LENS_RECORDS,
    SAVED_OBJECT_TYPES,
    SAVED_OBJECTS,
    field_type,
    kql_fields,
    lens_columns,
    objects_of,
    saved_objects,
    service,
    version_tuple,
)


def test_saved_objects_are_ndjson_of_known_types() -> None:
    assert SAVED_OBJECTS.read_text().endswith("\n")
    kinds = set()
    ids = set()
    for obj in saved_objects():
        assert {"type", "id", "attributes", "references"} <= set(obj), obj.get("id")
        assert obj["type"] in SAVED_OBJECT_TYPES, obj["type"]
        assert isinstance(obj["references"], list)
        assert (obj["type"], obj["id"]) not in ids, f"duplicate id {obj['id']}"
        ids.add((obj["type"], obj["id"]))
        kinds.add(obj["type"])
    assert {"index-pattern", "dashboard"} <= kinds
    assert kinds & {"lens", "visualization"}


def test_saved_objects_are_not_newer_than_the_kibana_they_go_to() -> None:
    """Kibana refuses to import an object whose migration version is newer than its own."""
    kibana = version_tuple(service("kibana")["image"].split(":")[1])
    for obj in saved_objects():
        for key in ("coreMigrationVersion", "typeMigrationVersion"):
            if key in obj:
                assert version_tuple(obj[key]) <= kibana, f"{obj['id']}: {key} {obj[key]}"


def test_data_view_is_the_alias_on_timestamp() -> None:
    (data_view,) = objects_of("index-pattern")
    attributes = data_view["attributes"]
    assert attributes["title"] == load_settings({}).index_alias == "stealthflow_develop_logs"
    assert attributes["timeFieldName"] == "@timestamp"
    assert field_type("@timestamp") == "date"


def test_every_reference_resolves_in_the_file() -> None:
    present = {(obj["type"], obj["id"]) for obj in saved_objects()}
    for obj in saved_objects():
        for reference in obj["references"]:
            assert {"id", "name", "type"} <= set(reference), obj["id"]
            target = (reference["type"], reference["id"])
            assert target in present, f"{obj['id']} references missing {target}"


def test_lens_layers_reference_the_data_view() -> None:
    (data_view,) = objects_of("index-pattern")
    lens = objects_of("lens")
    assert lens
    for obj in lens:
        references = {ref["name"]: ref for ref in obj["references"]}
        layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        assert layers, obj["id"]
        for layer_id in layers:
            reference = references[f"indexpattern-datasource-layer-{layer_id}"]
            assert (reference["type"], reference["id"]) == ("index-pattern", data_view["id"])


def accessors(visualization: Any) -> Iterator[str]:
    """Column ids a Lens visualization state points at, wherever they sit in it."""
    if isinstance(visualization, dict):
        for key, value in visualization.items():
            if key in {"xAccessor", "splitAccessor", "columnId", "metricAccessor"}:
                yield value
            elif key == "accessors":
                yield from value
            else:
                yield from accessors(value)
    elif isinstance(visualization, list):
        for item in visualization:
            yield from accessors(item)


def test_lens_columns_use_mapped_aggregatable_fields() -> None:
    for obj in objects_of("lens"):
        state = obj["attributes"]["state"]
        columns = {column_id: column for _, column_id, column in lens_columns(obj)}
        for column_id, column in columns.items():
            where = f"{obj['id']} column {column_id}"
            field = column.get("sourceField")
            if field and field != LENS_RECORDS:
                kind = field_type(field)
                assert kind is not None, f"{where}: {field} is not in the index mapping"
                # Every Lens operation on a field is an aggregation (terms, histogram, metric).
                assert kind in AGGREGATABLE, f"{where}: {field} is {kind}, not aggregatable"
            order = column.get("params", {}).get("orderBy", {})
            if order.get("type") == "column":
                assert order["columnId"] in columns, f"{where}: ordered by a missing column"
            for name in kql_fields((column.get("filter") or {}).get("query", "")):
                assert field_type(name) is not None, f"{where}: filter names unknown {name}"
        for name in kql_fields(state["query"]["query"]):
            assert field_type(name) is not None, f"{obj['id']}: query names unknown {name}"
        shown = list(accessors(state["visualization"]))
        assert shown, obj["id"]
        for accessor in shown:
            assert accessor in columns, f"{obj['id']}: accessor {accessor} has no column"


def test_legacy_visualizations_use_mapped_aggregatable_fields() -> None:
    for obj in objects_of("visualization"):
        vis_state = json.loads(obj["attributes"]["visState"])
        for agg in vis_state.get("aggs", []):
            field = agg.get("params", {}).get("field")
            if field:
                kind = field_type(field)
                assert kind in AGGREGATABLE, f"{obj['id']}: {field} is {kind}, not aggregatable"


def test_top_errors_visualization_counts_errors_per_service() -> None:
    """``message`` is ``text`` (not aggregatable): errors are ranked by service and level."""
    assert field_type("message") == "text"
    (top_errors,) = [obj for obj in objects_of("lens") if obj["id"] == "stealthflow-top-errors"]
    state = top_errors["attributes"]["state"]
    assert kql_fields(state["query"]["query"]) == {"log.level"}
    terms = {
        c["sourceField"] for _, _, c in lens_columns(top_errors) if c["operationType"] == "terms"
    }
    assert terms == {"service.name", "log.level"}


def test_over_time_visualizations_break_down_by_level_and_service() -> None:
    breakdowns = set()
    for obj in objects_of("lens"):
        if obj["attributes"]["visualizationType"] != "lnsXY":
            continue
        columns = {column_id: column for _, column_id, column in lens_columns(obj)}
        (layer,) = obj["attributes"]["state"]["visualization"]["layers"]
        assert columns[layer["xAccessor"]]["operationType"] == "date_histogram"
        assert columns[layer["xAccessor"]]["sourceField"] == "@timestamp"
        breakdowns.add(columns[layer["splitAccessor"]]["sourceField"])
    assert breakdowns == {"log.level", "service.name"}


def test_dashboard_panels_are_wired_by_reference() -> None:
    (dashboard,) = objects_of("dashboard")
    attributes = dashboard["attributes"]
    panels = json.loads(attributes["panelsJSON"])
    json.loads(attributes["optionsJSON"])
    json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    references = {ref["name"]: ref for ref in dashboard["references"]}
    visualizations = {obj["id"] for obj in objects_of("lens", "visualization")}
    shown = set()
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        reference = references[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert reference["type"] == panel["type"]
        shown.add(reference["id"])
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= DASHBOARD_COLUMNS, panel["panelIndex"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"panel {panel['panelIndex']} overlaps another"
        cells |= area
    assert shown == visualizations, "every visualization is on the dashboard, and only those"
    assert len(references) == len(panels)
