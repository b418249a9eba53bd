#!/usr/bin/python3
"""Writes a small TensorBoard event file without any of resgo's code.

The events are built with the protobuf runtime for Python from event.proto
and framed with tbcheck's pure-Python CRC-32C. The file, committed as
tblog/testdata/known_good.tfevents, is what package tblog's tests read and
what its writer must reproduce byte for byte.

Usage: /usr/bin/python3 tools/tbcheck/make_known_good.py OUT
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tbcheck  # noqa: E402


def frame(data):
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", tbcheck.masked_crc32c(header)) + data
            + struct.pack("<I", tbcheck.masked_crc32c(data)))


def main():
    pb = tbcheck.load_event_pb2()
    records = []
    ev = pb.Event(wall_time=1.5, file_version="brain.Event:2")
    records.append(ev.SerializeToString())
    # Steps 1-3: the loss and learning rate, as resgo train logs them
    # (values in tag order), then an accuracy on its own.
    for step, loss in [(1, 2.30365), (2, 1.25), (3, 0.0625)]:
        ev = pb.Event(wall_time=1.5, step=step)
        ev.summary.value.add(tag="learning_rate", simple_value=0.03)
        ev.summary.value.add(tag="loss", simple_value=loss)
        records.append(ev.SerializeToString())
    ev = pb.Event(wall_time=1.5, step=3)
    ev.summary.value.add(tag="validation_accuracy", simple_value=0.75)
    records.append(ev.SerializeToString())
    with open(sys.argv[1], "wb") as f:
        for r in records:
            f.write(frame(r))


if __name__ == "__main__":
    main()
