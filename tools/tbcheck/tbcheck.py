#!/usr/bin/python3
"""Independent check of TensorBoard event files written by package tblog.

Reads TFRecord framing itself (verifying both masked CRC-32C values with a
pure-Python CRC-32C), parses every record with classes that protoc generates
at run time from event.proto (next to this script), and prints one line per
value. Exits 1 on any framing, CRC or parse error.

Usage: /usr/bin/python3 tools/tbcheck/tbcheck.py [--canonical] [--buckets] FILE...
"""

import argparse
import importlib
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class CheckError(Exception):
    pass


def read_records(path):
    """Yields (offset, data) for each TFRecord in the file."""
    with open(path, "rb") as f:
        buf = f.read()
    off = 0
    while off < len(buf):
        if len(buf) - off < 12:
            raise CheckError("offset %d: truncated record header (%d bytes)" % (off, len(buf) - off))
        (length,) = struct.unpack_from("<Q", buf, off)
        (len_crc,) = struct.unpack_from("<I", buf, off + 8)
        want = masked_crc32c(buf[off:off + 8])
        if len_crc != want:
            raise CheckError("offset %d: length CRC 0x%08x, want 0x%08x" % (off, len_crc, want))
        start = off + 12
        if length > len(buf) - start or len(buf) - start - length < 4:
            raise CheckError("offset %d: truncated record data (length %d, %d bytes left)"
                             % (off, length, len(buf) - start))
        data = buf[start:start + length]
        (data_crc,) = struct.unpack_from("<I", buf, start + length)
        want = masked_crc32c(data)
        if data_crc != want:
            raise CheckError("offset %d: data CRC 0x%08x, want 0x%08x" % (off, data_crc, want))
        yield off, data
        off = start + length + 4


def load_event_pb2():
    here = os.path.dirname(os.path.abspath(__file__))
    protoc = shutil.which("protoc")
    if protoc is None:
        raise CheckError("protoc not found on PATH")
    tmp = tempfile.mkdtemp(prefix="tbcheck")
    subprocess.run([protoc, "-I", here, "--python_out", tmp, os.path.join(here, "event.proto")],
                   check=True)
    sys.path.insert(0, tmp)
    mod = importlib.import_module("event_pb2")
    shutil.rmtree(tmp, ignore_errors=True)
    return mod


def unknown_fields(msg, name=None):
    """Names of msg and its sub-messages that hold fields event.proto lacks."""
    name = name or msg.DESCRIPTOR.full_name
    out = []
    try:
        if len(msg.UnknownFields()):
            out.append(name)
    except (AttributeError, NotImplementedError):
        pass  # runtime without UnknownFields(): skip this check
    for fd, val in msg.ListFields():
        if fd.type != fd.TYPE_MESSAGE:
            continue
        if fd.message_type.GetOptions().map_entry:
            for k, sub in val.items():
                if hasattr(sub, "ListFields"):
                    out += unknown_fields(sub, "%s.%s[%s]" % (name, fd.name, k))
        elif fd.label == fd.LABEL_REPEATED:
            for i, sub in enumerate(val):
                out += unknown_fields(sub, "%s.%s[%d]" % (name, fd.name, i))
        else:
            out += unknown_fields(val, "%s.%s" % (name, fd.name))
    return out


def check_histo(h):
    """Consistency checks on a HistogramProto; returns a list of problems."""
    problems = []
    if len(h.bucket) != len(h.bucket_limit):
        problems.append("%d buckets but %d limits" % (len(h.bucket), len(h.bucket_limit)))
    if any(b <= a for a, b in zip(h.bucket_limit, h.bucket_limit[1:])):
        problems.append("bucket limits not increasing")
    if sum(h.bucket) != h.num:
        problems.append("bucket counts add to %r, num is %r" % (sum(h.bucket), h.num))
    if h.num > 0:
        if h.min > h.max:
            problems.append("min %r > max %r" % (h.min, h.max))
        if h.bucket_limit and not h.max < h.bucket_limit[-1] and h.bucket_limit[-1] != sys.float_info.max:
            problems.append("max %r not below last limit %r" % (h.max, h.bucket_limit[-1]))
        if len(h.bucket_limit) > 1 and not h.min < h.bucket_limit[0]:
            problems.append("min %r not below first limit %r" % (h.min, h.bucket_limit[0]))
    return problems


