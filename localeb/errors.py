"""What the local Elastic Beanstalk tells its user in one line, and the exit codes of its commands."""

DONE = 0
FAILED = 1  # the deployment failed on the local instances; everything started was removed
USAGE = 2  # bad arguments, or what the command needs (Docker, a file) is missing


class LocalEBError(Exception):
    """A local instance, its load balancer or the command could not do what was asked."""
