"""The `visState` pieces of Kibana's aggregation-based charts: aggregations and XY axis params.

Kept apart from kibana_objects.py, which assembles them into saved objects, because these are
the shapes Kibana 8.19's visualization editor reads, field by field.
"""

from collections.abc import Iterable


def xy_params(chart: str, value_title: str, series: Iterable[tuple[str, str]]) -> dict:
    """Axis and series settings of an aggregation-based line or bar chart."""
    return {
        "addLegend": True,
        "addTimeMarker": False,
        "addTooltip": True,
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "labels": {"filter": True, "show": True, "truncate": 100},
                "position": "bottom",
                "scale": {"type": "linear"},
                "show": True,
                "style": {},
                "title": {},
                "type": "category",
            }
        ],
        "grid": {"categoryLines": False},
        "labels": {},
        "legendPosition": "right",
        "seriesParams": [
            {
                "data": {"id": agg_id, "label": label},
                "drawLinesBetweenPoints": True,
                "interpolate": "linear",
                "lineWidth": 2,
                "mode": "normal",
                "show": True,
                "showCircles": True,
                "type": chart,
                "valueAxis": "ValueAxis-1",
            }
            for agg_id, label in series
        ],
        "thresholdLine": {
            "color": "#E7664C",
            "show": False,
            "style": "full",
            "value": 10,
            "width": 1,
        },
        "times": [],
        "type": chart,
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "labels": {"filter": False, "rotate": 0, "show": True, "truncate": 100},
                "name": "LeftAxis-1",
                "position": "left",
                "scale": {"mode": "normal", "type": "linear"},
                "show": True,
                "style": {},
                "title": {"text": value_title},
                "type": "value",
            }
        ],
    }


def agg(agg_id: str, kind: str, schema: str, **params) -> dict:
    return {"enabled": True, "id": agg_id, "params": params, "schema": schema, "type": kind}


def terms(
    agg_id: str, field: str, schema: str, size: int = 10, order_by: str = "1", order: str = "desc"
) -> dict:
    """A terms bucket ordered by `order_by`: a single-value metric agg's id, `_key` or `_count`.

    Kibana's order-by editor never offers a multi-value metric (percentiles): Elasticsearch
    cannot order buckets by one without naming a value.
    """
    return agg(
        agg_id,
        "terms",
        schema,
        field=field,
        order=order,
        orderBy=order_by,
        otherBucket=False,
        missingBucket=False,
        size=size,
    )
