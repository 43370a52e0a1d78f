"""Pretty-prints `velocity tail` JSON lines: topic, key, op, before -> after."""
import json
import sys

for line in sys.stdin:
    r = json.loads(line)
    topic = r["topic"]
    key = r["key"]["payload"] if r["key"] else None
    v = r["value"]
    if v is None:
        print("%-18s key=%s (tombstone)" % (topic, json.dumps(key)))
        continue
    p = v["payload"]
    print("%-18s key=%s op=%s snapshot=%s" % (topic, json.dumps(key), p["op"], p["source"]["snapshot"]))
    print("    before=%s" % json.dumps(p["before"]))
    print("    after =%s" % json.dumps(p["after"]))
