"""A scenario template: copy this package, rename it, fill it in (see `scenario.py` and docs/writing_a_scenario.md).

    cp -r scenarios/template my_scenario            # any importable place; the modules import each other relatively
    tfaip-train my_scenario --trainer.output_dir runs/mine

As it is, it trains a toy task: is a weighted sum of 8 random numbers positive? Replace, in this order:
params.py (your settings) -> data.py (your samples) -> processors.py (optional per-sample work) ->
graph.py (your network) -> model.py (loss, metrics, exported outputs) -> evaluator.py (Python metrics) ->
scenario.py (wiring and default trainer settings; its docstring documents the experiment).
"""
