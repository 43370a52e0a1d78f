#!/usr/bin/env python3
"""Compares two captures of `velocity tail` (one JSON line per record) of
the same change events produced by two binaries into two topics.

    bench/compare_events.py [--rates EVENTS BASE_S BASE_KB THIS_S THIS_KB] BASE.jsonl THIS.jsonl

With --rates, first prints the base binary's drain (seconds, events/s, peak
RSS) and the ratios this/base of events/s and peak RSS.

Keys and values are compared as the bytes the converter wrote, in topic
order, after two rewrites that only undo what is expected to differ:
the base capture's topic prefix (the first component of its topic name)
is replaced by this capture's, and the envelope's processing time (the
payload's ts_ms/ts_us/ts_ns right after "op") is blanked. Source-block
times (commit times) are compared as they are. Prints the record count and
"identical" or the first difference; exits 1 when they differ.
"""
import re
import sys

ENVELOPE_TS = re.compile(rb'("op":"[a-z]"),"ts_ms":\d+,"ts_us":\d+,"ts_ns":\d+')
HEAD = re.compile(rb'^\{"topic":("[^"]*"),"partition":\d+,"offset":\d+,')


def records(path):
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            m = HEAD.match(line)
            if not m:
                sys.exit(f"{path}:{n}: not a `velocity tail` line")
            topic = m.group(1).strip(b'"')
            yield topic, ENVELOPE_TS.sub(rb'\1,"ts_ms":_,"ts_us":_,"ts_ns":_', line[m.end():].rstrip(b"\n"))


def rates(total, base_s, base_kb, this_s, this_kb):
    b, v = total / base_s, total / this_s
    print(f"base binary           {base_s:7.2f} s  {b:10.0f} events/s  peak RSS {base_kb / 1024:6.1f} MB")
    print(f"ratio this/base: events/s {v / b:.2f}, peak RSS {this_kb / max(base_kb, 1):.2f}")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--rates"]:
        total, base_s, base_kb, this_s, this_kb = args[1:6]
        rates(int(total), float(base_s), int(base_kb), float(this_s), int(this_kb))
        args = args[6:]
    base, this = list(records(args[0])), list(records(args[1]))
    if not base or not this:
        sys.exit(f"empty capture: base {len(base)} records, this {len(this)} records")
    old_prefix = base[0][0].split(b".")[0]
    new_prefix = this[0][0].split(b".")[0]
    prefix = re.compile(rb'"' + re.escape(old_prefix) + rb'([".])')
    if len(base) != len(this):
        print(f"events differ: base {len(base)} records, this {len(this)} records")
        sys.exit(1)
    for i, ((_, b), (_, t)) in enumerate(zip(base, this)):
        b = prefix.sub(b'"' + new_prefix + rb"\1", b)
        if b != t:
            at = next(j for j in range(min(len(b), len(t)) + 1) if b[j:j + 1] != t[j:j + 1])
            print(f"events differ at record {i}, byte {at}:")
            print("  base:", b[max(0, at - 80):at + 80].decode(errors="replace"))
            print("  this:", t[max(0, at - 80):at + 80].decode(errors="replace"))
            sys.exit(1)
    print(f"events identical: {len(this)} records, keys and values byte for byte "
          f"(prefix {old_prefix.decode()} -> {new_prefix.decode()}, envelope processing time set aside)")


if __name__ == "__main__":
    main()
