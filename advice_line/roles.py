"""Roles and what each may do at the level of whole features."""

from __future__ import annotations

import enum

from rota.tiers import Tier


class Role(enum.StrEnum):
    NURSE = "nurse"
    ADVISOR = "advisor"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class OrganisationKind(enum.StrEnum):
    HOME_CARE = "home_care"
    GP_PRACTICE = "gp_practice"
    HOSPITAL = "hospital"


ROLES = tuple(r.value for r in Role)
TIER_NAMES = tuple(t.value for t in Tier)
ORGANISATION_KINDS = tuple(k.value for k in OrganisationKind)

#: Roles that manage patients of their own organisation.
PATIENT_MANAGERS = frozenset({Role.NURSE, Role.COORDINATOR})
