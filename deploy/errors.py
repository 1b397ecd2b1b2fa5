"""Failures the user is told about in one line, each with its exit code (see README)."""

DEPLOY_FAILED = 1  # the release failed; the environment was rolled back (or had nothing to roll back to)
USAGE = 2  # bad arguments, or AWS said no: credentials, unknown app/env, conflicting version, busy environment
NEEDS_ATTENTION = 3  # the release failed and the environment is not back on a healthy version


class DeployError(Exception):
    def __init__(self, message: str, exit_code: int = USAGE):
        super().__init__(message)
        self.exit_code = exit_code
