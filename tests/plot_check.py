#!/usr/bin/env python3
"""Checks of halo-forge's figures and TensorBoard event files, independent of the C code that wrote them.

  plot_check.py png FILE WIDTH HEIGHT           a valid PNG (signature, IHDR, CRCs, IEND) of that size
  plot_check.py svg FILE WIDTH HEIGHT LINES FILLS
        a well-formed SVG of that size whose data lines (paths stroked 2.25 wide, chart.h) number LINES in
        LINES distinct colours (-1: do not check), and whose palette-coloured fills use FILLS colours
  plot_check.py events DIR                      prints {tag: [[step, value, wall_time], ...]} as JSON
  plot_check.py metrics DIR METRICS.jsonl       the events of DIR are exactly the lines of METRICS.jsonl

The event reader has its own CRC-32C and protobuf decoding: TFRecord framing (length, masked CRC of the
length, payload, masked CRC of the payload), Event {wall_time 1, step 2, file_version 3, summary 5},
Summary {value 1}, Value {tag 1, simple_value 2}. When Debian's python3-protobuf is installed the
payloads are parsed by Google's protobuf library too, from descriptors built here.
"""
import glob
import json
import math
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def fail(msg):
    print("plot_check: " + msg, file=sys.stderr)
    sys.exit(1)


def check_png(path, w, h):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: not a PNG (signature)")
    off, chunks = 8, []
    while off < len(data):
        (n,) = struct.unpack_from(">I", data, off)
        kind = data[off + 4:off + 8]
        body = data[off + 8:off + 8 + n]
        (crc,) = struct.unpack_from(">I", data, off + 8 + n)
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail(f"{path}: chunk {kind!r} has a bad CRC")
        chunks.append((kind, body))
        off += 12 + n
    if chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        fail(f"{path}: IHDR first / IEND last expected")
    pw, ph = struct.unpack_from(">II", chunks[0][1])
    if (pw, ph) != (w, h):
        fail(f"{path}: {pw}x{ph}, expected {w}x{h}")
    pixels = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    if len(pixels) < h * (w * 3 + 1):
        fail(f"{path}: image data too short ({len(pixels)} bytes)")


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def colour(text):
    """cairo writes rgb(12.156863%,46.666667%,70.588235%); returns #rrggbb."""
    m = re.match(r"rgb\(([\d.]+)%,([\d.]+)%,([\d.]+)%\)", text)
    if not m:
        return text
    return "#" + "".join("%02x" % round(float(v) * 255 / 100) for v in m.groups())


def check_svg(path, w, h, lines, fills):
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    if root.tag != ns + "svg":
        fail(f"{path}: root element is {root.tag}")
    vb = [float(v) for v in root.get("viewBox").split()]
    if vb[2:] != [w, h]:
        fail(f"{path}: viewBox {vb}, expected {w}x{h}")
    strokes, fill_colours = [], set()
    for el in root.iter(ns + "path"):
        style = dict(kv.split(":", 1) for kv in (el.get("style") or "").split(";") if ":" in kv)
        if style.get("stroke-width") == "2.25" and style.get("stroke", "none") != "none":
            strokes.append(colour(style["stroke"]))
        if style.get("fill", "none") not in ("none",) and colour(style["fill"]) in PALETTE:
            fill_colours.add(colour(style["fill"]))
    if lines >= 0 and (len(strokes) != lines or len(set(strokes)) != lines):
        fail(f"{path}: {len(strokes)} data lines in {len(set(strokes))} colours, expected {lines}")
    if any(c not in PALETTE for c in strokes):
        fail(f"{path}: a data line not in the palette: {strokes}")
    if fills >= 0 and len(fill_colours) != fills:
        fail(f"{path}: {len(fill_colours)} palette fill colours {sorted(fill_colours)}, expected {fills}")


# ---- TFRecord + protobuf, written from the formats' descriptions

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, off):
    v = shift = 0
    while True:
        b = buf[off]
        off += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, off


def fields(buf):
    off = 0
    while off < len(buf):
        key, off = varint(buf, off)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, off = varint(buf, off)
        elif wire == 1:
            val, off = buf[off:off + 8], off + 8
        elif wire == 5:
            val, off = buf[off:off + 4], off + 4
        elif wire == 2:
            n, off = varint(buf, off)
            val, off = buf[off:off + n], off + n
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, val


