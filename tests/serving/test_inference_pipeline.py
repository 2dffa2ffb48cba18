"""The server's column-by-column inference pipeline (`Recipe`) against the components' DataFrame one
(`apply_steps`): the same matrix on random tables with missing values, unseen categories and every step kind."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serving.inference_pipeline import InferencePipeline, apply_steps, source_step
from serving.payloads import BadRequest


def table(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "visits": rng.poisson(5, rows).astype("int64"),
            "spend": rng.lognormal(2, 1, rows),
            "country": rng.choice(["DE", "BR", "CN", "US"], rows),
            "platform": rng.choice(["pc", "ps", "xbox"], rows).astype(object),
            "label": rng.integers(0, 2, rows),
        }
    )
    frame.loc[rng.random(rows) < 0.2, "spend"] = np.nan
    frame.loc[rng.random(rows) < 0.2, "platform"] = None
    return frame


def steps_for(frame: pd.DataFrame, method: str) -> list[dict]:
    fill = {"kind": "fill", "values": {"spend": float(frame["spend"].median()), "platform": "pc"}}
    filled = apply_steps(frame, [fill])
    categories = {"country": sorted(["DE", "BR", "other"]), "platform": sorted(set(filled["platform"]))}
    encode = {"kind": "encode", "method": method, "categories": categories}
    scale = {"kind": "scale", "columns": {"spend": {"centre": 3.0, "scale": 2.5}, "visits": {"centre": 5, "scale": 2}}}
    select = {"kind": "select", "columns": [c for c in apply_steps(filled, [encode]).columns if c != "visits"]}
    return [source_step(frame), fill, encode, scale, select]


@pytest.mark.parametrize("method", ["onehot", "ordinal"])
@pytest.mark.parametrize("seed", range(5))
def test_the_servers_pipeline_equals_the_components(seed: int, method: str) -> None:
    frame = table(seed, 80)
    chain = steps_for(frame, method)
    expected = apply_steps(frame, chain)
    features = [c for c in expected.columns if c != "label"]
    pipeline = InferencePipeline.compose(chain, features, ["label"])
    requests = json.loads(table(seed + 100, 40).drop(columns="label").to_json(orient="records"))  # US, CN: unseen
    requests[0]["country"] = "Atlantis"
    ours = pipeline.features_of(requests)
    theirs = apply_steps(pd.DataFrame.from_records(requests).astype({"spend": "float64"}), chain[1:])[features]
    np.testing.assert_array_equal(ours, theirs.to_numpy(dtype="float64"))


def test_bad_rows_are_refused_naming_the_field() -> None:
    frame = table(0, 50)
    chain = steps_for(frame, "onehot")
    features = [c for c in apply_steps(frame, chain).columns if c != "label"]
    pipeline = InferencePipeline.compose(chain, features, ["label"])
    row = {"spend": 1.0, "country": "DE", "platform": "pc"}
    assert pipeline.features_of([row]).shape == (1, len(features))
    # a text column may be left out: it is the category `missing`, as training saw its missing values
    left_out = pipeline.features_of([{"spend": 1.0, "platform": "pc"}])
    np.testing.assert_array_equal(left_out, pipeline.features_of([row | {"country": None}]))
    assert pipeline.features_of([row | {"visits": 3, "label": 1}]).shape == (1, len(features)), "unused: ignored"
    for bad, message in (
        (row | {"spend": "lots"}, "column 'spend' takes numbers"),
        (row | {"spend": True}, "column 'spend' takes numbers"),
        (row | {"country": ["DE"]}, "column 'country' takes text"),
        (row | {"countyr": "DE"}, "unknown column 'countyr' \\(did you mean 'country'\\?\\)"),
        ("DE", "must be an object keyed by column"),
    ):
        with pytest.raises(BadRequest, match=message):
            pipeline.features_of([bad])
