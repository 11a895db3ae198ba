from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from revline.org.choices import Access, Domain


class OrgScopedQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view") -> "OrgScopedQuerySet":
        """Only the records ``user`` may see (``action="view"``) or edit (``"change"``)."""
        from revline.org.visibility import record_visibility_q

        return self.filter(record_visibility_q(user, action, self.model))


class OrgScopedModel(models.Model):
    """Base of every business record owned by a position.

    Reads go through ``Model.objects.visible_to(user, action)``: DESIGN.md §4 and
    docs/permissions.md give the rules. ``visibility_domain`` says which org-wide roles see
    every record of the model regardless of the hierarchy.
    """

    visibility_domain: str = Domain.REVENUE

    owner_position = models.ForeignKey(
        "org.Position", on_delete=models.PROTECT, related_name="+", db_index=True
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class RecordShare(models.Model):
    """An explicit share of one record with one position (a manual sharing rule)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    position = models.ForeignKey("org.Position", on_delete=models.CASCADE, related_name="shares")
    access = models.CharField(max_length=10, choices=Access.choices, default=Access.VIEW)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "position"], name="org_share_unique"
            )
        ]
        indexes = [models.Index(fields=["position", "content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} -> {self.position_id} ({self.access})"
