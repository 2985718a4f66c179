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


MEMBER_ROLES = ("chip", "algorithm", "application")
UNKNOWN_POLICY = "unknown"


def redact_partnership(data: dict, *, visible: Callable[[str, str], bool]) -> dict:
    """The Partnership with every member the viewer may not see reduced to {"redacted", "roles"}, and
    `project_id` null when the viewer may not see the project: the one redaction of every edge (API,
    public topic, SSE, webhooks).

    The policies travel in the data: each member's `data_policy` and the `project_data_policy`; a
    missing one counts as the strictest. `visible(id, data_policy)` decides; triad reasons speak
    only of sectors, never of a member.
    """
    out = dict(data)
    for role in MEMBER_ROLES:
        member = data.get(role)
        if isinstance(member, dict) and "id" in member and not visible(
                member["id"], member.get("data_policy", UNKNOWN_POLICY)):
            out[role] = {"redacted": True, "roles": list(member.get("roles", []))}
    if data.get("project_id") and not visible(data["project_id"], data.get("project_data_policy", UNKNOWN_POLICY)):
        out["project_id"] = None
        out.pop("project_data_policy", None)
    return out
