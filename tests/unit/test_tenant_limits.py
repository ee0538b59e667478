"""RENDER_TENANT_LIMITS as operators write it, and the mistakes that stop a process at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from render_core.settings import Settings
from render_core.tenant_limits import LARGEST_BATCH, Rate, TenantLimits


def test_named_tenants_get_their_limits_and_others_the_defaults() -> None:
    settings = Settings(
        tenant_limits="alpha:queued=200,rate=20/s,weight=2; beta:queued=50 ;gamma:rate=600/m",
        tenant_max_queued=1000,
        tenant_rate="50/s",
    )
    assert settings.limits_for("alpha") == TenantLimits(200, Rate(20.0, LARGEST_BATCH), 2.0)
    assert settings.limits_for("beta") == TenantLimits(50, Rate(50.0, LARGEST_BATCH), 1.0)
    assert settings.limits_for("gamma").rate == Rate(10.0, LARGEST_BATCH)
    assert settings.limits_for("anyone") == TenantLimits(1000, Rate(50.0, LARGEST_BATCH), 1.0)


def test_a_bucket_holds_a_second_of_tokens_but_never_less_than_a_batch() -> None:
    assert Rate.parse("500/s") == Rate(500.0, 500.0)
    assert Rate.parse("1/s") == Rate(1.0, 100.0)
    assert Rate.parse("1/s", burst=250) == Rate(1.0, 250.0)
    assert Rate.parse("3600/h").per_s == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "alpha:queud=3",  # a typo
        "alpha:queued=0",
        "alpha:weight=0",
        "alpha:rate=fast",
        "alpha:rate=0/s",
        "alpha:rate=5/s,burst=10",  # a batch of 100 could never pass
        "alpha queued=3",
        "alpha:queued=3;alpha:queued=4",
    ],
)
def test_mistakes_stop_the_settings(text: str) -> None:
    with pytest.raises(ValidationError):
        Settings(tenant_limits=text)


def test_metric_labels_are_the_configured_tenants_and_other() -> None:
    settings = Settings(api_keys="alpha:k1,beta:k2", tenant_limits="gamma:queued=5")
    assert settings.known_tenants == {"alpha", "beta", "gamma"}
    assert settings.tenant_label("beta") == "beta"
    assert settings.tenant_label("intruder") == "other"
    assert Settings(api_keys="").tenant_label("local") == "local"
