/** What a command may touch of the outside world: injectable so tests and the demo can run the CLI in-process. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderrIsTty: boolean;
  /** The terminal a live progress display draws on (stderr), when it is one. */
  stderrStream?: NodeJS.WritableStream;
}

export const defaultIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTty: Boolean(process.stderr.isTTY),
  stderrStream: process.stderr,
};

/** Each subcommand registers itself on the program and reports its exit code through `setExit`. */
export interface CommandContext {
  io: Io;
  setExit: (code: number) => void;
  /** Set when the command was asked for JSON, so errors are printed as JSON too. */
  setJson: (json: boolean) => void;
  /** Log lines on stderr, in the format of `--log-format`. */
  log: Log;
  logFormat: LogFormat;
}

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** The environment's default for `--log-format`, as dbt's DBT_LOG_FORMAT. */
export const LOG_FORMAT_ENV = "DBT_ACTIVATION_LOG_FORMAT";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type Log = (message: string, fields?: { level?: LogLevel; [key: string]: unknown }) => void;

/**
 * Log lines go to stderr (stdout is the command's result): as text, or with `--log-format json` one JSON object per
 * line (`ts`, `level`, `msg`, and the fields), for log collectors, as dbt does.
 */
export function logger(io: Io, format: LogFormat): Log {
  return (message, fields = {}) => {
    const { level = "info", ...rest } = fields;
    if (format === "json") io.stderr(`${JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...rest })}\n`);
    else io.stderr(`${message}\n`);
  };
}
