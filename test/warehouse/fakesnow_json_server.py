"""fakesnow's HTTP server, with query results re-encoded as the JSON rowset the Node.js driver reads.

fakesnow (PyPI, `fakesnow[server]`) emulates Snowflake on DuckDB: it parses Snowflake SQL with sqlglot, runs it,
and answers the driver protocol (login, query-request, session). It sends every SELECT result as an Arrow IPC
`rowsetBase64`, which the Python, JDBC and Go drivers read, but `snowflake-sdk` (Node.js) reads only the JSON
`rowset` that real Snowflake sends it (the Node driver has no Arrow reader). This wrapper re-encodes results,
serves one statement at a time, and fixes three answers where fakesnow 0.11.18 departs from Snowflake (each marked
below: DDL inside a transaction, the result of BEGIN, an unmapped exception as HTTP 500). The SQL, the bindings,
the transactions and the errors are otherwise fakesnow's own. The JSON encoding follows what snowflake-sdk's
result/column.js parses: every value a string, FIXED as decimal text, BOOLEAN as 1/0, DATE as days since the epoch,
TIMESTAMP_* as seconds.nanoseconds (TIMESTAMP_TZ followed by the zone index, result version 1).

    python fakesnow_json_server.py PORT
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import datetime
import json
import re
import sys
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import fakesnow.server as fakesnow_server

EPOCH_DAY = datetime.date(1970, 1, 1)


def encode(value: Any, column: dict[str, Any]) -> str | None:
    if value is None:
        return None
    kind = str(column.get("type", "")).lower()
    if kind.startswith("timestamp"):
        if value.get("epoch") is None:
            return None
        seconds = Decimal(value["epoch"]) + Decimal(value["fraction"]) / Decimal(10**9)
        text = f"{seconds:.9f}"
        return f"{text} {value['timezone']}" if kind == "timestamp_tz" else text
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "date":
        return str((value - EPOCH_DAY).days)
    if kind == "binary":
        return bytes(value).hex()
    if kind == "real":
        return repr(float(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


DDL = re.compile(r"^\s*(create|drop|alter)\b", re.IGNORECASE)
BEGIN = re.compile(r"^\s*(begin|start)(\s+(transaction|work))?\s*;?\s*$", re.IGNORECASE)


# Snowflake runs several statements of one session at once (the Node driver sends them concurrently, e.g. the
# planner's per-shard counts); fakesnow runs them on one DuckDB connection, which is not safe to share between
# threads, so statements are served one at a time (a valid schedule of concurrent statements).
LOCK = asyncio.Lock()


async def query_request(request: Request) -> Response:
    async with LOCK:
        return await serve_query(request)


async def serve_query(request: Request) -> Response:
    raw = await request.body()
    sql_text = str(json.loads(gzip.decompress(raw) if request.headers.get("Content-Encoding") == "gzip" else raw).get("sqlText", ""))
    if DDL.match(sql_text):
        # Snowflake commits an open transaction before DDL and runs the DDL on its own; fakesnow 0.11.18 instead
        # fails it ("a single transaction can only write to a single attached database"): commit first, as Snowflake.
        # (fakesnow does this itself only for sessions without autocommit; its server's sessions autocommit.)
        conn = fakesnow_server.sessions.get(fakesnow_server.to_token(request))
        if conn is not None:
            try:
                await run_in_threadpool(conn._duck_conn.commit)  # noqa: SLF001
            except duckdb.TransactionException:
                pass  # no transaction was open
    try:
        response = await fakesnow_server.query_request(request)
        body = json.loads(bytes(response.body))
        status = response.status_code
    except fakesnow_server.ServerError as e:
        body, status = {"message": e.message}, e.status_code
    if status >= 500:
        # fakesnow answers an exception it does not map (e.g. DuckDB enforcing a primary key, which Snowflake never
        # does) with HTTP 500, which the Node driver retries for minutes: answer it as a failed statement instead.
        body = {"data": {"errorCode": "100000", "sqlState": "XX000"}, "code": "100000", "message": body.get("message"), "success": False}
        status = 200
    if not body.get("success") and BEGIN.match(sql_text) and "BEGIN does not exist" in str(body.get("message")):
        # fakesnow's server runs BEGIN (the transaction is open) and then fails describing its result as if BEGIN
        # were a table: answer it as Snowflake does, like fakesnow answers COMMIT.
        body = {"data": {"rowtype": [{"name": "status", "type": "text", "nullable": True, "scale": None, "precision": None, "length": 16777216, "byteLength": 16777216, "database": "", "schema": "", "table": "", "collation": None}],
                         "rowset": [["Statement executed successfully."]], "total": 1, "statementTypeId": 0x5000, "returned": 1, "version": 1}, "success": True}
    data = body.get("data") or {}
    if body.get("success") and data.get("queryResultFormat") == "arrow":
        rowtype = data.get("rowtype") or []
        encoded = data.pop("rowsetBase64", "")
        rows: list[list[str | None]] = []
        if encoded:
            table = pa.ipc.open_stream(base64.b64decode(encoded)).read_all()
            columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
            rows = [[encode(v, rowtype[i]) for i, v in enumerate(row)] for row in zip(*columns)]
        data.update({"queryResultFormat": "json", "rowset": rows, "version": 1})
    if body.get("success") and isinstance(data.get("rowset"), list):
        # The Node driver counts the rows it hands out by `returned`; without it a DML result never completes.
        data.setdefault("returned", len(data["rowset"]))
        data.setdefault("version", 1)
    return JSONResponse(body, status_code=status)


routes = [
    Route(r.path, query_request, methods=["POST"]) if getattr(r, "path", None) == "/queries/v1/query-request" else r
    for r in fakesnow_server.routes
]
app = Starlette(routes=routes)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
