#!/usr/bin/env python3
"""Parses a Prometheus text exposition (standard input) with the reference parser of the
official Python client (PyPI `prometheus-client`), and prints its samples as JSON:

    {"families": {NAME: TYPE}, "samples": [{"name", "labels", "value"}, ...]}

The worker's tests pipe `/metrics` through it, so the format is checked by Prometheus's own
code rather than ours. Exit code 1 (and the parser's message) when the text does not parse,
2 when prometheus-client is missing.
"""

import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prom_parse: prometheus-client is not installed (pip install prometheus-client)", file=sys.stderr)
    sys.exit(2)


def main():
    text = sys.stdin.read()
    families, samples = {}, []
    try:
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for s in family.samples:
                value = s.value
                if math.isinf(value) or math.isnan(value):
                    value = str(value)
                samples.append({"name": s.name, "labels": s.labels, "value": value})
    except Exception as e:  # the parser raises ValueError and others on malformed input
        print(f"prom_parse: not a valid exposition: {e}", file=sys.stderr)
        return 1
    json.dump({"families": families, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
