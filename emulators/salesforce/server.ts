// node:http front door: OAuth, then auth -> limits -> faults -> handler for every /services/data request.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { BodyTooLarge, NOT_FOUND, parseJsonBody, readBody, sfError, type Reply } from "./http.ts";
import type { Org } from "./org.ts";
import { matchRoute } from "./routes.ts";
import type { EmulatorCall } from "./types.ts";

// Bulk 2.0 takes uploads up to 150 MB (destinations.md); nothing else comes close.
const MAX_BODY = 150 * 1024 * 1024;

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function write(res: ServerResponse, reply: Reply, limitInfo: string | undefined): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (limitInfo) headers["Sforce-Limit-Info"] = limitInfo;
  let payload: string | undefined;
  if (reply.status !== 204 && reply.status !== 304) {
    if (reply.text !== undefined) {
      payload = reply.text;
      headers["Content-Type"] = reply.contentType ?? "text/plain";
    } else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers["Content-Type"] = "application/json;charset=UTF-8";
    }
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

export async function serve(org: Org, port: number): Promise<RunningServer> {
  const sockets = new Set<Socket>();
  const holds = new Set<NodeJS.Timeout>();
  let baseUrl = "";

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", baseUrl);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    const isToken = path === "/services/oauth2/token";
    const isData = path === "/services/data" || path.startsWith("/services/data/");
    const match = isData ? matchRoute(method, path) : undefined;
    const endpoint = isToken ? `${method} ${path}` : match && "route" in match ? `${method} ${match.route.template}` : `${method} ${path}`;
    const call: EmulatorCall = { method, path, endpoint, status: 0, at: Date.now() };
    let logged = false;
    const log = (status: number, records?: number) => {
      if (logged) return;
      logged = true;
      call.status = status;
      if (records !== undefined) call.records = records;
      org.calls.push(call);
    };
    const send = (reply: Reply) => {
      write(res, reply, isData ? org.limits.header() : undefined);
      log(reply.status, reply.records);
    };
    const drop = () => {
      log(0);
      req.socket.destroy();
    };

    if (isToken) {
      if (method !== "POST") return send(sfError(405, "METHOD_NOT_ALLOWED", `HTTP Method '${method}' not allowed. Allowed are POST`));
      const form = new URLSearchParams((await readBody(req, 1024 * 1024)).toString("utf8"));
      return send(org.tokens.grant(form, req.headers.authorization, baseUrl));
    }
    if (!isData) return send(NOT_FOUND());
    // The versions list is public in Salesforce; everything else needs a bearer token.
    if (!(method === "GET" && path === "/services/data") && !org.tokens.valid(req.headers.authorization)) {
      return send(sfError(401, "INVALID_SESSION_ID", "Session expired or invalid"));
    }
    if (!match) return send(NOT_FOUND());
    if (!("route" in match)) return send(sfError(405, "METHOD_NOT_ALLOWED", `HTTP Method '${method}' not allowed.`));
    const verdict = org.limits.admit(Date.now());
    if (!verdict.ok) return send(sfError(verdict.status, "REQUEST_LIMIT_EXCEEDED", verdict.message));

    const limits = org.limits;
    limits.inFlight += 1;
    res.once("close", () => (limits.inFlight -= 1));

    let raw: Buffer;
    try {
      raw = match.route.body === "none" ? Buffer.alloc(0) : await readBody(req, MAX_BODY);
    } catch (e) {
      if (e instanceof BodyTooLarge) return send(sfError(413, "REQUEST_TOO_LARGE", e.message));
      throw e;
    }
    if (raw.length > 0) call.bytes = raw.length;

    // Faults are decided before the handler, so timeouts, drops (by default), 5xx and throttles never write.
    const fault = org.faults.request();
    if (fault?.kind === "timeout") {
      const timer = setTimeout(() => {
        holds.delete(timer);
        drop();
      }, fault.holdMs);
      holds.add(timer);
      req.socket.once("close", () => {
        clearTimeout(timer);
        holds.delete(timer);
        log(0);
      });
      return;
    }
    if (fault?.kind === "drop" && !fault.afterWrite) return drop();
    if (fault?.kind === "server-error") {
      return send(
        fault.status === 503
          ? sfError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later")
          : sfError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 0000000000-00000 (-0000000000)"),
      );
    }
    if (fault?.kind === "throttle") return send(sfError(limits.throttleStatus, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));

    let body: unknown;
    if (match.route.body === "json") {
      const parsed = parseJsonBody(raw);
      if ("error" in parsed) return send(parsed.error);
      body = parsed.value;
    }
    const reply = match.route.handle({ org, params: match.params, query: url.searchParams, headers: req.headers, body, raw, baseUrl });
    if (fault?.kind === "drop") return drop(); // "after-write": the change is stored but the client never hears
    send(reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void req.socket.destroy();
      write(res, { status: 500, body: [{ message: e instanceof Error ? e.message : String(e), errorCode: "UNKNOWN_EXCEPTION" }] }, undefined);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${actualPort}`;
  return {
    url: baseUrl,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        holds.forEach(clearTimeout);
        holds.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
