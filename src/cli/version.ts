/**
 * The CLI's version, and the one answer given before any command is loaded: `--version` alone (what scripts and
 * orchestrators call to check the install) needs none of the command modules, so it starts as fast as Node does.
 */
export const VERSION = "0.1.0";

/** True when the arguments ask only for the version (`--version` or `-V`, as commander takes them). */
export function onlyVersion(argv: readonly string[]): boolean {
  return argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V");
}
