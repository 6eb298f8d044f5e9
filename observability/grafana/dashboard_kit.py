"""Small builders for Grafana dashboard JSON (schema 39), so the dashboards are reviewed as code.

Only what our dashboards use: time series, stats and text panels on one Prometheus data source,
laid out left to right in rows of 24 grid units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24
SCHEMA_VERSION = 39


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Threshold:
    value: float
    color: str


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[Target, ...] = ()
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    thresholds: tuple[Threshold, ...] = ()
    text: str = ""
    max_value: float | None = None
    stacked: bool = False
    # Colour below the first threshold: green when lower is better, red when higher is better.
    base_color: str = "green"


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel] = field(default_factory=list)
    variables: list[Json] = field(default_factory=list)

    def to_json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["recon"],
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [datasource_variable(), *self.variables]},
            "annotations": {"list": []},
            "links": [],
            "panels": layout(self.panels),
        }


def datasource_variable() -> Json:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0}


def query_variable(name: str, label: str, query: str, *, include_all: bool = True) -> Json:
    """A label_values() variable. "All" matches `.*`, which also matches series without the label
    (the compose stack has no `namespace`)."""
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
        "refresh": 2, "sort": 1, "includeAll": include_all, "multi": include_all,
        "allValue": ".*" if include_all else None, "current": {}, "hide": 0,
    }


def textbox_variable(name: str, label: str, default: str) -> Json:
    return {"name": name, "label": label, "type": "textbox", "query": default,
            "current": {"text": default, "value": default}, "hide": 0}


def layout(panels: list[Panel]) -> list[Json]:
    """Place panels in reading order, wrapping to a new row when the current one is full."""
    placed: list[Json] = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append(panel_json(panel, panel_id, {"x": x, "y": y, "w": panel.width, "h": panel.height}))
        x += panel.width
        row_height = max(row_height, panel.height)
    return placed


def panel_json(panel: Panel, panel_id: int, grid: Json) -> Json:
    base: Json = {"id": panel_id, "type": panel.kind, "title": panel.title, "gridPos": grid,
                  "description": panel.description}
    if panel.kind == "text":
        return {**base, "options": {"mode": "markdown", "content": panel.text}}
    defaults: Json = {"unit": panel.unit, "thresholds": thresholds_json(panel.thresholds, panel.base_color)}
    if panel.max_value is not None:
        defaults["min"], defaults["max"] = 0, panel.max_value
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
            "stacking": {"mode": "normal" if panel.stacked else "none", "group": "A"},
            "thresholdsStyle": {"mode": "line" if panel.thresholds else "off"},
        }
        options: Json = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                         "tooltip": {"mode": "multi", "sort": "desc"}}
    else:
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    return {
        **base,
        "datasource": DATASOURCE,
        "targets": [
            {"refId": chr(ord("A") + index), "datasource": DATASOURCE, "expr": target.expr,
             "legendFormat": target.legend or "__auto", "range": True}
            for index, target in enumerate(panel.targets)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    }


def thresholds_json(thresholds: tuple[Threshold, ...], base_color: str) -> Json:
    steps: list[Json] = [{"color": base_color, "value": None}]
    steps += [{"color": threshold.color, "value": threshold.value} for threshold in thresholds]
    return {"mode": "absolute", "steps": steps}


def all_exprs(dashboard: Json) -> list[str]:
    """Every PromQL expression of a dashboard (used by the tests)."""
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
