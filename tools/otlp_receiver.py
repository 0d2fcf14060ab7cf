#!/usr/bin/env python3
"""A minimal OTLP/HTTP traces receiver for the tests: POST /v1/traces with a protobuf
ExportTraceServiceRequest, decoded with OpenTelemetry's own Python protobuf classes
(PyPI opentelemetry-proto), one JSON line per span appended to OUT.

Usage: python3 tools/otlp_receiver.py OUT.jsonl [--status CODE]
Prints "listening PORT" on stdout once bound (port 0: the OS picks). --status answers every
request with CODE instead of 200 (a collector that refuses), to test the worker's reporting.

A span line: trace_id, span_id, parent_span_id (hex, "" for a root), name, kind (the enum's
name), start/end in Unix ns, status {code, message}, attributes {key: value}, events
[{name, time_unix_nano, attributes}], dropped_events_count and resource {key: value}.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind) if kind else None


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def spans(request):
    for rs in request.resource_spans:
        resource = attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield {
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "name": s.name,
                    "kind": Span.SpanKind.Name(s.kind),
                    "start_time_unix_nano": s.start_time_unix_nano,
                    "end_time_unix_nano": s.end_time_unix_nano,
                    "status": {"code": Status.StatusCode.Name(s.status.code), "message": s.status.message},
                    "attributes": attrs(s.attributes),
                    "events": [{"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attrs(e.attributes)} for e in s.events],
                    "dropped_events_count": s.dropped_events_count,
                    "scope": ss.scope.name,
                    "resource": resource,
                }


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    status = int(args[args.index("--status") + 1]) if "--status" in args else 200

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                return self.answer(415 if self.path == "/v1/traces" else 404, b"")
            if status != 200:
                return self.answer(status, b"")
            request = ExportTraceServiceRequest()
            try:
                request.ParseFromString(body)
            except Exception as e:  # a broken request is the test's finding, not a crash
                return self.answer(400, str(e).encode())
            with open(out, "a") as f:
                for span in spans(request):
                    f.write(json.dumps(span) + "\n")
            self.answer(200, ExportTraceServiceResponse().SerializeToString())

        def answer(self, code, body):
            self.send_response(code)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
