"""API keys -> callers. Keys are looked up by their SHA-256 (api.keyring) and never logged."""

from __future__ import annotations

from dataclasses import dataclass

from matcher import policy
from matcher.model import Profile


@dataclass(frozen=True)
class Caller:
    role: str
    name: str | None
    entity_id: str | None
    region: str | None
    # What the caller's subscriptions and rate limit are kept by (api.keyring.FoundKey.owner).
    owner: str = ""

    @property
    def sees_everything(self) -> bool:
        return self.role == "staff" and self.region is None

    def may_see(self, profile: Profile) -> bool:
        """CONTRACT section 4: a company always sees its own profile."""
        if self.entity_id is not None and profile.id == self.entity_id:
            return True
        return self.may_see_policy(profile.data_policy)

    def may_see_member(self, member_id: str, data_policy: str) -> bool:
        """A partnership member: a company always sees itself."""
        return self.entity_id == member_id or self.may_see_policy(data_policy)

    def may_see_policy(self, data_policy: str) -> bool:
        return policy.may_see(viewer_region=self.region, data_policy=data_policy,
                              sees_everything=self.sees_everything)
