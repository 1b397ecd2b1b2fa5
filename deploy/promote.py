"""Promote a version from one environment to the next (staging → production): the same label, so the same
bundle (or image) that ran healthy there, never a rebuild.

Refused with nothing changed (exit 2): a label whose newest verdict in the source environment was not healthy
(the per-environment history, deploy/history.py), a commit older than the one the target runs unless
--allow-older (deploy/commits.py), and a version whose migrations break the one the target serves (the
compatibility gate, deploy/gate.py: the target may run an older version than the source ran before this one,
so the source's own gate did not check that pair). Then it deploys as `release` does: follow, soak, roll back
on failure.
"""

from __future__ import annotations

from pathlib import Path

from . import commits, environment, gate, history, versions
from .errors import DeployError
from .follow import Policy, ensure_ready
from .release import go_live


def ran_healthy(clients, app: str, env: str, label: str, accept_warning: bool) -> bool:
    """Whether `label`'s newest verdict in `env` was healthy (Warning counts only when accepted here too)."""
    accepted = history.TARGETS if accept_warning else (history.HEALTHY,)
    verdicts = [entry.outcome for entry in history.Record(clients, app, env).entries() if entry.label == label]
    return bool(verdicts) and verdicts[-1] in accepted


def promote(clients, root: Path, app: str, source: str, target: str, label: str, policy: Policy,
            allow_older: bool = False, out=print, compatibility_gate: bool = True) -> environment.State:
    eb = clients.eb
    if source == target:
        raise DeployError(f"--from and --to both name {source}: promotion goes from one environment to another")
    versions.require_deployable(eb, app, label)
    if not ran_healthy(clients, app, source, label, policy.accept_warning):
        raise DeployError(f"{label} never ran healthy in {source}: release it there first (and let it soak); "
                          f"{target} takes only what {source} proved")
    before = ensure_ready(eb, app, target, policy, out)
    history.note(clients, app, before)
    if before.version == label and before.healthy:
        out(f"{target} already runs {label}, healthy: nothing to promote")
        return before
    if allow_older:
        out(f"{commits.OVERRIDE}: not checking that {label} comes after {before.version or '(none)'}")
    else:
        commits.require_not_older(root, label, before.version, target)
    if compatibility_gate:
        gate.check_release(root, before.version, out, new_label=label)
    out(f"promoting {label} from {source} to {target} (which runs {before.version or '(none)'})")
    state = go_live(clients, app, target, label, before, policy, out)
    out(f"promoted {label}: {state.line()}" + (f"; http://{state.cname}/" if state.cname else ""))
    return state
