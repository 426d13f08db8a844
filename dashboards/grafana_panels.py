"""Typed factories every lab dashboard shares: the Prometheus query, the default panels, JSON.

Dashboards call these instead of the SDK's builders directly, so every panel reads from the
same datasource uid, carries a unit and a legend, and renders to the same stable JSON.
"""

import json
from collections.abc import Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

# The uid under which stack/configs/grafana_provisioning.py provisions Prometheus; every
# panel and variable names it, so it lives here and the provisioning imports it.
PROMETHEUS_UID = "prometheus"
# Its name: Grafana's alert list panel picks its rule source by datasource name, not uid.
PROMETHEUS_NAME = "Prometheus"
PROMETHEUS = dashboard_models.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)

# Panel sizes on Grafana's 24-column grid.
THIRD = 8
HALF = 12
HEIGHT = 8

Steps = Sequence[tuple[float | None, str]]
NEUTRAL: Steps = ((None, "green"),)
PanelT = TypeVar("PanelT", timeseries.Panel, stat.Panel)


def query(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    """A range query against the lab's Prometheus, with the legend a reader sees."""
    return (
        prometheus.Dataquery()
        .datasource(PROMETHEUS)
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .range()
        .editor_mode(prometheus.prometheus.QueryEditorMode.CODE)
    )


def queries(pairs: Sequence[tuple[str, str]]) -> list[prometheus.Dataquery]:
    """Several (expr, legend) pairs as queries A, B, C, ..."""
    return [query(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def thresholds(steps: Steps) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds; the first step's value is None (Grafana's "base")."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=value, color=color) for value, color in steps])
    )


def _framed(
    panel: PanelT,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    steps: Steps,
    width: int,
) -> PanelT:
    """What every panel has: its title and description, Prometheus queries, unit, thresholds
    and place in the grid."""
    return (
        panel.title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(list(targets))
        .unit(unit)
        .thresholds(thresholds(steps))
        .span(width)
        .height(HEIGHT)
    )


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    steps: Steps = NEUTRAL,
    width: int = THIRD,
    minimum: float | None = 0,
) -> timeseries.Panel:
    """The default time series: unit, legend as a table with mean and max, shared tooltip.

    When thresholds mean something (`steps` other than neutral) they are drawn as dashed lines,
    so a reader sees how close a line is to trouble without opening the panel editor.
    """
    panel = (
        _framed(timeseries.Panel(), title, description, unit, targets, steps, width)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common_models.TooltipDisplayMode.MULTI)
            .sort(common_models.SortOrder.DESCENDING)
        )
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if steps is not NEUTRAL:
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.DASHED
            )
        )
    return panel


def stat_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    steps: Steps,
    width: int = THIRD,
) -> stat.Panel:
    """A single big number per series (its last value), coloured by its thresholds."""
    return (
        _framed(stat.Panel(), title, description, unit, targets, steps, width)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def row(title: str) -> dashboard_builders.Row:
    """An expanded row: a heading; the panels that follow it belong to it."""
    return dashboard_builders.Row(title).collapsed(False)


def to_dict(builder: dashboard_builders.Dashboard) -> dict:
    """The dashboard JSON model as plain dicts and lists (what Grafana's API takes)."""
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def dump(model: dict) -> str:
    """Stable text: sorted keys and fixed indentation, so a regenerated file diffs cleanly."""
    return json.dumps(model, sort_keys=True, indent=2) + "\n"
