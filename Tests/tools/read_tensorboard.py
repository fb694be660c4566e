"""Reads a folder of TensorBoard event files with TensorBoard's own loader and
prints its scalars as JSON: {"tag": [[step, value], ...], ...}."""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator

accumulator = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
accumulator.Reload()
print(json.dumps({tag: [[event.step, event.value] for event in accumulator.Scalars(tag)]
                  for tag in accumulator.Tags()["scalars"]}))