def google_event_class():
    try:
        sys.path.append("/usr/lib/python3/dist-packages")
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError:
        return None
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="hf_event_check.proto", package="hfcheck", syntax="proto3")

    def msg(name, fs):
        m = fdp.message_type.add(name=name)
        for fname, number, typ, label, tname in fs:
            f = m.field.add(name=fname, number=number, type=typ, label=label)
            if tname:
                f.type_name = tname

    msg("Value", [("tag", 1, F.TYPE_STRING, F.LABEL_OPTIONAL, None),
                  ("simple_value", 2, F.TYPE_FLOAT, F.LABEL_OPTIONAL, None)])
    msg("Summary", [("value", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".hfcheck.Value")])
    msg("Event", [("wall_time", 1, F.TYPE_DOUBLE, F.LABEL_OPTIONAL, None),
                  ("step", 2, F.TYPE_INT64, F.LABEL_OPTIONAL, None),
                  ("file_version", 3, F.TYPE_STRING, F.LABEL_OPTIONAL, None),
                  ("summary", 5, F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".hfcheck.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("hfcheck.Event")
    try:
        return message_factory.GetMessageClass(desc)
    except AttributeError:
        return message_factory.MessageFactory(pool).GetPrototype(desc)


def read_events(d):
    files = sorted(f for f in glob.glob(os.path.join(d, "*")) if "tfevents" in os.path.basename(f))
    if len(files) != 1:
        fail(f"{d}: {len(files)} event files, expected exactly 1: {files}")
    path = files[0]
    if not re.match(r"events\.out\.tfevents\.\d+\.\S+$", os.path.basename(path)):
        fail(f"{path}: not named events.out.tfevents.<time>.<host>")
    data = open(path, "rb").read()
    Event = google_event_class()
    off, events = 0, []
    while off < len(data):
        if len(data) - off < 16:
            fail(f"{path}: torn record at byte {off}")
        (n,) = struct.unpack_from("<Q", data, off)
        (lcrc,) = struct.unpack_from("<I", data, off + 8)
        if lcrc != masked(crc32c(data[off:off + 8])):
            fail(f"{path}: bad length CRC at byte {off}")
        payload = data[off + 12:off + 12 + n]
        (dcrc,) = struct.unpack_from("<I", data, off + 12 + n)
        if dcrc != masked(crc32c(payload)):
            fail(f"{path}: bad data CRC at byte {off}")
        off += 16 + n
        ev = {"wall_time": None, "step": 0, "file_version": None, "values": []}
        for num, wire, val in fields(payload):
            if num == 1 and wire == 1:
                ev["wall_time"] = struct.unpack("<d", val)[0]
            elif num == 2 and wire == 0:
                ev["step"] = val
            elif num == 3 and wire == 2:
                ev["file_version"] = val.decode()
            elif num == 5 and wire == 2:
                for vn, vw, vv in fields(val):
                    if vn != 1:
                        continue
                    tag = value = None
                    for fn, fw, fv in fields(vv):
                        if fn == 1:
                            tag = fv.decode()
                        elif fn == 2 and fw == 5:
                            value = struct.unpack("<f", fv)[0]
                    ev["values"].append((tag, value))
        if Event is not None:
            g = Event()
            g.ParseFromString(payload)
            mine = [(t, v) for t, v in ev["values"]]
            theirs = [(v.tag, v.simple_value) for v in g.summary.value]
            if mine != theirs or g.step != ev["step"] or (ev["file_version"] or "") != g.file_version:
                fail(f"{path}: protobuf library disagrees: {theirs} step {g.step} vs {mine} step {ev['step']}")
        events.append(ev)
    if not events or events[0]["file_version"] != "brain.Event:2":
        fail(f"{path}: the first event must carry file_version brain.Event:2")
    if any(e["wall_time"] is None or e["wall_time"] < 1e9 for e in events):
        fail(f"{path}: an event without a plausible wall_time")
    return events, Event is not None


TRAIN_TAGS = {"loss": "train/loss", "lr": "train/learning_rate", "grad_norm": "train/grad_norm",
              "epoch": "train/epoch", "tokens": "train/tokens", "tokens_per_sec": "train/tokens_per_sec",
              "eval_loss": "eval/loss"}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_metrics(d, metrics):
    events, google = read_events(d)
    got = [(e["step"], e["values"]) for e in events[1:]]
    want = []
    for line in open(metrics):
        j = json.loads(line)
        want.append((j["step"], [(TRAIN_TAGS[k], f32(v)) for k, v in j.items() if k in TRAIN_TAGS]))
    if len(got) != len(want):
        fail(f"{d}: {len(got)} events, {metrics} has {len(want)} lines")
    for i, (g, w) in enumerate(zip(got, want)):
        gv, wv = dict(g[1]), dict(w[1])
        if g[0] != w[0] or sorted(gv) != sorted(wv) or len(gv) != len(g[1]):
            fail(f"{d}: event {i + 1}: step {g[0]} tags {sorted(gv)}, metrics line: {w}")
        for t in wv:
            if not (gv[t] == wv[t] or math.isclose(gv[t], wv[t], rel_tol=1e-6)):
                fail(f"{d}: event {i + 1}: {t} = {gv[t]}, metrics line says {wv[t]}")
    print(f"{len(got)} events match {metrics}" + (" (and Google's protobuf parser agrees)" if google else
                                                   " (python3-protobuf not installed: own decoder only)"))


def main():
    a = sys.argv[1:]
    if a and a[0] == "png" and len(a) == 4:
        check_png(a[1], int(a[2]), int(a[3]))
    elif a and a[0] == "svg" and len(a) == 6:
        check_svg(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
    elif a and a[0] == "events" and len(a) == 2:
        events, _ = read_events(a[1])
        out = {}
        for e in events[1:]:
            for t, v in e["values"]:
                out.setdefault(t, []).append([e["step"], v, e["wall_time"]])
        print(json.dumps(out))
    elif a and a[0] == "metrics" and len(a) == 3:
        check_metrics(a[1], a[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
