"""`Sample.new_*`: each replaces one part and keeps the others (and a subclass its type and own fields)."""

import dataclasses

from tfaip_core.data.sample import Sample


def test_each_new_part_replaces_that_part_only() -> None:
    sample = Sample(inputs={"x": 1}, targets={"y": 2}, outputs={"z": 3}, meta={"id": "a"})
    assert sample.new_inputs({"x": 9}) == Sample({"x": 9}, {"y": 2}, {"z": 3}, {"id": "a"})
    assert sample.new_targets({"y": 9}) == Sample({"x": 1}, {"y": 9}, {"z": 3}, {"id": "a"})
    assert sample.new_outputs({"z": 9}) == Sample({"x": 1}, {"y": 2}, {"z": 9}, {"id": "a"})
    assert sample.new_meta({"id": "b"}) == Sample({"x": 1}, {"y": 2}, {"z": 3}, {"id": "b"})
    assert sample == Sample({"x": 1}, {"y": 2}, {"z": 3}, {"id": "a"})  # the original is unchanged


def test_a_subclass_keeps_its_type_and_fields() -> None:
    @dataclasses.dataclass
    class Weighted(Sample):
        weight: float = 1.0

    sample = Weighted(inputs={"x": 1}, meta={"id": "a"}, weight=0.5)
    for renewed in (sample.new_inputs({"x": 2}), sample.new_targets({}), sample.new_outputs({}), sample.new_meta({})):
        assert type(renewed) is Weighted and renewed.weight == 0.5
    assert sample.new_meta({"id": "b"}).inputs == {"x": 1}
