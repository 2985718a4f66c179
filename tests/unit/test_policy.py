import pytest

from matcher.policy import may_see


@pytest.mark.parametrize(
    ("region", "policy", "visible"),
    [
        (None, "open", True), (None, "gba_only", False), (None, "hk_only", False), (None, "cn_only", False),
        ("US", "open", True), ("US", "gba_only", False),
        ("HK", "gba_only", True), ("CN-HK", "hk_only", True), ("HK", "cn_only", False),
        ("CN-GD-SZ", "gba_only", True), ("CN-GD-SZ", "cn_only", True), ("CN-GD-SZ", "hk_only", False),
        ("CN-GD", "gba_only", False), ("CN-GD", "cn_only", True), ("CN-BJ", "gba_only", False),
        ("MO", "gba_only", True), ("CN-MO", "cn_only", False), ("CN", "cn_only", True),
        ("SG", "cn_only", False), ("HK", "unknown_policy", False),
    ],
)
def test_region_against_data_policy(region, policy, visible):
    assert may_see(viewer_region=region, data_policy=policy) is visible


def test_staff_without_region_sees_everything():
    assert may_see(viewer_region=None, data_policy="hk_only", sees_everything=True)
