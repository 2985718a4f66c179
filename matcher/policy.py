"""Cross-border data flow: which caller region may see a profile (CONTRACT section 4)."""

from __future__ import annotations

from collections.abc import Callable

GBA_REGIONS = frozenset(
    {"HK", "MO", "CN-HK", "CN-MO"}
    | {f"CN-GD-{city}" for city in ("GZ", "SZ", "ZH", "FS", "HZ", "DG", "ZS", "JM", "ZQ")}
)
DATA_POLICIES = ("open", "gba_only", "hk_only", "cn_only")


def in_gba(region: str | None) -> bool:
    return region in GBA_REGIONS


def in_hong_kong(region: str | None) -> bool:
    return region in ("HK", "CN-HK")


def on_mainland(region: str | None) -> bool:
    if region is None:
        return False
    return (region == "CN" or region.startswith("CN-")) and region not in ("CN-HK", "CN-MO")


def may_see(*, viewer_region: str | None, data_policy: str, sees_everything: bool = False) -> bool:
    """Whether a caller in `viewer_region` may see a profile published under `data_policy`.

    `sees_everything` is a staff key without a region. Any other caller without a region sees only
    open profiles. An unknown policy is treated as the strictest, never as open.
    """
    if sees_everything or data_policy == "open":
        return True
    if data_policy == "gba_only":
        return in_gba(viewer_region)
    if data_policy == "hk_only":
        return in_hong_kong(viewer_region)
    if data_policy == "cn_only":
        return on_mainland(viewer_region)
    return False


def visible_policies(*, viewer_region: str | None, sees_everything: bool = False) -> list[str]:
    """The data policies a viewer may see, as an engine filter."""
    return [p for p in DATA_POLICIES
            if may_see(viewer_region=viewer_region, data_policy=p, sees_everything=sees_everything)]


def redact_partnership(data: dict, policies: dict[str, str], *, visible: Callable[[str, str], bool]) -> dict:
    """The Partnership with every member the viewer may not see reduced to {"redacted", "roles"}, and
    its `project_id` set to null when `policies` holds the project's policy under "project" and the
    viewer may not see the project.

    `visible(id, data_policy)` decides; triad reasons speak only of sectors, never of a member.
    """
    out = dict(data)
    for role, data_policy in policies.items():
        if role == "project":
            if data.get("project_id") and not visible(data["project_id"], data_policy):
                out["project_id"] = None
            continue
        member = data.get(role)
        if isinstance(member, dict) and "id" in member and not visible(member["id"], data_policy):
            out[role] = {"redacted": True, "roles": list(member.get("roles", []))}
    return out