def check_file(path, pb2, canonical, buckets):
    n = 0
    for off, data in read_records(path):
        ev = pb2.Event()
        try:
            ev.ParseFromString(data)
        except Exception as e:  # google.protobuf.message.DecodeError and friends
            raise CheckError("offset %d: parse error: %s" % (off, e))
        unknown = unknown_fields(ev)
        if unknown:
            raise CheckError("offset %d: unknown fields in %s" % (off, ", ".join(unknown)))
        if canonical and ev.SerializeToString() != data:
            raise CheckError("offset %d: bytes differ from protobuf's serialization:\n file %s\n  pb  %s"
                             % (off, data.hex(), ev.SerializeToString().hex()))
        kind = ev.WhichOneof("what")
        if n == 0 and (kind != "file_version" or ev.file_version != "brain.Event:2"):
            raise CheckError("first record is not file_version brain.Event:2: %s" % ev)
        if kind == "file_version":
            print("file_version=%s wall_time=%r" % (ev.file_version, ev.wall_time))
        elif kind == "graph_def":
            g = pb2.GraphDef()
            try:
                g.ParseFromString(ev.graph_def)
            except Exception as e:
                raise CheckError("offset %d: graph_def parse error: %s" % (off, e))
            unknown = unknown_fields(g)
            if unknown:
                raise CheckError("offset %d: unknown fields in %s" % (off, ", ".join(unknown)))
            names = set(n.name for n in g.node)
            if len(names) != len(g.node):
                raise CheckError("offset %d: graph has repeated node names" % off)
            for node in g.node:
                for i in node.input:
                    if i not in names:
                        raise CheckError("offset %d: graph node %s reads unknown node %s" % (off, node.name, i))
            print("graph nodes=%d" % len(g.node))
        elif kind == "summary":
            for v in ev.summary.value:
                which = v.WhichOneof("value")
                if which == "simple_value":
                    print("step=%d tag=%s simple_value=%r" % (ev.step, v.tag, v.simple_value))
                elif which == "histo":
                    h = v.histo
                    problems = check_histo(h)
                    if problems:
                        raise CheckError("offset %d: tag %s: histogram: %s" % (off, v.tag, "; ".join(problems)))
                    print("step=%d tag=%s histo num=%r min=%r max=%r sum=%r sum_squares=%r buckets=%d"
                          % (ev.step, v.tag, h.num, h.min, h.max, h.sum, h.sum_squares, len(h.bucket)))
                    if buckets:
                        for lim, c in zip(h.bucket_limit, h.bucket):
                            print("  bucket limit=%r count=%r" % (lim, c))
                else:
                    raise CheckError("offset %d: tag %s: value kind %r" % (off, v.tag, which))
        else:
            raise CheckError("offset %d: event kind %r" % (off, kind))
        n += 1
    if n == 0:
        raise CheckError("no records")
    print("ok %s: %d records" % (path, n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--canonical", action="store_true",
                    help="also require each record to equal protobuf's own re-serialization")
    ap.add_argument("--buckets", action="store_true", help="print histogram buckets")
    args = ap.parse_args()
    try:
        pb2 = load_event_pb2()
    except (CheckError, subprocess.CalledProcessError, ImportError) as e:
        print("tbcheck: setup: %s" % e, file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            check_file(path, pb2, args.canonical, args.buckets)
        except (CheckError, OSError) as e:
            print("tbcheck: %s: %s" % (path, e), file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
