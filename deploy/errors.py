"""Failures the user is told about in one line, and the exit codes: their one home (the help text and
docs/deploy-tool.md are made from or checked against EXIT_CODES)."""

OK = 0
DEPLOY_FAILED = 1
USAGE = 2
NEEDS_ATTENTION = 3
INTERRUPTED = 130  # Ctrl-C (SIGINT)
TERMINATED = 143  # SIGTERM, as a shell reports a process it ended

EXIT_CODES = {
    OK: "done; `status`/`watch`: Ready and healthy",
    DEPLOY_FAILED: "the release failed and the environment is back on a healthy version (rolled back or aborted "
                   "back); EB could not process the bundle (environment untouched); `status`/`watch`: not healthy",
    USAGE: "refused, nothing changed: bad arguments, no credentials, unknown region, application, environment or "
           "label, label taken by other content, environment busy, UpdateEnvironment refused (not Ready, throttled "
           "past the retries), `provision` flags an existing environment cannot take, the compatibility gate (the "
           "serving version breaks on the new schema, or its commit cannot be found), `promote` of a label the "
           "source never ran healthy, of an older commit than the target runs, or whose migrations break the version "
           "the target serves",
    NEEDS_ATTENTION: "the release or rollback failed and the environment is not back on a healthy version (no "
                     "earlier healthy version, `--no-rollback`, the rollback failed, EB still updating after "
                     "`--timeout`): look now",
    INTERRUPTED: "interrupted (Ctrl-C); the update goes on (`watch` follows it)",
    TERMINATED: "terminated (SIGTERM, as CI cancels a job); the line printed says what was left in flight",
}


def exit_codes_text() -> str:
    return "Exit codes:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())


class DeployError(Exception):
    def __init__(self, message: str, exit_code: int = USAGE):
        super().__init__(message)
        self.exit_code = exit_code
