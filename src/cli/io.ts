/** What a command may touch of the outside world: injectable so tests and the demo can run the CLI in-process. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderrIsTty: boolean;
}

export const defaultIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTty: Boolean(process.stderr.isTTY),
};

/** Each subcommand registers itself on the program and reports its exit code through `setExit`. */
export interface CommandContext {
  io: Io;
  setExit: (code: number) => void;
  /** Set when the command was asked for JSON, so errors are printed as JSON too. */
  setJson: (json: boolean) => void;
}
