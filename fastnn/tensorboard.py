"""TensorBoard event files without TensorFlow: the writer (tensorboardX) and a small reader.

    fit(..., callbacks=[fnn.callbacks.TensorBoard("runs/1", histogram_freq=1)])
    fnn.tensorboard.read_scalars("runs/1/train")     # {"epoch_loss": [(0, 0.93), (1, 0.41)], ...}

tensorboardX is an optional dependency (``pip install "fastnn[tensorboard]"``).

An event file is a sequence of TFRecord records, each::

    uint64 length (little endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data

where data is a serialized ``Event`` protocol buffer and masked(c) = ((c >> 15) | (c << 17))
+ 0xa282ead8 (mod 2^32). The reader checks both checksums, so a truncated or damaged file
is reported rather than read wrongly.
"""

from __future__ import annotations

import os
import struct

__all__ = ["read_events", "read_histograms", "read_scalars", "summary_writer_class"]

_INSTALL_HINT = 'pip install "fastnn[tensorboard]" (or pip install tensorboardX)'


def summary_writer_class():
    """tensorboardX's ``SummaryWriter``, or an ImportError that says how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as error:
        raise ImportError(f"TensorBoard logging needs the tensorboardX package: {_INSTALL_HINT}") from error
    return SummaryWriter


def _event_files(path) -> list:
    path = os.fspath(path)
    if os.path.isdir(path):
        return [os.path.join(path, name) for name in sorted(os.listdir(path)) if "tfevents" in name]
    if os.path.isfile(path):
        return [path]
    raise FileNotFoundError(f"read_events: no event file or folder at {path!r}")


def read_events(path) -> list:
    """Every ``Event`` (tensorboardX's protocol buffer class) in the event file ``path``, or in
    all event files of the folder ``path`` (in file name order, which is time order)."""
    try:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.record_writer import masked_crc32c
    except ImportError as error:
        raise ImportError(f"reading TensorBoard events needs the tensorboardX package: {_INSTALL_HINT}") from error
    events = []
    for name in _event_files(path):
        with open(name, "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            header = data[offset:offset + 12]
            if len(header) < 12:
                raise ValueError(f"read_events: {name} is truncated at byte {offset} (an incomplete record header)")
            (length,), (header_crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != header_crc:
                raise ValueError(f"read_events: {name} is damaged at byte {offset} (record length checksum)")
            body = data[offset + 12:offset + 12 + length]
            footer = data[offset + 12 + length:offset + 16 + length]
            if len(body) < length or len(footer) < 4:
                raise ValueError(f"read_events: {name} is truncated at byte {offset} (a record of {length} bytes)")
            if masked_crc32c(body) != struct.unpack("<I", footer)[0]:
                raise ValueError(f"read_events: {name} is damaged at byte {offset} (record data checksum)")
            event = Event()
            event.ParseFromString(body)
            events.append(event)
            offset += 16 + length
    return events


def read_scalars(path) -> dict:
    """{tag: [(step, value), ...]} of the scalar summaries in ``path`` (a file or a run folder)."""
    out: dict = {}
    for event in read_events(path):
        for value in event.summary.value:
            if value.WhichOneof("value") == "simple_value":
                out.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return out


def read_histograms(path) -> dict:
    """{tag: [(step, {"min", "max", "num", "sum", "sum_squares", "bucket_limit", "bucket"}), ...]}
    of the histogram summaries in ``path`` (a file or a run folder)."""
    out: dict = {}
    for event in read_events(path):
        for value in event.summary.value:
            if value.WhichOneof("value") == "histo":
                h = value.histo
                out.setdefault(value.tag, []).append((int(event.step), {
                    "min": h.min, "max": h.max, "num": h.num, "sum": h.sum, "sum_squares": h.sum_squares,
                    "bucket_limit": list(h.bucket_limit), "bucket": list(h.bucket)}))
    return out
