from django.db import models

from revline.core.models import TimeStampedModel


class Product(TimeStampedModel):
    name = models.CharField(max_length=150, unique=True)
    code = models.CharField(max_length=50, blank=True)
    series = models.CharField(max_length=100, blank=True, help_text="Product family.")
    description = models.TextField(blank=True)
    list_price = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    is_subscription = models.BooleanField(default=False)
    term_months = models.PositiveSmallIntegerField(
        default=12, help_text="Subscription term: a won deal renews after this many months."
    )
    active = models.BooleanField(default=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceBook(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


class PriceBookEntry(models.Model):
    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="entries")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["product__name"]
        constraints = [
            models.UniqueConstraint(fields=["price_book", "product"], name="pipeline_price_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.unit_price}"
