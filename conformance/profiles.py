"""Profiles: how hard a run tries. Registered with Hypothesis and used explicitly.

Hypothesis loads its own `ci` profile when CI=true; kubeprop never relies on
the loaded profile: every run builds its settings from Hypothesis' defaults
plus the profile below, so a run means the same on a laptop and in CI.
"""

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "Profile", "hypothesis_settings"]


@attrs.frozen
class Profile:
    name: str
    max_examples: int
    steps: int
    derandomize: bool
    #: How many independent shards (each its own Hypothesis run) a level is split into.
    shards: int
    description: str
    #: Examples per level against a target without `clock` (a real cluster, where every
    #: wait is a wall-clock wait): few, since each costs seconds or minutes.
    realtime_examples: int = 8


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", 400, 40, False, 4, "a first look: two minutes or less on two cores"),
        Profile("ci", 1500, 50, True, 4, "derandomized, for gating: ten minutes or less", 20),
        Profile("thorough", 20000, 80, False, 8, "open-ended search", 200),
        Profile("mutants", 1000, 30, True, 1, "mutant kills: derandomized, no shrinking"),
    )
}


def hypothesis_settings(profile: Profile, *, shrink: bool = True) -> settings:
    phases = [Phase.explicit, Phase.generate, Phase.target]
    if shrink:
        phases.append(Phase.shrink)
    return settings(
        settings.get_profile("default"),
        max_examples=max(1, profile.max_examples // profile.shards),
        stateful_step_count=profile.steps,
        derandomize=profile.derandomize,
        deadline=None,
        database=None,
        phases=phases,
        report_multiple_bugs=False,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


for _p in PROFILES.values():
    settings.register_profile(f"kubeprop-{_p.name}", hypothesis_settings(_p))
